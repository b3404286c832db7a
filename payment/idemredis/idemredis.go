// Package idemredis is a payment.IdempotencyStore on Redis. A claim is
// SET key "p:<owner>" NX PX lease, so of concurrent deliveries of one
// notification exactly one gets the claim, across every process sharing
// the Redis; Complete and Release are compare-and-set scripts that act
// only for the claim's owner, so a delivery whose lease lapsed never frees
// or overwrites a later delivery's claim.
//
//	store := idemredis.New(rdb, "payments:idem:")
//	c, err := vnpay.New(vnpay.Config{..., Idempotency: store})
//
// Values: "p:<owner>" while a delivery is processed (expires after the
// lease), "d" once processed (expires after the keep period). Each key
// lives in one hash slot, so a Redis Cluster client works as well.
package idemredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/payment"
)

// Store is a payment.IdempotencyStore on a Redis client.
type Store struct {
	rdb    redis.Scripter
	prefix string
}

var _ payment.IdempotencyStore = (*Store)(nil)

// New returns a Store that keeps its keys under prefix in rdb (a
// *redis.Client, *redis.ClusterClient or *redis.Ring).
func New(rdb redis.Scripter, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

// Key is the Redis key of an idempotency key.
func (s *Store) Key(key string) string { return s.prefix + key }

// claim: SET NX; when taken, report the holder's state.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if v == 'd' then return 2 end
return 1`)

// complete: mark done if the owner holds the key or nobody does.
var completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0`)

// release: delete if the owner holds the key.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func ms(d time.Duration) (int64, error) {
	if d <= 0 {
		return 0, errors.New("idemredis: lease and keep must be positive")
	}
	n := d.Milliseconds()
	if n == 0 {
		n = 1
	}
	return n, nil
}

// Claim implements payment.IdempotencyStore.
func (s *Store) Claim(ctx context.Context, key, owner string, lease time.Duration) (payment.ClaimState, error) {
	px, err := ms(lease)
	if err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, errors.New("idemredis: empty owner")
	}
	n, err := claimScript.Run(ctx, s.rdb, []string{s.Key(key)}, "p:"+owner, px).Int()
	if err != nil {
		return 0, fmt.Errorf("idemredis: claim: %w", err)
	}
	switch n {
	case 0:
		return payment.ClaimNew, nil
	case 2:
		return payment.ClaimDone, nil
	}
	return payment.ClaimInProgress, nil
}

// Complete implements payment.IdempotencyStore.
func (s *Store) Complete(ctx context.Context, key, owner string, keep time.Duration) error {
	px, err := ms(keep)
	if err != nil {
		return err
	}
	n, err := completeScript.Run(ctx, s.rdb, []string{s.Key(key)}, "p:"+owner, px).Int()
	if err != nil {
		return fmt.Errorf("idemredis: complete: %w", err)
	}
	if n == 0 {
		return payment.ErrClaimLost
	}
	return nil
}

// Release implements payment.IdempotencyStore.
func (s *Store) Release(ctx context.Context, key, owner string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.Key(key)}, "p:"+owner).Err(); err != nil {
		return fmt.Errorf("idemredis: release: %w", err)
	}
	return nil
}
