package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultStatusPrefix is the runbook's USER_STATUS_CACHE_PREFIX.
const DefaultStatusPrefix = "auth:user_status:v1:"

// UserStatus is what the status cache knows about a subject.
type UserStatus struct {
	Disabled bool
}

// Cached values. Anything else in the key is treated as a miss and reloaded.
const (
	statusActive   = "active"
	statusDisabled = "disabled"
)

// StatusLoader returns the authoritative status of sub (usually from the
// database). An error means the status is unknown.
type StatusLoader func(ctx context.Context, sub string) (UserStatus, error)

// StatusCache checks a subject's status through Redis, filling misses from
// a loader. It never allows a request whose status is unknown: Redis down
// means the loader is asked directly (and Observer.StatusCacheError is
// told); loader down too means ErrStatusUnavailable (503).
type StatusCache struct {
	rdb    redis.UniversalClient
	load   StatusLoader
	prefix string
	ttl    time.Duration
	obs    Observer
}

// StatusOptions configure a StatusCache.
type StatusOptions struct {
	Prefix   string        // key prefix (default DefaultStatusPrefix)
	TTL      time.Duration // cache lifetime (default 5 min)
	Observer Observer
}

// NewStatusCache returns a cache over rdb (a *redis.Client or
// *redis.ClusterClient) filled by load.
func NewStatusCache(rdb redis.UniversalClient, load StatusLoader, o StatusOptions) *StatusCache {
	if o.Prefix == "" {
		o.Prefix = DefaultStatusPrefix
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	return &StatusCache{rdb: rdb, load: load, prefix: o.Prefix, ttl: o.TTL, obs: o.Observer}
}

// Prefix returns the key prefix (for FlushPrefix).
func (c *StatusCache) Prefix() string { return c.prefix }

// Check returns nil when sub is active, a *VerifyError with ErrUserDisabled
// when disabled, and one with ErrStatusUnavailable when neither Redis nor
// the loader could answer.
func (c *StatusCache) Check(ctx context.Context, sub string) error {
	key := c.prefix + sub
	v, err := c.rdb.Get(ctx, key).Result()
	switch {
	case err == nil && v == statusActive:
		return nil
	case err == nil && v == statusDisabled:
		return c.refuse(ReasonUserDisabled, nil)
	case err != nil && !errors.Is(err, redis.Nil):
		c.obs.StatusCacheError(fmt.Errorf("jwtkeys: status cache GET: %w", err))
		st, lerr := c.load(ctx, sub)
		if lerr != nil {
			return c.refuse(ReasonUnavailable, lerr)
		}
		return c.decide(st)
	}
	st, err := c.load(ctx, sub)
	if err != nil {
		return c.refuse(ReasonUnavailable, err)
	}
	val := statusActive
	if st.Disabled {
		val = statusDisabled
	}
	if err := c.rdb.Set(ctx, key, val, c.ttl).Err(); err != nil {
		c.obs.StatusCacheError(fmt.Errorf("jwtkeys: status cache SET: %w", err))
	}
	return c.decide(st)
}

func (c *StatusCache) decide(st UserStatus) error {
	if st.Disabled {
		return c.refuse(ReasonUserDisabled, nil)
	}
	return nil
}

func (c *StatusCache) refuse(r Reason, cause error) error {
	c.obs.Refused(Access, r)
	return &VerifyError{Ring: Access, Reason: r, Err: reasonErr[r], Cause: cause}
}

// Invalidate deletes sub's cached status (after disabling a user).
func (c *StatusCache) Invalidate(ctx context.Context, sub string) error {
	return c.rdb.Unlink(ctx, c.prefix+sub).Err()
}
