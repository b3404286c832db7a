package jwtkeys

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
)

// privateRedis starts a redis-server of the test's own (so ACL changes do
// not reach the shared Redis).
func privateRedis(t *testing.T) *redisserver.Server {
	t.Helper()
	s, err := redisserver.Start(t.TempDir(), redisserver.Options{})
	if errors.Is(err, redisserver.ErrNoServer) && !testsvc.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// The scan and the unlinkers run concurrently: an UNLINK refused by the
// server must stop the whole flush with that error (no hang, no panic),
// report what was deleted, and leave the rest; a cancelled context the
// same; and a pool of one connection must still work (the scan and the
// unlinkers take turns).
func TestFlushPrefixErrors(t *testing.T) {
	s := privateRedis(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer admin.Close()
	const prefix = "auth:user_status:v1:"
	fill(t, admin, prefix, 20000)

	// A user that may SCAN but not UNLINK.
	if err := admin.Do(ctx, "ACL", "SETUSER", "scanner", "on", ">scanner-pw", "~*", "+@connection", "+scan").Err(); err != nil {
		t.Fatal(err)
	}
	ro := redis.NewClient(&redis.Options{Addr: s.Addr, Username: "scanner", Password: "scanner-pw"})
	defer ro.Close()
	done := make(chan struct{})
	var n int64
	var err error
	go func() {
		defer close(done)
		n, err = FlushPrefix(ctx, ro, prefix, FlushOptions{Count: 500, Batch: 100})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("FlushPrefix hangs after a refused UNLINK")
	}
	if err == nil || !strings.Contains(err.Error(), "NOPERM") || n != 0 {
		t.Fatalf("refused UNLINK: n=%d err=%v, want 0 and the NOPERM error", n, err)
	}
	if left := countKeys(t, admin, prefix+"*"); left != 20000 {
		t.Fatalf("%d of 20000 keys left after a refused flush", left)
	}

	// Cancelled midway: stops with the context's error; a rerun finishes.
	cctx, cancel := context.WithCancel(ctx)
	one := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 1})
	defer one.Close()
	one.AddHook(cancelAfter{n: 20, calls: new(atomic.Int64), cancel: cancel})
	n, err = FlushPrefix(cctx, one, prefix, FlushOptions{Count: 200, Batch: 50})
	if !errors.Is(err, context.Canceled) || n <= 0 || n >= 20000 {
		t.Fatalf("cancelled flush: n=%d err=%v, want some keys deleted and context.Canceled", n, err)
	}
	if left := countKeys(t, admin, prefix+"*"); left != 20000-int(n) {
		t.Fatalf("cancelled flush reported %d deleted, %d keys left of 20000", n, left)
	}
	m, err := FlushPrefix(ctx, one, prefix, FlushOptions{Count: 200, Batch: 50})
	if err != nil || n+m != 20000 {
		t.Fatalf("rerun on a pool of one: %d more, err %v; want %d", m, err, 20000-n)
	}
	if left := countKeys(t, admin, prefix+"*"); left != 0 {
		t.Fatalf("%d keys left after the rerun", left)
	}
}

// cancelAfter cancels the context once n commands have been processed.
type cancelAfter struct {
	n      int64
	calls  *atomic.Int64
	cancel context.CancelFunc
}

func (h cancelAfter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h cancelAfter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h cancelAfter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if h.calls.Add(1) == h.n {
			h.cancel()
		}
		return err
	}
}
