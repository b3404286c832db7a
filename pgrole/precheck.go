package pgrole

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PhasePrecheck names the dry run of Precheck in an *ApplyError.
const PhasePrecheck PhaseName = "pre-check"

// errDryRun ends the pre-check's transaction: everything it did is rolled
// back.
var errDryRun = errors.New("pgrole: pre-check done")

// Precheck runs every statement of p's create and grant phases that runs in
// the operator's database inside one transaction and rolls it back, so a
// statement this operator cannot run (ADMIN on a predefined role, ALTER
// DEFAULT PRIVILEGES FOR ROLE on the new role, a GRANT without GRANT OPTION
// that would grant nothing, …) is found before anything commits: no LOGIN
// role is left behind. Passwords are sent as NULL (no verifier leaves the
// client). Statements in other databases need the new role committed and are
// not pre-checked. Apply runs it before the create phase.
func (a *Admin) Precheck(ctx context.Context, p *Plan) error {
	var steps []Step
	for _, name := range []PhaseName{PhaseCreate, PhaseGrant} {
		if ph := p.Phase(name); ph != nil {
			for _, s := range ph.Steps {
				if s.Database == "" || s.Database == a.cfg.Database {
					steps = append(steps, s)
				}
			}
		}
	}
	var failed *Step
	err := pgx.BeginFunc(ctx, a.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
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
	if errors.Is(err, errDryRun) {
		return nil
	}
	if failed != nil {
		if errors.Is(err, ErrInsufficientPrivilege) {
			err = fmt.Errorf("%w (operator %q; fix its privileges, or run as a superuser)", err, a.user)
		}
		db := failed.Database
		if db == "" {
			db = a.cfg.Database
		}
		return &ApplyError{Phase: PhasePrecheck, Failed: Applied{Database: db, SQL: failed.SQL}, Err: err}
	}
	return fmt.Errorf("pgrole: pre-check: %w", err)
}
