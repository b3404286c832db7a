package idemredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/idemredis"
	"github.com/goodgo/rotation/payment/internal/idem/storetest"
)

func TestContractRedis(t *testing.T) {
	r := testsvc.NewRedis(t)
	storetest.Run(t, idemredis.New(r.Client, r.Prefix), "")
}

func TestContractRedisCluster(t *testing.T) {
	c := testsvc.NewRedisCluster(t)
	storetest.Run(t, idemredis.New(c.Client, "idem:"), "")
}

func TestKeysLiveUnderThePrefixWithExpiry(t *testing.T) {
	r := testsvc.NewRedis(t)
	s := idemredis.New(r.Client, r.Prefix)
	ctx := context.Background()
	if _, err := s.Claim(ctx, "vnpay:T:1", "o1", time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := r.Client.PTTL(ctx, r.Prefix+"vnpay:T:1").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL = %v, %v; want the lease", ttl, err)
	}
	if err := s.Complete(ctx, "vnpay:T:1", "o1", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	ttl, _ = r.Client.PTTL(ctx, r.Prefix+"vnpay:T:1").Result()
	if ttl < 47*time.Hour {
		t.Fatalf("PTTL after Complete = %v, want the keep period", ttl)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	_, err := idemredis.New(rdb, "x:").Claim(context.Background(), "k", "o", time.Minute)
	if err == nil {
		t.Fatal("Claim on a dead Redis succeeded")
	}
	if errors.Is(err, payment.ErrClaimLost) {
		t.Fatalf("unexpected %v", err)
	}
}
