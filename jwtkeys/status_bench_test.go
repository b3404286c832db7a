package jwtkeys

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
)

// BenchmarkStatusMiddleware: authenticated requests through the middleware
// with the status check and without it, in one run (issue 13 point 2).
//
//	nostatus          Middleware without a StatusCache (the baseline)
//	status-local      StatusCache, in-process cache warm (default LocalTTL)
//	status-redis      StatusCache, no in-process cache: one Redis GET per request
//
// Run: go test -run '^$' -bench 'BenchmarkStatus' -count 6 ./jwtkeys/
func BenchmarkStatusMiddleware(b *testing.B) {
	r := testsvc.NewRedis(b)
	clk := newClock()
	_, svc, _ := fixture(b, clk, nil)
	l := &loaderRec{}
	p, _ := svc.Issue("user-1", appClaims{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	run := func(c *StatusCache) func(*testing.B) {
		return func(b *testing.B) {
			h := svc.Middleware(MiddlewareOptions{Status: c})(ok)
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+p.Access)
			h.ServeHTTP(httptest.NewRecorder(), req) // warm
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 204 {
					b.Fatal(rec.Code)
				}
			}
		}
	}
	b.Run("nostatus", run(nil))
	b.Run("status-local", run(NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix, Now: clk.Now})))
	b.Run("status-redis", run(NewStatusCache(r.Client, l.load, StatusOptions{Prefix: r.Prefix, LocalTTL: -1})))
}

// BenchmarkStatusRedisFailing: latency of a status check (no in-process
// cache, so every check would reach Redis) with Redis unreachable (closed
// port) and hung (accepts, never answers), with a loader that takes 2 ms.
// Reports p50/p99/max in ms. "breaker" is the default configuration;
// "deadline-only" never opens the circuit, so every check pays the 50 ms
// deadline: the bound is loader latency + deadline.
//
// Run: go test -run '^$' -bench 'BenchmarkStatusRedisFailing' -benchtime 400x ./jwtkeys/
func BenchmarkStatusRedisFailing(b *testing.B) {
	slowLoader := func(ctx context.Context, sub string) (UserStatus, error) {
		time.Sleep(2 * time.Millisecond)
		return UserStatus{}, nil
	}
	clients := map[string]func() StatusOptions{
		"breaker":       func() StatusOptions { return StatusOptions{LocalTTL: -1} },
		"deadline-only": func() StatusOptions { return StatusOptions{LocalTTL: -1, BreakerFailures: 1 << 30} },
	}
	for _, redisState := range []string{"down", "hung"} {
		for _, mode := range []string{"breaker", "deadline-only"} {
			b.Run(redisState+"/"+mode, func(b *testing.B) {
				var c *StatusCache
				if redisState == "down" {
					c = NewStatusCache(deadRedisB(b), slowLoader, clients[mode]())
				} else {
					c = NewStatusCache(hungRedis(b), slowLoader, clients[mode]())
				}
				ctx := context.Background()
				var ds []time.Duration
				for b.Loop() {
					start := time.Now()
					if err := c.Check(ctx, "u"); err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(start))
				}
				sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
				q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / 1e6 }
				b.ReportMetric(q(0.5), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(float64(ds[len(ds)-1])/1e6, "max-ms")
			})
		}
	}
}
