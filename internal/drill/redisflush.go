package drill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
)

// redisFlush runs the §3.3 incident step on a real Redis: flush a
// user-status prefix (under a drill-only namespace) and check that other keys
// survive.
func redisFlush(ctx context.Context, o *Options, p *Phase) error {
	if o.RedisURL == "" {
		return skip(p, "no Redis: set REDIS_URL or --redis-url-file")
	}
	rdb, err := redisClient(ctx, o.RedisURL)
	var u errUnreachable
	if errors.As(err, &u) {
		return absent(p, o.RedisConfigured, u, "Redis (REDIS_URL)")
	}
	if err != nil {
		return err
	}
	defer rdb.Close()
	ns, err := keygen.New(keygen.DB)
	if err != nil {
		return err
	}
	base := "rotation-drill:" + ns[:12] + ":"
	prefix := base + jwtkeys.DefaultStatusPrefix
	const sessions, others = 20000, 2000
	pipe := rdb.Pipeline()
	for i := 0; i < sessions; i++ {
		pipe.Set(ctx, prefix+strconv.Itoa(i), `{"disabled":false}`, time.Hour)
	}
	for i := 0; i < others; i++ {
		pipe.Set(ctx, base+"queue:"+strconv.Itoa(i), "job", time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	defer func() { // remove the drill's other keys
		_, _ = jwtkeys.FlushPrefix(context.Background(), rdb, base, jwtkeys.FlushOptions{})
	}()
	p.Event("Redis: %d user-status keys and %d other keys written under a drill namespace", sessions, others)
	start := time.Now()
	n, err := jwtkeys.FlushPrefix(ctx, rdb, prefix, jwtkeys.FlushOptions{})
	took := time.Since(start)
	if err != nil {
		return err
	}
	seen := map[string]bool{} // SCAN may return a key twice
	iter := rdb.Scan(ctx, 0, base+"queue:*", 1000).Iterator()
	for iter.Next(ctx) {
		seen[iter.Val()] = true
	}
	survivors := len(seen)
	if err := iter.Err(); err != nil {
		return err
	}
	p.Event("Redis: user-status prefix flushed (%d keys)", n)
	p.Fact("Flushed %d user-status keys in %s (%.0f keys/s) with SCAN + UNLINK; %d of %d other keys survived", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), survivors, others)
	if n != sessions || survivors != others {
		return fmt.Errorf("flush removed %d of %d session keys and left %d of %d other keys", n, sessions, survivors, others)
	}
	return nil
}
