package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// process returns a pool of its own, as a separate job process would have.
func (f *fixture) process(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.NewWithConfig(context.Background(), f.pool.Config().Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestProcessesShareOneJob starts 2, then 3 job processes together on one
// table: none fails, no part is worked twice (the values rewrapped add up to
// the values there were, with no compare-and-swap conflict), and every one
// returns only when the whole table is done.
func TestProcessesShareOneJob(t *testing.T) {
	for _, procs := range []int{2, 3} {
		t.Run(fmt.Sprint(procs), func(t *testing.T) {
			oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
			rOld := ring(t, oldK)
			f := newFixture(t, 3000, rOld, true)
			rNew := ring(t, newK, oldK)
			start := make(chan struct{})
			reps := make([]*Report, procs)
			errs := make([]error, procs)
			var wg sync.WaitGroup
			for i := range procs {
				pool := f.process(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					reps[i], errs[i] = Reencrypt(context.Background(), pool, rNew, f.t, ReencryptOptions{BatchSize: 50, Workers: 2, Ranges: 12})
				}()
			}
			close(start)
			wg.Wait()
			var rewrapped, scanned, conflicts int64
			for i := range procs {
				if errs[i] != nil {
					t.Fatalf("process %d: %v", i, errs[i])
				}
				if !reps[i].Done || reps[i].Census.NotUpToDate() != 0 || !reps[i].Retirable(rOld.Primary()) {
					t.Fatalf("process %d returned before the job was done: %s", i, reps[i].Summary())
				}
				rewrapped += reps[i].Rewrapped
				scanned += reps[i].Scanned
				conflicts += reps[i].Conflicts
			}
			if rewrapped != 3000*2-300-300 || scanned != 3000 || conflicts != 0 {
				t.Fatalf("duplicate work: %d values rewrapped, %d rows scanned, %d conflicts over %d processes", rewrapped, scanned, conflicts, procs)
			}
			if keys := f.verify(t, rNew); len(keys) != 1 {
				t.Fatalf("keys %v", keys)
			}
			var left int
			if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM fieldcrypt_checkpoint`).Scan(&left); err != nil || left != 0 {
				t.Fatalf("checkpoint rows left: %d %v", left, err)
			}
		})
	}
}

// hangingDB is a job process that stops dead after a number of batch
// writes: no more heartbeats, no more checkpoints, as if SIGKILLed or
// partitioned away. It fails everything once released.
type hangingDB struct {
	DB
	after   int64
	n       atomic.Int64
	release chan struct{}
}

func (d *hangingDB) dead() bool { return d.n.Load() >= d.after }

func (d *hangingDB) hang(ctx context.Context) error {
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	return errors.New("process is gone")
}

func (d *hangingDB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if d.n.Add(1) > d.after {
		_ = d.hang(ctx)
		return d.DB.SendBatch(context.Background(), &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: "SELECT 1/0"}}})
	}
	return d.DB.SendBatch(ctx, b)
}

func (d *hangingDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if d.dead() {
		return pgconn.CommandTag{}, d.hang(ctx)
	}
	return d.DB.Exec(ctx, sql, args...)
}

func (d *hangingDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if d.dead() {
		return errRow{d.hang(ctx)}
	}
	return d.DB.QueryRow(ctx, sql, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// TestDeadProcessTakenOver: of three processes, one stops dead midway while
// holding parts. Its leases expire and the other two take its parts over
// from their checkpoints; the job finishes with every value under the new
// key and none lost.
func TestDeadProcessTakenOver(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 3000, rOld, true)
	rNew := ring(t, newK, oldK)
	dead := &hangingDB{DB: f.process(t), after: 8, release: make(chan struct{})}
	defer close(dead.release)
	opt := ReencryptOptions{BatchSize: 40, Workers: 2, Ranges: 10, Lease: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = Reencrypt(ctx, dead, rNew, f.t, opt) }()
	for !dead.dead() {
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	reps := make([]*Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		pool := f.process(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Reencrypt(context.Background(), pool, rNew, f.t, opt)
		}()
	}
	wg.Wait()
	var taken int64
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("survivor %d: %v", i, errs[i])
		}
		if !reps[i].Resumed || reps[i].Census.NotUpToDate() != 0 {
			t.Fatalf("survivor %d: %s", i, reps[i].Summary())
		}
		taken += reps[i].TakenOver
	}
	if taken == 0 {
		t.Fatal("no part was taken over from the dead process")
	}
	if keys := f.verify(t, rNew); len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
}

// TestOtherJobOnSameTableRefused: a job under another name (here: other
// columns) is refused while the first holds a live lease on the table, and
// the error says which job and who holds it.
func TestOtherJobOnSameTableRefused(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 1000, ring(t, oldK), false)
	rNew := ring(t, newK, oldK)
	ctx, cancel := context.WithCancel(context.Background())
	var started sync.Once
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Reencrypt(ctx, f.process(t), rNew, f.t, ReencryptOptions{BatchSize: 10, RowsPerSecond: 200,
			Progress: func(Progress) { started.Do(func() { close(running) }) }})
		done <- err
	}()
	<-running
	other := f.t
	other.Columns = other.Columns[:1]
	_, err := Reencrypt(context.Background(), f.pool, rNew, other, ReencryptOptions{})
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) || !strings.Contains(busy.Job, "accounts") || !strings.Contains(busy.Owner, " pid ") {
		t.Fatalf("second job: %v", err)
	}
	if !strings.Contains(err.Error(), "--job") {
		t.Fatalf("error does not say what to do: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first job: %v", err)
	}
	// Cancelled, the first job released its leases: the other may start now.
	if _, err := Reencrypt(context.Background(), f.pool, rNew, other, ReencryptOptions{}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// TestClaimTakesOnePart: a worker's claim takes one part, with two
// processes and a checkpoint table that served an earlier rotation. With the
// part picked in a subquery joined in the UPDATE, the plan chosen on that
// table's statistics let one claim take every free part: the worker worked
// one, the others stayed held by it, and its process ended "done" with
// values left (found by trying the procedure with the CLI and
// examples/reencrypt-job on PG 17: 15 of 16 parts held by one worker).
func TestClaimTakesOnePart(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 3000, ring(t, oldK), true)
	ctx := context.Background()
	var mu sync.Mutex
	maxHeld := 0
	opt := ReencryptOptions{BatchSize: 50, Workers: 1, Ranges: 16, Lease: 10 * time.Second, Progress: func(Progress) {
		var held int
		if err := f.pool.QueryRow(ctx, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM fieldcrypt_checkpoint
			WHERE owner IS NOT NULL GROUP BY owner) s`).Scan(&held); err != nil {
			t.Error(err)
		}
		mu.Lock()
		maxHeld = max(maxHeld, held)
		mu.Unlock()
	}}
	// A checkpoint table that served an earlier rotation (its rows deleted
	// when that job finished), as in production.
	mid := fieldcrypttest.NewKey(t)
	if _, err := Reencrypt(ctx, f.pool, ring(t, mid, oldK), f.t, ReencryptOptions{BatchSize: 500}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `ANALYZE fieldcrypt_checkpoint`); err != nil {
		t.Fatal(err)
	}
	oldK = mid
	rNew := ring(t, newK, oldK)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		pool := f.process(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Reencrypt(ctx, pool, rNew, f.t, opt)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	if maxHeld > 1 {
		t.Fatalf("one worker held %d parts at once", maxHeld)
	}
	if keys := f.verify(t, ring(t, newK)); len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
}
