// Package redisload is the traffic of a service under a Redis password
// rotation: writers and readers, a publisher, and a subscriber that moves to
// a new subscription (make before break) when its credentials' user
// changes, as a service using alternating users does. Every failed command
// is counted. The drill and redisauth's tests run it while they rotate.
package redisload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/redisauth"
)

// Load is running traffic. Its counters may be read while it runs.
type Load struct {
	ops, fails, published, received atomic.Int64

	mu   sync.Mutex
	errs []string // the first 10 failures

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start subscribes to prefix+"events" (so a broken subscription is an error
// here, not a silent zero) and starts four writer/reader loops on keys
// prefix+"{wN}:M" (one hash slot per loop, so it runs on a Cluster too), a
// publisher and the subscriber. creds is the service's credentials provider:
// the subscriber asks it every 100 ms which user the service now uses. The
// traffic runs until Stop or until ctx ends.
func Start(ctx context.Context, rdb redis.UniversalClient, creds redisauth.CredentialsFunc, prefix string) (*Load, error) {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel}
	channel := prefix + "events"
	user, _, err := creds(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("redisload: credentials: %w", err)
	}
	ps := rdb.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		cancel()
		return nil, fmt.Errorf("redisload: subscribe: %w", err)
	}
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("%s{w%d}:%d", prefix, w, i%50)
				if err := rdb.Set(ctx, k, i, time.Minute).Err(); err != nil && ctx.Err() == nil {
					l.fail("SET", err)
				}
				if err := rdb.Get(ctx, k).Err(); err != nil && ctx.Err() == nil {
					l.fail("GET", err)
				}
				l.ops.Add(2)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	l.wg.Add(2)
	go func() { // publisher
		defer l.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if err := rdb.Publish(ctx, channel, i).Err(); err != nil && ctx.Err() == nil {
				l.fail("PUBLISH", err)
			}
			l.published.Add(1)
			l.ops.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() { // subscriber
		defer l.wg.Done()
		ch := ps.Channel()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				ps.Close()
				return
			case <-ch:
				l.received.Add(1)
			case <-tick.C:
				u, _, err := creds(ctx)
				if err != nil || u == user {
					continue
				}
				next := rdb.Subscribe(ctx, channel)
				if _, err := next.Receive(ctx); err != nil {
					if ctx.Err() == nil {
						l.fail("SUBSCRIBE", err)
					}
					next.Close()
					continue
				}
				old := ps
				ps, user, ch = next, u, next.Channel()
				go func(c <-chan *redis.Message) { // what was in flight on the old one
					for range c {
						l.received.Add(1)
					}
				}(old.Channel())
				time.AfterFunc(200*time.Millisecond, func() { old.Close() })
			}
		}
	}()
	return l, nil
}

func (l *Load) fail(what string, err error) {
	l.fails.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, what+": "+err.Error())
	}
}

// Stop ends the traffic and waits for it. It may be called more than once.
func (l *Load) Stop() {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}

// Ops is the number of commands sent (SET, GET, PUBLISH).
func (l *Load) Ops() int64 { return l.ops.Load() }

// Fails is the number of commands that failed while the load was running.
func (l *Load) Fails() int64 { return l.fails.Load() }

// Published and Received count pub/sub messages.
func (l *Load) Published() int64 { return l.published.Load() }

// Received counts the messages the subscriber got, on any subscription.
func (l *Load) Received() int64 { return l.received.Load() }

// Errors returns the first failures (at most 10), "COMMAND: error".
func (l *Load) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}
