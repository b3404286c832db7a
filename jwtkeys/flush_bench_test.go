package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/redis/go-redis/v9"
)

// BenchmarkFlush compares, in one run and on identical data, FlushPrefix
// with a plain client (SCAN MATCH, then UNLINK of what it returned, one
// round trip each, same COUNT), on a private redis-server started for the
// benchmark (the shared Redis is not touched and other tests cannot
// disturb it). Before each timed flush the keyspace is bulk-loaded
// (200,000 + 40,000 and 1,000,000 + 200,000 keys) and the benchmark waits
// until Redis has finished rehashing its main dictionary (DEBUG HTSTATS
// shows no "rehashing target"), so neither side pays the rehash of the
// load. A separate connection sends a PING every millisecond during each
// flush. The order of the flushes rotates between runs. ns/op is
// FlushPrefix's time.
//
// Metrics, for each flush V (plain, ours, ...):
//
//	V-s               wall time
//	V/redis           V-s / the time Redis itself spent executing SCAN and
//	                  UNLINK during that flush (INFO commandstats): the
//	                  issue's target for ours is ≤ 1.15
//	V/plain           V-s / plain-s
//	V/plain-redis     V-s / Redis's SCAN+UNLINK time during the plain flush
//	V-ping-p50-ms, V-ping-p99-ms, V-ping-max-ms
//	                  PING latency during the flush (target p99 ≤ 50 ms)
//	V-runq-%          share of the wall time Redis's main thread was ready
//	                  but waiting for a CPU (/proc schedstat): the machine's
//	                  load, not the client
//	V-idle-%          share of the wall time Redis's main thread was neither
//	                  running nor waiting for a CPU: waiting for the client
//	V-client-cpu-%    CPU time of this process (the flush's client and the
//	                  pinger) over the wall time: what it takes from Redis
//	                  on a machine with few CPUs
//	load1             the 1-minute load average at the end
//
// Run: go test -run '^$' -bench BenchmarkFlush -benchtime 1x -count 5 -timeout 60m ./jwtkeys/
//
// FLUSH_BENCH_VARIANTS (default "plain;ours") picks the flushes: a
// ;-separated list of plain, serial (FlushPrefix before issue 13) and
// ours[:count=N,batch=N,inflight=N] (FlushPrefix with those FlushOptions),
// as in the tuning sweep in BENCHMARKS.md. plain and serial use the first
// ours' count.
func BenchmarkFlush(b *testing.B) {
	variants := flushBenchVariants(b)
	srv, err := redisserver.Start(b.TempDir(), redisserver.Options{Extra: []string{"enable-debug-command local", "loglevel notice"}})
	if err != nil {
		if errors.Is(err, redisserver.ErrNoServer) && !testsvc.InCI() {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
	b.Cleanup(func() { c.Close() })
	const prefix = "auth:user_status:v1:"
	pid := redisPID(b, c)
	for _, size := range []struct{ match, other int }{{200_000, 40_000}, {1_000_000, 200_000}} {
		b.Run(fmt.Sprintf("keys=%d", size.match+size.other), func(b *testing.B) {
			ctx := context.Background()
			m := make([]flushMetrics, len(variants))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				flushBenchRuns++
				for j := range variants {
					j = (j + flushBenchRuns) % len(variants) // rotate the order between runs
					v := variants[j]
					loadFlushKeys(b, c, prefix, size.match, size.other)
					waitRehashed(b, c)
					if err := c.ConfigResetStat(ctx).Err(); err != nil {
						b.Fatal(err)
					}
					run0, wait0 := schedstat(b, pid)
					cpu0 := processCPU()
					p := startPinger(srv.Addr)
					t0 := time.Now()
					if v.ours {
						b.StartTimer()
					}
					n, err := v.flush(ctx, c, prefix)
					b.StopTimer()
					wall := time.Since(t0)
					lat := p.stop()
					client := processCPU() - cpu0
					if err != nil {
						b.Fatal(err)
					}
					run1, wait1 := schedstat(b, pid)
					busy := redisBusy(b, c, "scan", "unlink") // before checkFlushed's own SCAN
					checkFlushed(b, c, prefix, v.name, n, size.match, size.other)
					mm := &m[j]
					mm.wall += wall.Seconds()
					mm.busy += busy.Seconds()
					mm.run += (run1 - run0).Seconds()
					mm.wait += (wait1 - wait0).Seconds()
					mm.client += client.Seconds()
					mm.p50 += pct(lat, 50)
					mm.p99 += pct(lat, 99)
					mm.max += pct(lat, 100)
				}
			}
			n := float64(b.N)
			for j, v := range variants {
				mm := m[j]
				b.ReportMetric(mm.wall/n, v.name+"-s")
				b.ReportMetric(mm.wall/mm.busy, v.name+"/redis")
				b.ReportMetric(100*mm.wait/mm.wall, v.name+"-runq-%")
				b.ReportMetric(100*(mm.wall-mm.run-mm.wait)/mm.wall, v.name+"-idle-%")
				b.ReportMetric(100*mm.client/mm.wall, v.name+"-client-cpu-%")
				b.ReportMetric(mm.p50/n, v.name+"-ping-p50-ms")
				b.ReportMetric(mm.p99/n, v.name+"-ping-p99-ms")
				b.ReportMetric(mm.max/n, v.name+"-ping-max-ms")
				if j > 0 && variants[0].name == "plain" {
					b.ReportMetric(mm.wall/m[0].wall, v.name+"/plain")
					b.ReportMetric(mm.wall/m[0].busy, v.name+"/plain-redis")
				}
			}
			b.ReportMetric(loadAverage(), "load1")
		})
	}
}

var flushBenchRuns int

type flushMetrics struct {
	wall, busy, run, wait, client float64
	p50, p99, max                 float64
}

type flushVariant struct {
	name  string
	ours  bool // FlushPrefix: the timer runs (ns/op)
	flush func(ctx context.Context, c *redis.Client, prefix string) (int64, error)
}

// flushBenchVariants reads FLUSH_BENCH_VARIANTS, a ;-separated list of
// plain, serial and ours[:count=N,batch=N,inflight=N] (default
// "plain;ours": the baseline and FlushPrefix's defaults). plain and serial
// use the SCAN COUNT of the first ours.
func flushBenchVariants(b *testing.B) []flushVariant {
	spec := os.Getenv("FLUSH_BENCH_VARIANTS")
	if spec == "" {
		spec = "plain;ours"
	}
	count := int64(defaultFlushCount)
	var opts []FlushOptions
	names := strings.Split(spec, ";")
	for _, name := range names {
		o, ok := strings.CutPrefix(name, "ours")
		if !ok {
			continue
		}
		fo := parseFlushOptions(b, strings.TrimPrefix(o, ":"))
		if len(opts) == 0 && fo.Count > 0 {
			count = fo.Count
		}
		opts = append(opts, fo)
	}
	var vs []flushVariant
	k := 0
	for _, name := range names {
		switch {
		case name == "plain":
			vs = append(vs, flushVariant{name: "plain", flush: func(ctx context.Context, c *redis.Client, prefix string) (int64, error) {
				return plainFlush(ctx, c, prefix+"*", count)
			}})
		case name == "serial":
			vs = append(vs, flushVariant{name: "serial", flush: func(ctx context.Context, c *redis.Client, prefix string) (int64, error) {
				return serialFlush(ctx, c, prefix, count)
			}})
		case strings.HasPrefix(name, "ours"):
			o := opts[k]
			k++
			label := "ours"
			if len(opts) > 1 {
				label = fmt.Sprintf("ours%d", k)
			}
			b.Logf("%s: FlushOptions%+v", label, o)
			vs = append(vs, flushVariant{name: label, ours: true, flush: func(ctx context.Context, c *redis.Client, prefix string) (int64, error) {
				return FlushPrefix(ctx, c, prefix, o)
			}})
		default:
			b.Fatalf("FLUSH_BENCH_VARIANTS: unknown %q (plain, serial, ours[:count=N,batch=N,inflight=N])", name)
		}
	}
	return vs
}

func parseFlushOptions(b *testing.B, s string) FlushOptions {
	var o FlushOptions
	if s == "" {
		return o
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FLUSH_BENCH_VARIANTS: %q: want name=positive integer", kv)
		}
		switch k {
		case "count":
			o.Count = int64(n)
		case "batch":
			o.Batch = n
		case "inflight":
			o.InFlight = n
		default:
			b.Fatalf("FLUSH_BENCH_VARIANTS: unknown option %q (count, batch, inflight)", k)
		}
	}
	return o
}

// serialFlush is FlushPrefix as it was before issue 13: one connection, the
// UNLINK of one SCAN's keys pipelined with the next SCAN.
func serialFlush(ctx context.Context, c *redis.Client, prefix string, count int64) (int64, error) {
	match := globEscape(prefix) + "*"
	var cursor uint64
	var pending []string
	var n int64
	first := true
	for first || cursor != 0 || len(pending) > 0 {
		pipe := c.Pipeline()
		var unlink *redis.IntCmd
		if len(pending) > 0 {
			unlink = pipe.Unlink(ctx, pending...)
		}
		var scan *redis.ScanCmd
		if first || cursor != 0 {
			scan = pipe.Scan(ctx, cursor, match, count)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return n, err
		}
		if unlink != nil {
			n += unlink.Val()
		}
		pending = pending[:0]
		if scan != nil {
			var keys []string
			keys, cursor = scan.Val()
			pending = append(pending, keys...)
		}
		first = false
	}
	return n, nil
}

func redisPID(b *testing.B, c *redis.Client) string {
	s, err := c.Info(context.Background(), "server").Result()
	if err != nil {
		b.Fatal(err)
	}
	_, rest, ok := strings.Cut(s, "process_id:")
	pid, _, _ := strings.Cut(rest, "\r\n")
	if !ok || pid == "" {
		b.Fatal("INFO server: no process_id")
	}
	return pid
}

// plainFlush is the baseline: what an operator writes by hand with a Redis
// client, SCAN MATCH and UNLINK of each reply, one round trip at a time.
func plainFlush(ctx context.Context, c *redis.Client, match string, count int64) (int64, error) {
	var cursor uint64
	var n int64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, count).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			d, err := c.Unlink(ctx, keys...).Result()
			n += d
			if err != nil {
				return n, err
			}
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// loadFlushKeys empties the server and writes match keys under prefix and
// other keys that must survive, with pipelined MSETs (the dictionary grows
// by rehashing as it fills, as after any bulk load).
func loadFlushKeys(b *testing.B, c *redis.Client, prefix string, match, other int) {
	ctx := context.Background()
	if err := c.FlushAll(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	const per, cmds = 1000, 20
	pipe := c.Pipeline()
	args := make([]any, 0, 2*per)
	queued := 0
	put := func(k string) {
		args = append(args, k, "active")
		if len(args) == 2*per {
			pipe.MSet(ctx, args...)
			args = make([]any, 0, 2*per)
			if queued++; queued == cmds {
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
				queued = 0
			}
		}
	}
	for i := range match {
		put(prefix + "user-" + strconv.Itoa(i))
	}
	for i := range other {
		put("other:session:" + strconv.Itoa(i))
	}
	if len(args) > 0 {
		pipe.MSet(ctx, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	if n := c.DBSize(ctx).Val(); n != int64(match+other) {
		b.Fatalf("loaded %d keys, want %d", n, match+other)
	}
}

// waitRehashed waits until DEBUG HTSTATS 0 reports no rehashing target:
// after a bulk load Redis moves the keys into the grown table a millisecond
// per cron tick (seconds after a million keys), and every command meanwhile
// pays rehash steps. To finish sooner it raises hz while waiting and puts
// it back before returning.
func waitRehashed(b *testing.B, c *redis.Client) {
	ctx := context.Background()
	hz, err := c.ConfigGet(ctx, "hz").Result()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "hz", "500").Err(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := c.ConfigSet(ctx, "hz", hz["hz"]).Err(); err != nil {
			b.Fatal(err)
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s, err := c.Do(ctx, "DEBUG", "HTSTATS", "0").Text()
		if err != nil {
			b.Fatalf("DEBUG HTSTATS: %v", err)
		}
		if !strings.Contains(s, "rehashing target") {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("Redis still rehashing after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisBusy sums the usec Redis spent executing the named commands since
// the last CONFIG RESETSTAT (INFO commandstats).
func redisBusy(b *testing.B, c *redis.Client, cmds ...string) time.Duration {
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var usec int64
	for _, line := range strings.Split(s, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !slices.Contains(cmds, name) {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					b.Fatalf("commandstats %q: %v", line, err)
				}
				usec += n
			}
		}
	}
	if usec == 0 {
		b.Fatal("INFO commandstats: no SCAN/UNLINK time recorded")
	}
	return time.Duration(usec) * time.Microsecond
}

// schedstat returns how long Redis's main thread has run on a CPU and
// waited on a run queue (ready, but the CPUs busy with other processes),
// from /proc/PID/task/PID/schedstat.
func schedstat(b *testing.B, pid string) (run, wait time.Duration) {
	raw, err := os.ReadFile("/proc/" + pid + "/task/" + pid + "/schedstat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw))
	r, err1 := strconv.ParseInt(f[0], 10, 64)
	w, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("schedstat %q", raw)
	}
	return time.Duration(r), time.Duration(w)
}

func checkFlushed(b *testing.B, c *redis.Client, prefix, which string, n int64, match, other int) {
	ctx := context.Background()
	if n != int64(match) {
		b.Fatalf("%s: deleted %d, want %d", which, n, match)
	}
	if size := c.DBSize(ctx).Val(); size != int64(other) {
		b.Fatalf("%s: %d keys left, want the %d others", which, size, other)
	}
	if left, _, _ := c.Scan(ctx, 0, prefix+"*", 1<<30).Result(); len(left) > 0 {
		b.Fatalf("%s: %d keys left under the prefix", which, len(left))
	}
}

// pinger sends PING on its own connection every millisecond and records
// each round trip.
type pinger struct {
	done chan struct{}
	wg   sync.WaitGroup
	lat  []time.Duration
	c    *redis.Client
}

func startPinger(addr string) *pinger {
	p := &pinger{done: make(chan struct{}), c: redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})}
	_ = p.c.Ping(context.Background()).Err() // connect before the flush
	p.wg.Go(func() {
		for {
			select {
			case <-p.done:
				return
			default:
			}
			t0 := time.Now()
			if err := p.c.Ping(context.Background()).Err(); err == nil {
				p.lat = append(p.lat, time.Since(t0))
			}
			time.Sleep(time.Millisecond)
		}
	})
	return p
}

func (p *pinger) stop() []time.Duration {
	close(p.done)
	p.wg.Wait()
	p.c.Close()
	slices.Sort(p.lat)
	return p.lat
}

// pct returns the q-th percentile of sorted latencies, in milliseconds.
func pct(sorted []time.Duration, q int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*q + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// processCPU is this process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
