// Package redisreplay is a webhook.ReplayStore on Redis: a webhook-id is
// claimed with SET NX and a TTL, so two receivers (or two concurrent
// deliveries) never both process the same message.
//
//	rdb := redis.NewClient(opt)
//	v, err := webhook.NewVerifier(set, webhook.WithReplayStore(redisreplay.New(rdb, "bank-webhook:")))
//
// Keys are prefix + webhook-id, with the value "pending" while the message
// is processed and "done" after; both expire after the verifier's replay
// TTL (twice the timestamp tolerance plus a minute), after which the
// timestamp check refuses the message anyway.
//
// When Redis is unreachable the store returns the client's error; the
// verifier then refuses the message (fail closed, answered 503 so the
// sender retries) unless webhook.WithReplayFailOpen is set.
package redisreplay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/payment/webhook"
)

// Store is a webhook.ReplayStore on a Redis client.
type Store struct {
	rdb    redis.Cmdable
	prefix string
}

var _ webhook.ReplayStore = (*Store)(nil)

// New returns a Store that keeps its keys under prefix (e.g.
// "bank-webhook:") in rdb (a *redis.Client, *redis.ClusterClient or ring).
func New(rdb redis.Cmdable, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

const (
	pending = "pending"
	done    = "done"
)

// Key is the Redis key of id.
func (s *Store) Key(id string) string { return s.prefix + id }

// Claim implements webhook.ReplayStore with SET key "pending" NX EX ttl.
func (s *Store) Claim(ctx context.Context, id string, ttl time.Duration) (webhook.ClaimState, error) {
	if ttl <= 0 {
		return 0, errors.New("redisreplay: claim TTL must be positive")
	}
	key := s.Key(id)
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, key, pending, ttl).Result()
		if err != nil {
			return 0, fmt.Errorf("redisreplay: SET NX: %w", err)
		}
		if ok {
			return webhook.ClaimNew, nil
		}
		v, err := s.rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue // expired or released in between: claim again
		case err != nil:
			return 0, fmt.Errorf("redisreplay: GET: %w", err)
		case v == done:
			return webhook.ClaimDone, nil
		default:
			return webhook.ClaimInProgress, nil
		}
	}
	return webhook.ClaimInProgress, nil
}

// Complete implements webhook.ReplayStore: the key becomes "done" for ttl.
func (s *Store) Complete(ctx context.Context, id string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.Key(id), done, ttl).Err(); err != nil {
		return fmt.Errorf("redisreplay: SET: %w", err)
	}
	return nil
}

// Release implements webhook.ReplayStore: the key is deleted.
func (s *Store) Release(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.Key(id)).Err(); err != nil {
		return fmt.Errorf("redisreplay: DEL: %w", err)
	}
	return nil
}
