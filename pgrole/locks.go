package pgrole

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LockRetry bounds how the grant phase competes with the applications for
// locks. The grant phase runs in short transactions (at most BatchSize
// statements; a statement that takes an ACCESS EXCLUSIVE lock, such as
// ALTER POLICY, alone) under SET LOCAL lock_timeout = Timeout, so an
// application query never queues behind pgrole for longer than Timeout. A
// transaction that fails on a lock timeout (55P03), a deadlock (40P01), a
// serialization failure (40001) or "tuple concurrently updated" (a
// concurrent REFRESH or GRANT) is rolled back and retried after a growing,
// jittered backoff, up to Attempts times; every grant-phase statement is
// safe to repeat.
//
// The other phases (create, retire, rollback) keep one transaction per
// database and run it under the same lock_timeout and retries: REASSIGN
// OWNED and DROP OWNED take ACCESS EXCLUSIVE locks on what the role owns
// or is named in (a policy), and without a timeout one long application
// transaction would queue them, and every application query behind them.
//
// Before a GRANT on a relation, a superuser operator takes an ACCESS SHARE
// lock on it (SELECT FROM rel WHERE false): GRANT itself takes no lock, and
// an application's REFRESH MATERIALIZED VIEW or ALTER TABLE that overlaps
// the GRANT's commit would fail with "tuple concurrently updated". The lock
// makes them wait for our (short) transaction instead.
type LockRetry struct {
	// Timeout is lock_timeout for each transaction (default 500 ms). Keep
	// it below deadlock_timeout (1 s by default), so that in a lock cycle
	// pgrole times out first and the application's transaction is never the
	// deadlock victim.
	Timeout time.Duration
	// Attempts bounds the tries of one transaction (default 40).
	Attempts int
	// MaxBackoff caps the pause between tries (default 2 s); the pause
	// starts at 50 ms and doubles, with jitter.
	MaxBackoff time.Duration
	// BatchSize is the most statements in one transaction (default 100).
	BatchSize int
}

func (r LockRetry) withDefaults() LockRetry {
	if r.Timeout <= 0 {
		r.Timeout = 500 * time.Millisecond
	}
	if r.Attempts <= 0 {
		r.Attempts = 40
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 2 * time.Second
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 100
	}
	return r
}

// SetLockRetry sets how the grant phase waits for and retries locks (see
// LockRetry; zero fields keep their defaults).
func (a *Admin) SetLockRetry(r LockRetry) { a.lockRetry = r }

// retryable reports whether err is a conflict with a concurrent
// transaction that a retry of the same idempotent statements can resolve.
func retryable(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	switch pg.Code {
	case "55P03", "40P01", "40001":
		return true
	case "XX000":
		return strings.Contains(pg.Message, "tuple concurrently updated") || strings.Contains(pg.Message, "tuple concurrently deleted")
	}
	return false
}

// batches splits steps into transactions: consecutive steps of one
// database, at most size of them, a step marked alone by itself.
func batches(steps []Step, size int) [][]Step {
	var out [][]Step
	for i := 0; i < len(steps); {
		j := i + 1
		if !steps[i].alone {
			for j < len(steps) && j-i < size && steps[j].Database == steps[i].Database && !steps[j].alone {
				j++
			}
		}
		out = append(out, steps[i:j])
		i = j
	}
	return out
}

// runShort executes idempotent steps in short transactions with
// lock_timeout and bounded retries (LockRetry). On failure the error is an
// *ApplyError: earlier transactions stay committed, and running the phase
// again is safe.
func (a *Admin) runShort(ctx context.Context, phase PhaseName, steps []Step) ([]Applied, error) {
	lr := a.lockRetry.withDefaults()
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", lr.Timeout.Milliseconds())
	var applied []Applied
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	conn := func(db string) (*pgx.Conn, error) {
		if db == a.cfg.Database {
			return a.conn, nil
		}
		if c, ok := conns[db]; ok {
			return c, nil
		}
		c, err := a.connectTo(ctx, db)
		if err == nil {
			conns[db] = c
		}
		return c, err
	}
	for _, group := range batches(steps, lr.BatchSize) {
		db := group[0].Database
		if db == "" {
			db = a.cfg.Database
		}
		c, err := conn(db)
		if err != nil {
			return applied, &ApplyError{Phase: phase, Applied: applied, Failed: Step{Database: db, SQL: "(connect)"}, Err: err}
		}
		var done []Applied
		var failed *Step
		backoff := 50 * time.Millisecond
		// A batch goes as one simple-protocol query (one round trip for up
		// to BatchSize statements); a failure other than a lock conflict is
		// run again statement by statement (precise) to name the
		// statement that failed. Both are safe: the statements repeat.
		precise := len(group) == 1
		for attempt := 1; ; attempt++ {
			done, failed = nil, nil
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if hasPassword(group) {
					// A user mapping's copy: its options must not reach
					// the server log either (see quietLogging).
					if err := a.quietLogging(ctx, tx); err != nil {
						failed = &Step{Database: db, SQL: "-- logging settings check"}
						return err
					}
				}
				if !precise {
					var b strings.Builder
					b.WriteString(timeout)
					for _, s := range group {
						b.WriteString(";\n")
						if s.lockRel != "" && a.super {
							b.WriteString("SELECT FROM " + s.lockRel + " WHERE false;\n")
						}
						b.WriteString(s.exec)
					}
					a.notices = nil
					_, err := tx.Exec(ctx, b.String())
					if err == nil {
						err = a.noticeError()
					}
					if err != nil {
						return classify(err)
					}
					for _, s := range group {
						if !strings.HasPrefix(s.SQL, "--") {
							done = append(done, Applied{Database: db, SQL: s.SQL})
						}
					}
					return nil
				}
				if _, err := tx.Exec(ctx, timeout); err != nil {
					return err
				}
				for _, s := range group {
					exec := s.exec
					if s.lockRel != "" && a.super {
						// One round trip (simple protocol) for the lock and
						// the statement.
						exec = "SELECT FROM " + s.lockRel + " WHERE false; " + exec
					}
					a.notices = nil
					_, err := tx.Exec(ctx, exec)
					if err == nil {
						err = a.noticeError()
					}
					if err != nil {
						failed = &Step{Database: db, SQL: s.SQL}
						return classify(err)
					}
					if !strings.HasPrefix(s.SQL, "--") {
						done = append(done, Applied{Database: db, SQL: s.SQL})
					}
				}
				return nil
			})
			if err != nil && !precise && !retryable(err) && ctx.Err() == nil {
				precise = true
				attempt--
				continue
			}
			if err == nil || !retryable(err) || attempt >= lr.Attempts || ctx.Err() != nil {
				break
			}
			pause := backoff/2 + rand.N(backoff/2+1)
			if a.progress != nil {
				a.progress(Progress{Phase: phase, Database: db, Retry: attempt + 1, Attempts: lr.Attempts, Wait: pause, Err: err})
			}
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			if backoff *= 2; backoff > lr.MaxBackoff {
				backoff = lr.MaxBackoff
			}
		}
		if err != nil {
			if failed == nil {
				failed = &Step{Database: db, SQL: "(commit)"}
			}
			if retryable(err) {
				err = fmt.Errorf("%w (gave up after %d tries with lock_timeout %s; statements are safe to run again)", err, lr.Attempts, lr.Timeout)
			}
			return applied, &ApplyError{Phase: phase, Applied: applied, Failed: *failed, RolledBack: done, Err: err}
		}
		applied = append(applied, done...)
		if a.progress != nil && len(done) > 0 {
			a.progress(Progress{Phase: phase, Database: db, Committed: done})
		}
	}
	return applied, nil
}
