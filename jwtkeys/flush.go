package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// FlushOptions tune FlushPrefix. The zero value is the tested default,
// chosen so that the flush runs close to Redis's own SCAN+UNLINK time while
// other clients' commands still wait only milliseconds (BENCHMARKS.md).
type FlushOptions struct {
	// Count is the SCAN COUNT hint (default 5000): how many hash buckets
	// one SCAN visits. Larger moves faster per round trip; each SCAN blocks
	// Redis for that long (a few milliseconds at 5000).
	Count int64
	// Batch is the most keys one UNLINK carries (default 1000). Keys from
	// consecutive SCANs are gathered into batches of this size.
	Batch int
	// InFlight is how many UNLINK batches may be outstanding at once, each
	// on its own pooled connection, while the next SCAN runs (default 2).
	// Redis then always has work queued, and the flush needs at most
	// InFlight+1 connections from the client's pool.
	InFlight int
}

const (
	defaultFlushCount    = 5000
	defaultFlushBatch    = 1000
	defaultFlushInFlight = 2
)

// ErrEmptyPrefix: FlushPrefix refuses "" (it would delete every key).
var ErrEmptyPrefix = errors.New("jwtkeys: refusing to flush an empty prefix")

// FlushPrefix deletes every key starting with prefix and returns how many it
// deleted. It is the incident-rotation step "flush auth:user_status:v1:*"
// (runbook §3.3), done safely: SCAN MATCH and UNLINK (never KEYS), in
// bounded commands so Redis keeps serving other clients between them. One
// connection walks the keyspace with SCAN while up to o.InFlight others
// UNLINK the keys already found, so Redis is never idle waiting for the
// client. On a *redis.ClusterClient it runs on every master
// (ForEachMaster), unlinking key by key so no command spans two hash
// slots. Keys not under prefix are never touched: glob characters in
// prefix are escaped. On error it stops and reports how many keys it had
// deleted; running it again finishes the job.
func FlushPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string, o FlushOptions) (int64, error) {
	if prefix == "" {
		return 0, ErrEmptyPrefix
	}
	if o.Count <= 0 {
		o.Count = defaultFlushCount
	}
	if o.Batch <= 0 {
		o.Batch = defaultFlushBatch
	}
	if o.InFlight <= 0 {
		o.InFlight = defaultFlushInFlight
	}
	match := globEscape(prefix) + "*"
	var total atomic.Int64
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return flushNode(ctx, node, match, prefix, o, true, &total)
		})
	case *redis.Client:
		err = flushNode(ctx, c, match, prefix, o, false, &total)
	default:
		return 0, fmt.Errorf("%w: FlushPrefix needs a *redis.Client or *redis.ClusterClient, got %T", ErrConfig, rdb)
	}
	if err != nil {
		return total.Load(), fmt.Errorf("jwtkeys: flush %q: %w (deleted %d keys before the error; rerun to finish)", prefix, err, total.Load())
	}
	return total.Load(), nil
}

// flushNode scans one node on the calling goroutine and hands batches of at
// most o.Batch keys to o.InFlight unlinking goroutines through a queue that
// holds about one SCAN reply's worth of batches: the next SCAN is already
// running in Redis while the keys of the previous one are unlinked, and the
// scan waits when the queue is full, so memory stays bounded (queue +
// InFlight batches).
func flushNode(ctx context.Context, c *redis.Client, match, prefix string, o FlushOptions, perKey bool, total *atomic.Int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []string, queuedBatches(o))
	var wg sync.WaitGroup
	for range o.InFlight {
		wg.Go(func() {
			for keys := range batches {
				n, err := unlinkBatch(ctx, c, keys, perKey)
				total.Add(n)
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	send := func(keys []string) bool {
		select {
		case batches <- keys:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var cursor uint64
	pending := make([]string, 0, o.Batch)
scan:
	for {
		keys, next, err := c.Scan(ctx, cursor, match, o.Count).Result()
		if err != nil {
			cancel(err)
			break
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) { // belt and braces over MATCH
				continue
			}
			pending = append(pending, k)
			if len(pending) == o.Batch {
				if !send(pending) {
					break scan
				}
				pending = make([]string, 0, o.Batch)
			}
		}
		if cursor = next; cursor == 0 {
			if len(pending) > 0 {
				send(pending)
			}
			break
		}
	}
	close(batches)
	wg.Wait()
	return context.Cause(ctx)
}

// queuedBatches is the capacity of flushNode's queue: one SCAN reply's worth
// of batches (a SCAN of COUNT buckets returns about COUNT keys or fewer on
// a table at most 100% full), at least 1 and at most 64.
func queuedBatches(o FlushOptions) int {
	return int(min(max(o.Count/int64(o.Batch), 1), 64))
}

// unlinkBatch unlinks keys in one command, or (perKey, for a cluster node)
// in one pipeline of single-key UNLINKs, and returns how many were deleted.
func unlinkBatch(ctx context.Context, c *redis.Client, keys []string, perKey bool) (int64, error) {
	if !perKey {
		return c.Unlink(ctx, keys...).Result()
	}
	pipe := c.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	_, err := pipe.Exec(ctx)
	var n int64
	for _, u := range cmds {
		n += u.Val()
	}
	return n, err
}

// globEscape escapes Redis glob metacharacters so prefix matches literally.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
