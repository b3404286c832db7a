package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// appLoad runs queries through a pgxpool as role until stop is closed and
// counts the failures. The pool's lock_timeout (1 s) is the application's
// own bound: a query that queues behind pgrole longer fails.
type appLoad struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []error
	wg         sync.WaitGroup
}

func (l *appLoad) fail(err error) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 5 {
		l.errs = append(l.errs, err)
	}
	l.mu.Unlock()
}

func (l *appLoad) run(t *testing.T, url, setRole string, stop <-chan struct{}, workers int, queries ...string) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = "1s"
	if setRole != "" {
		cfg.ConnConfig.RuntimeParams["role"] = setRole
	}
	cfg.MaxConns = int32(workers)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := pool.Exec(context.Background(), queries[i%len(queries)]); err != nil {
					l.fail(err)
				} else {
					l.ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	t.Cleanup(pool.Close)
}

// Issue 11.2: while an application transaction holds a lock on a table
// whose policy the grant phase alters, and the application keeps querying
// and refreshing a materialized view the grant phase grants on, the mirror
// grant phase neither makes an application query fail nor fails itself.
func TestMirrorGrantPhaseUnderLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	mustExec(t, f.db.Pool,
		"SET ROLE "+q(f.owner),
		"CREATE MATERIALIZED VIEW app.order_mv AS SELECT tenant, count(*) AS n FROM app.orders GROUP BY tenant",
		"RESET ROLE",
		"GRANT SELECT ON app.order_mv TO "+q(f.app))
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var load appLoad
	load.run(t, testsvc.URLAs(f.db.Name, f.app, ""), "", stop, 4,
		"SELECT count(*) FROM orders",
		"INSERT INTO orders (tenant, amount) VALUES ('a', 1)",
		"SELECT count(*) FROM order_totals",
		"SELECT next_ticket()",
		"SELECT count(*) FROM order_mv")
	// The owner refreshes the view all along (what a cron job does).
	var refresh appLoad
	refresh.run(t, testsvc.URLAs(f.db.Name, "postgres", ""), f.owner, stop, 1,
		"REFRESH MATERIALIZED VIEW app.order_mv")

	// A long application transaction holds ACCESS SHARE on app.orders,
	// whose policy the grant phase alters (ACCESS EXCLUSIVE).
	long := make(chan error, 1)
	go func() {
		cfg, _ := pgxpool.ParseConfig(testsvc.URLAs(f.db.Name, f.app, ""))
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			long <- err
			return
		}
		defer pool.Close()
		_, err = pool.Exec(ctx, "SELECT count(*), pg_sleep(2.5) FROM orders")
		long <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	applied, err := adm.ApplyPhase(ctx, p, pgrole.PhaseGrant)
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	load.wg.Wait()
	refresh.wg.Wait()
	if lerr := <-long; lerr != nil {
		t.Errorf("the long application transaction failed: %v", lerr)
	}
	if err != nil {
		var ae *pgrole.ApplyError
		errors.As(err, &ae)
		t.Fatalf("grant phase under load: %v", err)
	}
	t.Logf("grant phase: %d statements in %s; application: %d ok, %d failed; refresh: %d ok, %d failed",
		len(applied), took, load.ok.Load(), load.failed.Load(), refresh.ok.Load(), refresh.failed.Load())
	if took < 2*time.Second {
		t.Errorf("the grant phase took %s: it did not wait for the long transaction (test is not exercising the lock)", took)
	}
	if n := load.failed.Load() + refresh.failed.Load(); n > 0 {
		t.Errorf("%d application queries failed during the grant phase: %v %v", n, load.errs, refresh.errs)
	}
	if load.ok.Load() == 0 || refresh.ok.Load() == 0 {
		t.Errorf("no load ran (%d queries, %d refreshes)", load.ok.Load(), refresh.ok.Load())
	}
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		t.Fatal(err)
	}
	f.check(t, p.New)
}

// A grant-phase statement that fails for a reason other than a lock
// conflict is named (the batch runs again statement by statement), what
// earlier transactions committed is listed, and running the phase again
// after the cause is fixed completes it.
func TestGrantPhaseNamesTheFailingStatement(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	adm := connectAdmin(t, f.db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	mustExec(t, f.db.Pool, "ALTER TABLE app.secrets RENAME TO secrets_moved")
	_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseGrant)
	var ae *pgrole.ApplyError
	if !errors.As(err, &ae) || !strings.Contains(ae.Failed.SQL, "app.secrets") {
		t.Fatalf("grant phase with a table gone: %v, want an ApplyError naming the GRANT on app.secrets", err)
	}
	mustExec(t, f.db.Pool, "ALTER TABLE app.secrets_moved RENAME TO secrets")
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseGrant); err != nil {
		t.Fatalf("grant phase again: %v", err)
	}
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		t.Fatal(err)
	}
}

// Issue 11.2 (retire): retiring a login role runs REASSIGN OWNED BY it,
// which takes an ACCESS EXCLUSIVE lock on every table it owns. Here an
// earlier login role of the alternate strategy owns a table the
// application uses (it created it), and a long application transaction
// holds a lock on that table. Retire must neither queue the application's
// queries behind it (they have lock_timeout 1 s) nor fail half-done: with
// few tries it gives up with a clear error and nothing left of its
// transaction; with the default tries it completes once the transaction
// ends.
func TestRetireUnderLongApplicationTransaction(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	old := f.app + "_v2"
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(old)+" LOGIN", "GRANT "+q(f.app)+" TO "+q(old))
	mustExec(t, f.db.Pool, "SET ROLE "+q(old),
		"CREATE TABLE app.made_by_v2 (id serial PRIMARY KEY, n int)",
		"GRANT SELECT, INSERT, UPDATE ON app.made_by_v2 TO "+q(f.app),
		"GRANT USAGE ON SEQUENCE app.made_by_v2_id_seq TO "+q(f.app),
		"RESET ROLE")
	stop := make(chan struct{})
	var load appLoad
	load.run(t, testsvc.URLAs(f.db.Name, f.app, ""), "", stop, 4,
		"SELECT count(*) FROM made_by_v2",
		"INSERT INTO made_by_v2 (n) VALUES (1)",
		"UPDATE made_by_v2 SET n = n + 1 WHERE id = (SELECT max(id) FROM made_by_v2)",
		"SELECT count(*) FROM orders")
	long := make(chan error, 1)
	held := make(chan struct{})
	go func() {
		c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, f.app, ""))
		if err != nil {
			close(held)
			long <- err
			return
		}
		defer c.Close(ctx)
		tx, err := c.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "SELECT count(*) FROM made_by_v2")
		}
		close(held)
		if err == nil {
			time.Sleep(3 * time.Second) // the application's long transaction, idle in transaction
			err = tx.Commit(ctx)
		}
		long <- err
	}()
	<-held

	// Few tries: a clear refusal; the role and its table are intact.
	adm.SetLockRetry(pgrole.LockRetry{Timeout: 200 * time.Millisecond, Attempts: 2})
	_, err := adm.Retire(ctx, pgrole.RetireOptions{Role: old, Mode: pgrole.RetireDrop})
	var ae *pgrole.ApplyError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "lock timeout") || !strings.Contains(err.Error(), "gave up after 2 tries") ||
		!strings.Contains(err.Error(), "safe to repeat") {
		t.Fatalf("retire behind a long transaction with 2 tries: %v, want an ApplyError saying it gave up on a lock", err)
	}
	t.Logf("with 2 tries: %v", err)
	var owner string
	if err := f.db.Pool.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'made_by_v2'").Scan(&owner); err != nil || owner != old {
		t.Fatalf("after a refused retire app.made_by_v2 is owned by %q (%v), want %q", owner, err, old)
	}

	// Default tries: waits for the transaction, then completes.
	adm.SetLockRetry(pgrole.LockRetry{})
	start := time.Now()
	applied, err := adm.Retire(ctx, pgrole.RetireOptions{Role: old, Mode: pgrole.RetireDrop})
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	load.wg.Wait()
	if lerr := <-long; lerr != nil {
		t.Errorf("the long application transaction failed: %v", lerr)
	}
	if err != nil {
		t.Fatalf("retire after the transaction: %v", err)
	}
	t.Logf("retire: %d statements in %s; application: %d ok, %d failed", len(applied), took, load.ok.Load(), load.failed.Load())
	if n := load.failed.Load(); n > 0 {
		t.Errorf("%d application queries failed during retire: %v", n, load.errs)
	}
	if load.ok.Load() == 0 {
		t.Error("no application load ran")
	}
	if err := f.db.Pool.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'made_by_v2'").Scan(&owner); err != nil || owner != f.app {
		t.Fatalf("after retire app.made_by_v2 is owned by %q (%v), want the stable role", owner, err)
	}
	if _, err := adm.Introspect(ctx, old); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("the retired role survived: %v", err)
	}
}
