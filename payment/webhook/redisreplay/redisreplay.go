// Package redisreplay is the former home of the Redis store for webhook
// de-duplication, kept so that existing code compiles.
//
// Deprecated: use payment/idemredis, whose store every payment handler
// (VNPay, MoMo, ZaloPay, Standard Webhooks, Casso, PayOS) accepts.
package redisreplay

import (
	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/payment/idemredis"
)

// Store is idemredis.Store.
//
// Deprecated: use idemredis.Store.
type Store = idemredis.Store

// New is idemredis.New.
//
// Deprecated: use idemredis.New.
func New(rdb redis.Scripter, prefix string) *Store { return idemredis.New(rdb, prefix) }
