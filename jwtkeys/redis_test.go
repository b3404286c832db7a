package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/testsvc"
)

type loaderRec struct {
	calls    atomic.Int64
	disabled map[string]bool
	err      error
}

func (l *loaderRec) load(_ context.Context, sub string) (UserStatus, error) {
	l.calls.Add(1)
	if l.err != nil {
		return UserStatus{}, l.err
	}
	return UserStatus{Disabled: l.disabled[sub]}, nil
}

// deadRedis is a client on a port where nothing listens.
func deadRedis(t *testing.T) *redis.Client { return deadRedisB(t) }

func deadRedisB(t testing.TB) *redis.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStatusCacheRedis(t *testing.T) {
	r := testsvc.NewRedis(t)
	ctx := context.Background()
	obs := newRec()
	l := &loaderRec{disabled: map[string]bool{"bad": true}}
	prefix := r.Prefix + DefaultStatusPrefix
	c := NewStatusCache(r.Client, l.load, StatusOptions{Prefix: prefix, TTL: time.Minute, Observer: obs, LocalTTL: -1})

	if err := c.Check(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	if l.calls.Load() != 1 {
		t.Fatalf("loader calls on miss = %d", l.calls.Load())
	}
	v, err := r.Client.Get(ctx, prefix+"good").Result()
	if err != nil || v != "active" {
		t.Fatalf("cached value %q %v", v, err)
	}
	if ttl := r.Client.TTL(ctx, prefix+"good").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL = %v", ttl)
	}
	if err := c.Check(ctx, "good"); err != nil || l.calls.Load() != 1 {
		t.Fatalf("hit: %v, loader calls %d", err, l.calls.Load())
	}
	if err := c.Check(ctx, "bad"); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if err := c.Check(ctx, "bad"); !errors.Is(err, ErrUserDisabled) || l.calls.Load() != 2 {
		t.Fatalf("disabled (cached): %v, calls %d", err, l.calls.Load())
	}
	// The key is exactly prefix+sub (runbook's auth:user_status:v1:<sub>).
	if n := r.Client.Exists(ctx, prefix+"bad").Val(); n != 1 {
		t.Error("key auth:user_status:v1:bad not written")
	}
	// A disabled flag set by the app is honoured without the loader.
	r.Client.Set(ctx, prefix+"good", "disabled", time.Minute)
	if err := c.Check(ctx, "good"); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("after app disabled: %v", err)
	}
	if err := c.Invalidate(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "good"); err != nil || l.calls.Load() != 3 {
		t.Fatalf("after invalidate: %v calls %d", err, l.calls.Load())
	}
	if obs.refusedN(ReasonUserDisabled) != 3 {
		t.Errorf("refused user_disabled = %d", obs.refusedN(ReasonUserDisabled))
	}
}

func TestStatusCacheRedisDown(t *testing.T) {
	ctx := context.Background()
	obs := newRec()
	l := &loaderRec{disabled: map[string]bool{"bad": true}}
	c := NewStatusCache(deadRedis(t), l.load, StatusOptions{Observer: obs, LocalTTL: -1})
	if err := c.Check(ctx, "good"); err != nil {
		t.Fatalf("Redis down, loader up: %v", err)
	}
	if err := c.Check(ctx, "bad"); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("Redis down, disabled: %v", err)
	}
	if l.calls.Load() != 2 || len(obs.cacheErr) != 2 {
		t.Fatalf("loader calls %d, reported cache errors %d", l.calls.Load(), len(obs.cacheErr))
	}
	l.err = errors.New("db down")
	err := c.Check(ctx, "good")
	if !errors.Is(err, ErrStatusUnavailable) {
		t.Fatalf("both down: %v", err)
	}
}

func TestMiddlewareStatusCheck(t *testing.T) {
	r := testsvc.NewRedis(t)
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil)
	l := &loaderRec{disabled: map[string]bool{"bad": true}}
	serve := func(c *StatusCache, sub string) *httptest.ResponseRecorder {
		h := svc.Middleware(MiddlewareOptions{Status: c})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		p, _ := svc.Issue(sub, appClaims{})
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+p.Access)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	live := NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix})
	if rec := serve(live, "good"); rec.Code != 204 {
		t.Fatalf("active user: %d", rec.Code)
	}
	rec := serve(live, "bad")
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("disabled user: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	down := NewStatusCache(deadRedis(t), (&loaderRec{err: errors.New("db down")}).load, StatusOptions{})
	if rec := serve(down, "good"); rec.Code != 503 {
		t.Fatalf("Redis and loader down: %d, want 503 (never allow)", rec.Code)
	}
}

// fill writes n keys under prefix in pipelined batches.
func fill(t testing.TB, c redis.UniversalClient, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		pipe := c.Pipeline()
		for j := i; j < i+1000 && j < n; j++ {
			pipe.Set(ctx, fmt.Sprintf("%s%d", prefix, j), "active", time.Hour)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func countKeys(t testing.TB, c redis.UniversalClient, match string) int {
	t.Helper()
	ctx := context.Background()
	var n atomic.Int64
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, match, 10000).Iterator()
		for it.Next(ctx) {
			n.Add(1)
		}
		return it.Err()
	}
	var err error
	switch cc := c.(type) {
	case *redis.ClusterClient:
		err = cc.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, cc)
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

func TestFlushPrefixRedis(t *testing.T) {
	r := testsvc.NewRedis(t)
	ctx := context.Background()
	target := r.Prefix + "auth:user_status:v1:"
	fill(t, r.Client, target, 30000)
	fill(t, r.Client, r.Prefix+"auth:user_status:v2:", 3000) // other keys
	fill(t, r.Client, r.Prefix+"auth:user_status:v1", 10)    // no colon: not under the prefix
	r.Client.Set(ctx, r.Prefix+"auth:user_status:v1:*lit[er]al?", "x", time.Hour)

	// PING latency while flushing: Redis must stay responsive.
	stop := make(chan struct{})
	var maxPing time.Duration
	var pings int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			if err := r.Client.Ping(ctx).Err(); err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(t0); d > maxPing {
				maxPing = d
			}
			pings++
			time.Sleep(time.Millisecond)
		}
	}()
	// COUNT 2000 gives ~18 SCAN rounds over 36k keys: Redis must answer
	// PINGs between them (one KEYS or one giant UNLINK would block them all).
	n, err := FlushPrefix(ctx, r.Client, target, FlushOptions{Count: 2000})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != 30001 {
		t.Fatalf("flushed %d, want 30001", n)
	}
	if left := countKeys(t, r.Client, target+"*"); left != 0 {
		t.Fatalf("%d keys left under the prefix", left)
	}
	if kept := countKeys(t, r.Client, r.Prefix+"auth:user_status:v2:*"); kept != 3000 {
		t.Fatalf("other keys: %d of 3000 survive", kept)
	}
	if kept := countKeys(t, r.Client, r.Prefix+"auth:user_status:v1[0-9]*"); kept != 10 {
		t.Fatalf("near-prefix keys: %d of 10 survive", kept)
	}
	t.Logf("flush: %d pings, max latency %v", pings, maxPing)
	if pings < 5 || maxPing > 250*time.Millisecond {
		t.Errorf("Redis unresponsive during flush: %d pings, max %v", pings, maxPing)
	}
	if _, err := FlushPrefix(ctx, r.Client, "", FlushOptions{}); !errors.Is(err, ErrEmptyPrefix) {
		t.Errorf("empty prefix: %v", err)
	}
}

func TestFlushPrefixRedisCluster(t *testing.T) {
	rc := testsvc.NewRedisCluster(t)
	ctx := context.Background()
	fill(t, rc.Client, "auth:user_status:v1:", 9000)
	fill(t, rc.Client, "other:", 900)
	// Keys land on every master.
	var masters atomic.Int64
	_ = rc.Client.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if c.DBSize(ctx).Val() > 0 {
			masters.Add(1)
		}
		return nil
	})
	if masters.Load() != 3 {
		t.Fatalf("keys on %d masters, want 3", masters.Load())
	}
	n, err := FlushPrefix(ctx, rc.Client, "auth:user_status:v1:", FlushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 9000 {
		t.Fatalf("flushed %d, want 9000", n)
	}
	if left := countKeys(t, rc.Client, "auth:*"); left != 0 {
		t.Fatalf("%d left", left)
	}
	if kept := countKeys(t, rc.Client, "other:*"); kept != 900 {
		t.Fatalf("other keys: %d of 900", kept)
	}
}

// TestRefresherChecksStatus: the refresh path refuses a disabled user and
// a user whose status cannot be known before it spends the token (the
// token still works once the status is known again), and a Refresher
// cannot be built without a status cache unless NoStatusCheck says so.
func TestRefresherChecksStatus(t *testing.T) {
	r := testsvc.NewRedis(t)
	ctx := context.Background()
	_, svc, _ := fixture(t, newClock(), nil)
	claims := func(context.Context, string) (appClaims, error) { return appClaims{}, nil }
	l := &loaderRec{disabled: map[string]bool{"bad": true}}
	st := NewMemoryRefreshStore()
	ok := NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix})
	down := NewStatusCache(deadRedis(t), (&loaderRec{err: errors.New("db down")}).load, StatusOptions{})
	ref, err := NewRefresher(svc, RefresherConfig[appClaims]{Store: st, Status: ok, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	refDown, err := NewRefresher(svc, RefresherConfig[appClaims]{Store: st, Status: down, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := ref.Issue(ctx, "good", appClaims{})
	bad, _ := ref.Issue(ctx, "bad", appClaims{})
	if _, err := ref.Refresh(ctx, bad.Refresh); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("disabled user refreshed: %v", err)
	}
	if _, err := refDown.Refresh(ctx, good.Refresh); !errors.Is(err, ErrStatusUnavailable) {
		t.Fatalf("both down: %v", err)
	}
	if _, err := ref.Refresh(ctx, good.Refresh); err != nil {
		t.Fatalf("a refresh refused for an unknown status spent the token: %v", err)
	}
	if _, err := NewRefresher(svc, RefresherConfig[appClaims]{Store: st, Claims: claims}); !errors.Is(err, ErrConfig) {
		t.Fatalf("Refresher without a status cache: %v (a refresh without the check)", err)
	}
}

// hungRedis is a client on a TCP listener that accepts connections and
// never answers (a SIGSTOPped Redis), with the client's own timeouts long.
func hungRedis(t testing.TB) *redis.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, PoolTimeout: 10 * time.Second, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() {
		c.Close()
		l.Close()
		mu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	})
	return c
}

// Redis unreachable or hung: each check costs at most the deadline (plus
// the loader), the breaker then skips Redis, a probe after the cooldown
// closes it again when Redis is back, and RedisHealth() reports each state
// (issue 13 point 2).
func TestStatusCacheBoundedRedis(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *redis.Client{
		"closed port": deadRedisB,
		"hung":        hungRedis,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			obs := newRec()
			l := &loaderRec{disabled: map[string]bool{"bad": true}}
			c := NewStatusCache(mk(t), l.load, StatusOptions{Observer: obs, Timeout: 50 * time.Millisecond, BreakerFailures: 3, BreakerCooldown: 5 * time.Second, LocalTTL: -1, Now: clk.Now})
			for i := 0; i < 3; i++ {
				start := time.Now()
				if err := c.Check(ctx, "good"); err != nil {
					t.Fatalf("check %d: %v", i, err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("check %d took %v: not bounded by the 50 ms deadline", i, d)
				}
			}
			if st := c.RedisHealth(); st.Breaker != "open" || st.Failures != 3 {
				t.Fatalf("after 3 failures: %+v", st)
			}
			errs := len(obs.cacheErr)
			// Open: Redis is not tried at all (no new errors, loader answers).
			for i := 0; i < 20; i++ {
				if err := c.Check(ctx, "bad"); !errors.Is(err, ErrUserDisabled) {
					t.Fatalf("open circuit, disabled user: %v", err)
				}
			}
			if len(obs.cacheErr) != errs {
				t.Fatalf("Redis tried while the circuit is open: %d new errors", len(obs.cacheErr)-errs)
			}
			// After the cooldown one probe goes through; it fails: open again.
			clk.Advance(6 * time.Second)
			c.Check(ctx, "good")
			if len(obs.cacheErr) != errs+1 || c.RedisHealth().Breaker != "open" {
				t.Fatalf("probe: %d errors, %+v", len(obs.cacheErr)-errs, c.RedisHealth())
			}
			// Loader down too: 503, never allowed.
			l.err = errors.New("db down")
			if err := c.Check(ctx, "good"); !errors.Is(err, ErrStatusUnavailable) {
				t.Fatalf("both down: %v", err)
			}
		})
	}
	// Redis back: the probe closes the circuit.
	r := testsvc.NewRedis(t)
	clk := newClock()
	l := &loaderRec{}
	c := NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix, BreakerFailures: 1, LocalTTL: -1, Now: clk.Now})
	c.brk.result(false, clk.Now())
	if c.RedisHealth().Breaker != "open" {
		t.Fatal("not open")
	}
	clk.Advance(10 * time.Second)
	if err := c.Check(context.Background(), "u"); err != nil || c.RedisHealth().Breaker != "ok" {
		t.Fatalf("recovery: %v %+v", err, c.RedisHealth())
	}
}

// The in-process cache answers most checks without Redis, for LocalTTL.
func TestStatusCacheLocal(t *testing.T) {
	r := testsvc.NewRedis(t)
	ctx := context.Background()
	clk := newClock()
	l := &loaderRec{disabled: map[string]bool{}}
	c := NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix, LocalTTL: time.Second, LocalSize: 4, Now: clk.Now})
	if err := c.Check(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	r.Client.Set(ctx, r.Prefix+"u", "disabled", time.Minute)
	if err := c.Check(ctx, "u"); err != nil {
		t.Fatalf("within LocalTTL Redis was asked: %v", err)
	}
	clk.Advance(1100 * time.Millisecond)
	if err := c.Check(ctx, "u"); !errors.Is(err, ErrUserDisabled) {
		t.Fatalf("after LocalTTL: %v", err)
	}
	// Invalidate clears this process at once.
	r.Client.Set(ctx, r.Prefix+"u", "active", time.Minute)
	if err := c.Invalidate(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "u"); err != nil {
		t.Fatalf("after Invalidate: %v", err)
	}
	// Bounded size.
	for i := 0; i < 50; i++ {
		c.Check(ctx, fmt.Sprint("s", i))
	}
	if n := len(c.local.m); n > 4 {
		t.Fatalf("%d local entries, LocalSize 4", n)
	}
}
