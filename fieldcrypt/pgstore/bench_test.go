package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
)

// benchRows is the table size of BenchmarkReencrypt: FIELDCRYPT_BENCH_ROWS,
// default 100000 (BENCHMARKS.md runs it with 1000000).
func benchRows(b *testing.B) int {
	if s := os.Getenv("FIELDCRYPT_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("FIELDCRYPT_BENCH_ROWS=%q", s)
		}
		return n
	}
	return 100000
}

// benchTable creates bench(id bigint primary key, v bytea) holding n 64-byte
// values sealed under old, and a copy bench_src to reset it from.
func benchTable(b *testing.B, n int, old *fieldcrypt.Keyring) *pgxpool.Pool {
	db := testsvc.Postgres(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE bench_src (id bigint PRIMARY KEY, v bytea)`); err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, 64)
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		v, err := old.Encrypt(nil, pt, fieldcrypt.Binding{})
		return []any{int64(i), v}, err
	})
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"bench_src"}, []string{"id", "v"}, src); err != nil {
		b.Fatal(err)
	}
	// No autovacuum on bench: it would start in the middle of whichever
	// variant happens to run when a run's dead rows cross its threshold.
	// Every variant starts from the same freshly loaded, vacuumed table.
	for _, q := range []string{`VACUUM ANALYZE bench_src`, `CREATE TABLE bench (id bigint PRIMARY KEY, v bytea) WITH (autovacuum_enabled = off)`} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	return db.Pool
}

func resetBench(b *testing.B, pool *pgxpool.Pool) {
	ctx := context.Background()
	for _, q := range []string{`TRUNCATE bench`, `INSERT INTO bench SELECT * FROM bench_src`, `VACUUM ANALYZE bench`, `CHECKPOINT`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReencrypt measures, in one run and on the same freshly reset
// table, the re-encrypt job against two baselines:
//
//   - job: Reencrypt, batches of 1000, from the start to the final census
//     (rows/s) and its batches alone (batch-rows/s); its compare-and-swap
//     compares the row version (xmin);
//   - job-cas-value (only with FIELDCRYPT_BENCH_CASVALUE=1): the same with
//     the compare-and-swap on every old value (t.v = old value);
//   - batched-update: the same keyset-paginated read and one UPDATE … FROM
//     unnest per batch, writing a value of the same size, without crypto,
//     compare-and-swap or checkpoint, in autocommit (synchronous commit),
//     over the same number of workers;
//   - row-by-row: SELECT, decrypt, encrypt, UPDATE per row in autocommit,
//     measured on the first 5,000 rows and reported as a rate.
//
// For each worker count (1, 2, 4) every iteration runs batched-update,
// job, job, batched-update (ABBA, so that neither comes first or last more
// often and a change of load during the iteration hits both alike), each on
// a freshly reset table; the figures are ratios of sums over the
// iterations: job-% end to end, job-batches-% for the batches alone
// (Progress.Elapsed: without the final census), and job-cpu-% for the CPU
// time of this process and its Postgres backends (see cpuSeconds). Run:
//
//	FIELDCRYPT_BENCH_ROWS=1000000 go test -run '^$' -bench 'BenchmarkReencrypt/workers' -benchtime 2x -timeout 60m ./fieldcrypt/pgstore/
func BenchmarkReencrypt(b *testing.B) {
	n := benchRows(b)
	oldK, newK := fieldcrypttest.NewKey(b), fieldcrypttest.NewKey(b)
	old := ring(b, oldK)
	cur := ring(b, newK, oldK)
	pool := benchTable(b, n, old)
	t := Table{Name: "bench", PK: "id", Columns: []Column{{Name: "v"}}}
	batch := 1000
	if s := os.Getenv("FIELDCRYPT_BENCH_BATCH"); s != "" {
		batch, _ = strconv.Atoi(s)
	}
	order := []string{"batched-update", "job", "job", "batched-update"}
	if os.Getenv("FIELDCRYPT_BENCH_CASVALUE") == "1" {
		order = append(order, "job-cas-value")
	}
	if v := os.Getenv("FIELDCRYPT_BENCH_ONLY"); v != "" {
		// For profiling one variant (perf record, -cpuprofile): the ratios
		// are then not reported.
		order = []string{v}
	}

	// Warm-up, not measured: one plain pass, so that whichever variant runs
	// first does not pay for the creation of WAL segments and cold caches.
	resetBench(b, pool)
	plainBatchedUpdate(b, pool, 2, batch)

	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			// The job gets the pool the CLI and examples/reencrypt-job give
			// it (see DB): one connection per worker, one for the count, one
			// for the heartbeat. The baseline's pool has at least one per
			// worker and runs one statement per worker at a time, as the
			// job's workers do.
			cfg := pool.Config().Copy()
			cfg.MaxConns = int32(workers + 2)
			jobPool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer jobPool.Close()
			var jobT, jobLoopT, casT, updT time.Duration
			var jobCPU, updCPU float64
			var jobClient, updClient float64 // this process's part of it
			for i := 0; i < b.N; i++ {
				for _, v := range order {
					b.StopTimer()
					resetBench(b, pool)
					b.StartTimer()
					cpu0 := cpuSeconds(pool)
					client0, _ := cpuSplit(pool)
					start := time.Now()
					if v == "batched-update" {
						if done := plainBatchedUpdate(b, pool, workers, batch); done != n {
							b.Fatalf("updated %d of %d", done, n)
						}
						updT += time.Since(start)
						updCPU += cpuSeconds(pool) - cpu0
						client, _ := cpuSplit(pool)
						updClient += client - client0
						continue
					}
					rep, err := Reencrypt(context.Background(), jobPool, cur, t, ReencryptOptions{Workers: workers, BatchSize: batch, casValue: v == "job-cas-value"})
					if err != nil {
						b.Fatal(err)
					}
					if rep.Rewrapped != int64(n) || !rep.Retirable(old.Primary()) {
						b.Fatalf("rewrapped %d of %d", rep.Rewrapped, n)
					}
					if v == "job" {
						jobT += time.Since(start)
						jobLoopT += rep.Elapsed
						jobCPU += cpuSeconds(pool) - cpu0
						client, _ := cpuSplit(pool)
						jobClient += client - client0
					} else {
						casT += time.Since(start)
					}
				}
			}
			if updT == 0 || jobT == 0 { // FIELDCRYPT_BENCH_ONLY
				return
			}
			// Two runs each of job and batched-update per iteration.
			rate := func(d time.Duration, runs int) float64 { return float64(n) * float64(runs*b.N) / d.Seconds() }
			b.ReportMetric(rate(updT, 2), "update-rows/s")
			b.ReportMetric(rate(jobT, 2), "job-rows/s")
			b.ReportMetric(rate(jobLoopT, 2), "job-batch-rows/s")
			b.ReportMetric(100*updT.Seconds()/jobT.Seconds(), "job-%")
			b.ReportMetric(100*updT.Seconds()/jobLoopT.Seconds(), "job-batches-%")
			if updCPU > 0 && jobCPU > 0 {
				// CPU time spent, by this process and by the Postgres backends
				// serving it: a machine shared with other jobs lengthens wall
				// time, less so the work done.
				b.ReportMetric(100*updCPU/jobCPU, "job-cpu-%")
				// Where the CPU goes, in seconds per million rows.
				perM := func(sec float64) float64 { return sec / (float64(n) * float64(2*b.N) / 1e6) }
				b.ReportMetric(perM(jobClient), "job-client-cpu-s/Mrow")
				b.ReportMetric(perM(jobCPU-jobClient), "job-server-cpu-s/Mrow")
				b.ReportMetric(perM(updClient), "update-client-cpu-s/Mrow")
				b.ReportMetric(perM(updCPU-updClient), "update-server-cpu-s/Mrow")
			}
			if casT > 0 {
				b.ReportMetric(rate(casT, 1), "cas-value-rows/s")
				b.ReportMetric(100*updT.Seconds()/2/casT.Seconds(), "cas-value-%")
			}
		})
	}

	b.Run("row-by-row", func(b *testing.B) {
		sample := min(5000, n)
		var rate float64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			resetBench(b, pool)
			b.StartTimer()
			ctx := context.Background()
			start := time.Now()
			for id := 1; id <= sample; id++ {
				var v []byte
				if err := pool.QueryRow(ctx, `SELECT v FROM bench WHERE id = $1`, id).Scan(&v); err != nil {
					b.Fatal(err)
				}
				pt, err := cur.Decrypt(nil, v, fieldcrypt.Binding{})
				if err != nil {
					b.Fatal(err)
				}
				nv, _ := cur.Encrypt(nil, pt, fieldcrypt.Binding{})
				if _, err := pool.Exec(ctx, `UPDATE bench SET v = $1 WHERE id = $2`, nv, id); err != nil {
					b.Fatal(err)
				}
			}
			rate = float64(sample) / time.Since(start).Seconds()
		}
		b.ReportMetric(rate, "rows/s")
	})
}

// plainBatchedUpdate rewrites every row of bench with keyset pagination and
// one UPDATE … FROM unnest per batch, over workers key ranges, without
// crypto: the ceiling the job is compared with.
func plainBatchedUpdate(b *testing.B, pool *pgxpool.Pool, workers, batch int) int {
	ctx := context.Background()
	var maxID int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM bench`).Scan(&maxID); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := maxID*int64(w)/int64(workers), maxID*int64(w+1)/int64(workers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cursor := lo
			ids := make([]int64, 0, batch)
			vals := make([][]byte, 0, batch)
			for {
				rows, err := pool.Query(ctx, `SELECT id, v FROM bench WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`, cursor, hi, batch)
				if err != nil {
					b.Error(err)
					return
				}
				ids, vals = ids[:0], vals[:0]
				for rows.Next() {
					raw := rows.RawValues()
					var id int64
					if err := rows.Scan(&id, nil); err != nil {
						b.Error(err)
						return
					}
					v := append([]byte(nil), raw[1]...)
					v[len(v)-1] ^= 1 // some change, no crypto
					ids = append(ids, id)
					vals = append(vals, v)
				}
				if rows.Err() != nil {
					b.Error(rows.Err())
					return
				}
				if len(ids) == 0 {
					return
				}
				tag, err := pool.Exec(ctx, `UPDATE bench AS t SET v = u.v FROM unnest($1::bigint[], $2::bytea[]) AS u(id, v) WHERE t.id = u.id`, ids, vals)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				total += int(tag.RowsAffected())
				mu.Unlock()
				cursor = ids[len(ids)-1]
			}
		}()
	}
	wg.Wait()
	return total
}

// cpuSeconds returns the CPU time used so far by this process and by the
// Postgres backends connected to pool's database (read from /proc: the
// server runs on this machine), or 0 when /proc cannot be read.
func cpuSeconds(pool *pgxpool.Pool) float64 {
	c, s := cpuSplit(pool)
	if s == 0 {
		return 0
	}
	return c + s
}

// cpuSplit returns the CPU time used so far by this process (client) and
// by the Postgres backends connected to pool's database (server); server
// is 0 when /proc cannot be read.
func cpuSplit(pool *pgxpool.Pool) (client, server float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	client = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	total := 0.0
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return client, 0
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return client, 0
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return client, 0
		}
		// Fields after the command name in parentheses: utime and stime
		// are the 12th and 13th, in clock ticks (100 per second on Linux).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return client, 0
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		total += (ut + st) / 100
	}
	return client, total
}
