package pgrole

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// PhasePrecheck names the dry run of Precheck in an *ApplyError.
const PhasePrecheck PhaseName = "pre-check"

// errDryRun ends the pre-check's transaction: everything it did is rolled
// back.
var errDryRun = errors.New("pgrole: pre-check done")

// Precheck dry-runs every statement of p's create and grant phases, so a
// statement this operator cannot run (ADMIN on a predefined role, ALTER
// DEFAULT PRIVILEGES FOR ROLE on the new role, a GRANT without GRANT OPTION
// that would grant nothing, ALTER POLICY on a table it does not own, …) is
// found before anything commits: no LOGIN role is left behind. Passwords
// are sent as NULL (no verifier leaves the client).
//
// One transaction per database, each rolled back: the operator's database
// runs the create phase and every statement of the grant phase that runs
// there; every other database the plan touches runs the create phase and
// the cluster-wide statements again (roles are cluster-wide, and the new
// role exists only inside the transaction that creates it), then that
// database's statements. The databases are visited one after the other.
// Each transaction runs under the grant phase's lock_timeout and is retried
// on lock conflicts (LockRetry): a dry run takes the same locks as the real
// statements. ApplyPhase runs it before the create phase.
func (a *Admin) Precheck(ctx context.Context, p *Plan) error {
	var create, shared []Step
	perDB := map[string][]Step{}
	var order []string
	for _, name := range []PhaseName{PhaseCreate, PhaseGrant} {
		ph := p.Phase(name)
		if ph == nil {
			continue
		}
		for _, s := range ph.Steps {
			db := s.Database
			if db == "" {
				db = a.cfg.Database
			}
			switch {
			case name == PhaseCreate:
				create = append(create, s)
			case s.shared:
				shared = append(shared, s)
			}
			if _, ok := perDB[db]; !ok && db != a.cfg.Database {
				order = append(order, db)
			}
			perDB[db] = append(perDB[db], s)
		}
	}
	if err := a.dryRun(ctx, a.cfg.Database, perDB[a.cfg.Database]); err != nil {
		return err
	}
	for _, db := range order {
		steps := append(append(append([]Step(nil), create...), shared...), perDB[db]...)
		if err := a.dryRun(ctx, db, steps); err != nil {
			return err
		}
	}
	return nil
}

// dryRun runs steps in one transaction on database db and rolls it back,
// retrying on lock conflicts.
func (a *Admin) dryRun(ctx context.Context, db string, steps []Step) error {
	lr := a.lockRetry.withDefaults()
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", lr.Timeout.Milliseconds())
	var failed *Step
	backoff := 50 * time.Millisecond
	err := a.withDB(ctx, db, func(c *pgx.Conn) error {
		for attempt := 1; ; attempt++ {
			failed = nil
			err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, timeout); err != nil {
					return err
				}
				for i, s := range steps {
					exec := s.exec
					if s.password {
						if s.dryExec == "" {
							continue // the state record: checked by checkStateAccess
						}
						exec = s.dryExec
					}
					a.notices = nil
					_, err := tx.Exec(ctx, exec)
					if err == nil {
						err = a.noticeError()
					}
					if err != nil {
						failed = &steps[i]
						return classify(err)
					}
				}
				return errDryRun
			})
			if errors.Is(err, errDryRun) || !retryable(err) || attempt >= lr.Attempts || ctx.Err() != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(backoff/2 + rand.N(backoff/2+1)):
			}
			if backoff *= 2; backoff > lr.MaxBackoff {
				backoff = lr.MaxBackoff
			}
		}
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	if failed != nil {
		if errors.Is(err, ErrInsufficientPrivilege) {
			err = fmt.Errorf("%w (operator %q; fix its privileges, or run as a superuser)", err, a.user)
		}
		return &ApplyError{Phase: PhasePrecheck, Failed: Step{Database: db, SQL: failed.SQL}, Err: err}
	}
	return fmt.Errorf("pgrole: pre-check in database %q: %w", db, err)
}
