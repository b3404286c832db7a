package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// FlushOptions tune FlushPrefix. The zero value is the tested default.
type FlushOptions struct {
	// Count is the SCAN COUNT hint (default 10000): large enough to move
	// fast, small enough that one SCAN blocks Redis for only milliseconds.
	Count int64
}

// ErrEmptyPrefix: FlushPrefix refuses "" (it would delete every key).
var ErrEmptyPrefix = errors.New("jwtkeys: refusing to flush an empty prefix")

// FlushPrefix deletes every key starting with prefix and returns how many it
// deleted. It is the incident-rotation step "flush auth:user_status:v1:*"
// (runbook §3.3), done safely: SCAN MATCH with a large COUNT and UNLINK
// (memory freed off the main thread), one SCAN and one UNLINK batch per
// round trip, never KEYS; Redis keeps serving other clients between batches.
// On a *redis.ClusterClient it runs on every master (ForEachMaster),
// unlinking key by key so no command spans two hash slots. Keys not under
// prefix are never touched: glob characters in prefix are escaped.
func FlushPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string, o FlushOptions) (int64, error) {
	if prefix == "" {
		return 0, ErrEmptyPrefix
	}
	if o.Count <= 0 {
		o.Count = 10000
	}
	match := globEscape(prefix) + "*"
	var total atomic.Int64
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return flushNode(ctx, node, match, prefix, o.Count, true, &total)
		})
	case *redis.Client:
		err = flushNode(ctx, c, match, prefix, o.Count, false, &total)
	default:
		return 0, fmt.Errorf("%w: FlushPrefix needs a *redis.Client or *redis.ClusterClient, got %T", ErrConfig, rdb)
	}
	if err != nil {
		return total.Load(), fmt.Errorf("jwtkeys: flush %q: %w (deleted %d keys before the error; rerun to finish)", prefix, err, total.Load())
	}
	return total.Load(), nil
}

func flushNode(ctx context.Context, c *redis.Client, match, prefix string, count int64, perKey bool, total *atomic.Int64) error {
	var cursor uint64
	var pending []string
	first := true
	for first || cursor != 0 || len(pending) > 0 {
		pipe := c.Pipeline()
		var unlinks []*redis.IntCmd
		if len(pending) > 0 {
			if perKey {
				for _, k := range pending {
					unlinks = append(unlinks, pipe.Unlink(ctx, k))
				}
			} else {
				unlinks = append(unlinks, pipe.Unlink(ctx, pending...))
			}
		}
		var scan *redis.ScanCmd
		if first || cursor != 0 {
			scan = pipe.Scan(ctx, cursor, match, count)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, u := range unlinks {
			total.Add(u.Val())
		}
		pending = pending[:0]
		if scan != nil {
			keys, next := scan.Val()
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) { // belt and braces over MATCH
					pending = append(pending, k)
				}
			}
			cursor = next
		}
		first = false
	}
	return nil
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
