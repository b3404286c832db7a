package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// StatusCache checks a subject's status: first in a small in-process cache
// (LocalTTL, default 1 s), then in Redis, filling misses from a loader. It
// never allows a request whose status is unknown: Redis failing means the
// loader is asked directly (and Observer.StatusCacheError is told); loader
// failing too means ErrStatusUnavailable (503).
//
// Redis is bounded: every Redis call gets its own deadline (Timeout,
// default 50 ms) whatever the client's own timeouts and the request's
// context say, and after BreakerFailures consecutive failures (default 5) a
// circuit breaker sends every check straight to the loader for
// BreakerCooldown (default 5 s), then lets one probe through. So with Redis
// down or hung a check costs at most the loader's latency plus Timeout.
type StatusCache struct {
	rdb     redis.UniversalClient
	load    StatusLoader
	prefix  string
	ttl     time.Duration
	obs     Observer
	timeout time.Duration
	now     func() time.Time
	brk     breaker
	local   *localCache
}

// StatusOptions configure a StatusCache. The zero value is valid.
type StatusOptions struct {
	Prefix   string        // key prefix (default DefaultStatusPrefix)
	TTL      time.Duration // Redis cache lifetime (default 5 min)
	Observer Observer
	// Timeout bounds each Redis call (default 50 ms).
	Timeout time.Duration
	// BreakerFailures consecutive Redis failures open the circuit (default
	// 5); BreakerCooldown is how long it stays open (default 5 s).
	BreakerFailures int
	BreakerCooldown time.Duration
	// LocalTTL is how long a status is kept in process (default 1 s;
	// negative: no in-process cache). A user disabled in the database is
	// refused at most LocalTTL later on an instance that cached them as
	// active (Invalidate clears this instance at once). LocalSize bounds the
	// entries (default 10000).
	LocalTTL  time.Duration
	LocalSize int
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Defaults for StatusOptions.
const (
	DefaultStatusTimeout   = 50 * time.Millisecond
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 5 * time.Second
	DefaultLocalTTL        = time.Second
	DefaultLocalSize       = 10000
)

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
	if o.Timeout <= 0 {
		o.Timeout = DefaultStatusTimeout
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	if o.LocalTTL == 0 {
		o.LocalTTL = DefaultLocalTTL
	}
	if o.LocalSize <= 0 {
		o.LocalSize = DefaultLocalSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &StatusCache{rdb: rdb, load: load, prefix: o.Prefix, ttl: o.TTL, obs: o.Observer, timeout: o.Timeout, now: o.Now,
		brk: breaker{threshold: o.BreakerFailures, cooldown: o.BreakerCooldown}}
	if o.LocalTTL > 0 {
		c.local = &localCache{ttl: o.LocalTTL, size: o.LocalSize, m: map[string]localEntry{}}
	}
	return c
}

// Prefix returns the key prefix (for FlushPrefix).
func (c *StatusCache) Prefix() string { return c.prefix }

// Check returns nil when sub is active, a *VerifyError with ErrUserDisabled
// when disabled, and one with ErrStatusUnavailable when neither Redis nor
// the loader could answer.
func (c *StatusCache) Check(ctx context.Context, sub string) error {
	now := c.now()
	if c.local != nil {
		if disabled, ok := c.local.get(sub, now); ok {
			return c.decide(UserStatus{Disabled: disabled})
		}
	}
	key := c.prefix + sub
	if !c.brk.allow(now) {
		return c.fromLoader(ctx, sub, now, "", false)
	}
	var v string
	err := c.bounded(ctx, func(ctx context.Context) error {
		var err error
		v, err = c.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	if err != nil {
		c.fail(now, fmt.Errorf("jwtkeys: status cache GET: %w", err))
		return c.fromLoader(ctx, sub, now, "", false)
	}
	c.brk.result(true, now)
	switch v {
	case statusActive:
		c.remember(sub, false, now)
		return nil
	case statusDisabled:
		c.remember(sub, true, now)
		return c.refuse(ReasonUserDisabled, nil)
	}
	return c.fromLoader(ctx, sub, now, key, true)
}

// fromLoader asks the loader and, when setKey, writes the answer to Redis.
func (c *StatusCache) fromLoader(ctx context.Context, sub string, now time.Time, key string, setKey bool) error {
	st, err := c.load(ctx, sub)
	if err != nil {
		return c.refuse(ReasonStatusUnavailable, err)
	}
	c.remember(sub, st.Disabled, now)
	if setKey && c.brk.allow(now) {
		val := statusActive
		if st.Disabled {
			val = statusDisabled
		}
		if err := c.bounded(ctx, func(ctx context.Context) error { return c.rdb.Set(ctx, key, val, c.ttl).Err() }); err != nil {
			c.fail(now, fmt.Errorf("jwtkeys: status cache SET: %w", err))
		} else {
			c.brk.result(true, now)
		}
	}
	return c.decide(st)
}

func (c *StatusCache) remember(sub string, disabled bool, now time.Time) {
	if c.local != nil {
		c.local.put(sub, disabled, now)
	}
}

func (c *StatusCache) fail(now time.Time, err error) {
	c.brk.result(false, now)
	c.obs.StatusCacheError(err)
}

// errRedisDeadline: the Redis call did not answer within Timeout.
var errRedisDeadline = errors.New("no answer within the status cache timeout")

// bounded runs op with a context that ends after c.timeout and returns at
// that time even if op does not (a hung server, a client whose own read
// timeout is longer): op finishes in the background.
func (c *StatusCache) bounded(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- op(ctx)
	}()
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errRedisDeadline
	}
}

// RedisHealth is the status cache's view of Redis, for readiness checks,
// as WatchHealth is the keyring watcher's.
type RedisHealth struct {
	// Breaker is "ok", "failing" (recent failures, circuit still closed) or
	// "open" (circuit open: checks go to the loader without Redis).
	Breaker  string
	Failures int       // consecutive failures
	OpenedAt time.Time // when the circuit last opened (zero if never)
}

// Ping checks Redis within Timeout (for readiness) and feeds the result to
// the circuit breaker.
func (c *StatusCache) Ping(ctx context.Context) error {
	err := c.bounded(ctx, func(ctx context.Context) error { return c.rdb.Ping(ctx).Err() })
	if err != nil {
		c.brk.result(false, c.now())
		return fmt.Errorf("jwtkeys: status cache PING: %w", err)
	}
	c.brk.result(true, c.now())
	return nil
}

// RedisHealth reports Redis as the status cache sees it.
func (c *StatusCache) RedisHealth() RedisHealth {
	return c.brk.state(c.now())
}

// breaker is a consecutive-failure circuit breaker with one half-open
// probe at a time.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	fails     int
	openUntil time.Time
	openedAt  time.Time
	probing   bool
}

func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails < b.threshold {
		return true
	}
	if now.Before(b.openUntil) || b.probing {
		return false
	}
	b.probing = true // half-open: this call is the probe
	return true
}

func (b *breaker) result(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.fails = 0
		return
	}
	b.fails++
	if b.fails >= b.threshold {
		if !now.Before(b.openUntil) {
			b.openedAt = now
		}
		b.openUntil = now.Add(b.cooldown)
	}
}

func (b *breaker) state(now time.Time) RedisHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := RedisHealth{Breaker: "ok", Failures: b.fails, OpenedAt: b.openedAt}
	switch {
	case b.fails >= b.threshold:
		st.Breaker = "open"
	case b.fails > 0:
		st.Breaker = "failing"
	}
	return st
}

// localCache is a small in-process TTL cache of statuses.
type localCache struct {
	ttl  time.Duration
	size int
	mu   sync.RWMutex
	m    map[string]localEntry
}

type localEntry struct {
	disabled bool
	until    int64 // unix nanoseconds
}

func (l *localCache) get(sub string, now time.Time) (disabled, ok bool) {
	l.mu.RLock()
	e, ok := l.m[sub]
	l.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until {
		return false, false
	}
	return e.disabled, true
}

func (l *localCache) put(sub string, disabled bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= l.size {
		// Full: drop the expired entries, or half of them if none is.
		n := now.UnixNano()
		for k, e := range l.m {
			if n >= e.until {
				delete(l.m, k)
			}
		}
		for k := range l.m {
			if len(l.m) < l.size/2 {
				break
			}
			delete(l.m, k)
		}
	}
	l.m[sub] = localEntry{disabled: disabled, until: now.Add(l.ttl).UnixNano()}
}

func (l *localCache) drop(sub string) {
	l.mu.Lock()
	delete(l.m, sub)
	l.mu.Unlock()
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

// Invalidate deletes sub's cached status (after disabling a user): in
// this process at once, and in Redis (bounded by Timeout). Other
// instances may serve their in-process entry for up to LocalTTL.
func (c *StatusCache) Invalidate(ctx context.Context, sub string) error {
	if c.local != nil {
		c.local.drop(sub)
	}
	return c.bounded(ctx, func(ctx context.Context) error { return c.rdb.Unlink(ctx, c.prefix+sub).Err() })
}
