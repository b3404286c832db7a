package pgrole

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

// A rotation's state lives in the operator's database, in the table
// rotation.pgrole_state, which the create phase makes (schema, table,
// REVOKE ALL FROM PUBLIC) and fills in the same transaction as CREATE ROLE:
// a crash cannot leave a new role without its state, nor state without its
// role. One row per old login role holds the new role, the strategy and the
// new role's verifier (never the password: the table is as sensitive as
// pg_authid, and only its owner, the operator, can read it). While the row
// exists the rotation is unfinished: Plan refuses to start another one from
// the same role (ErrRotationInProgress) and Resume continues it with the same
// verifier, so the salt never changes and PgBouncer's userlist stays valid.
// A successful retire or rollback deletes the row.
const stateTable = "rotation.pgrole_state"

// ErrRotationInProgress: a rotation of this role was started and neither
// retired nor rolled back; resume it (it reuses its verifier) or roll it
// back.
var ErrRotationInProgress = errors.New("pgrole: a rotation of this role is unfinished")

// RotationState is an unfinished rotation, as recorded by its create phase.
type RotationState struct {
	Old, New string
	Strategy Strategy
	Started  time.Time
	Verifier scram.Verifier
}

// Rotation returns the unfinished rotation of old, or nil when there is
// none.
func (a *Admin) Rotation(ctx context.Context, old string) (*RotationState, error) {
	var exists bool
	if err := a.conn.QueryRow(ctx, `SELECT to_regclass('`+stateTable+`') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pgrole: read rotation state: %w", err)
	}
	if !exists {
		return nil, nil
	}
	st := &RotationState{Old: old}
	var text, strategy string
	err := a.conn.QueryRow(ctx, `SELECT new_role, strategy, started, verifier FROM `+stateTable+` WHERE old_role = $1`, old).
		Scan(&st.New, &strategy, &st.Started, &text)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgrole: read rotation state of %q: %w", old, classify(err))
	}
	st.Strategy = Strategy(strategy)
	if st.Verifier, err = scram.Parse(text); err != nil {
		return nil, fmt.Errorf("pgrole: rotation state of %q holds a bad verifier: %w", old, err)
	}
	return st, nil
}

// checkStateAccess refuses, before anything runs, an operator that could
// not record the rotation: the create phase would fail on it.
func (a *Admin) checkStateAccess(ctx context.Context) error {
	var ok bool
	err := a.conn.QueryRow(ctx, `SELECT CASE WHEN to_regclass('`+stateTable+`') IS NULL
		THEN has_database_privilege(current_database(), 'CREATE') OR has_schema_privilege('rotation', 'CREATE')
		ELSE has_table_privilege('`+stateTable+`', 'SELECT, INSERT, DELETE') END`).Scan(&ok)
	if err != nil && a.super {
		return nil
	}
	if err != nil || !ok {
		return fmt.Errorf("%w: operator %q cannot record the rotation in %s of database %q: grant it CREATE on the database once, or have a superuser run CREATE SCHEMA rotation AUTHORIZATION %s",
			ErrInsufficientPrivilege, a.user, stateTable, a.cfg.Database, ident(a.user))
	}
	return nil
}

// stateStep records the rotation in the create phase's transaction. The
// verifier is sent, so the step counts as password material.
func stateStep(p *Plan) Step {
	exec := `CREATE SCHEMA IF NOT EXISTS rotation;
CREATE TABLE IF NOT EXISTS ` + stateTable + ` (old_role text PRIMARY KEY, new_role text NOT NULL, strategy text NOT NULL,
  started timestamptz NOT NULL DEFAULT now(), verifier text NOT NULL);
REVOKE ALL ON ` + stateTable + ` FROM PUBLIC;
INSERT INTO ` + stateTable + ` (old_role, new_role, strategy, verifier) VALUES (` + literal(p.Old) + `, ` + literal(p.New) + `, ` +
		literal(string(p.Strategy)) + `, ` + p.verifier.SQLLiteral() + `) ON CONFLICT (old_role) DO NOTHING`
	return Step{SQL: "-- record the rotation in " + stateTable + " (verifier " + p.verifier.Redacted() + ")", exec: exec, password: true}
}

// finishRotation deletes old's state row after a successful retire or
// rollback (err == nil) and returns err, or the deletion's error.
func (a *Admin) finishRotation(ctx context.Context, old string, err error) error {
	if err != nil {
		return err
	}
	var exists bool
	if e := a.conn.QueryRow(ctx, `SELECT to_regclass('`+stateTable+`') IS NOT NULL`).Scan(&exists); e != nil || !exists {
		return e
	}
	if _, e := a.conn.Exec(ctx, `DELETE FROM `+stateTable+` WHERE old_role = $1`, old); e != nil {
		return fmt.Errorf("pgrole: retired, but the rotation state of %q was not cleared: %w", old, classify(e))
	}
	return nil
}

// resumeFromState applies an unfinished rotation to opts: without Resume it
// refuses; with it, New and the verifier come from the state.
func resumeFromState(st *RotationState, opts *PlanOptions) error {
	if st == nil {
		return nil
	}
	if !opts.Resume {
		return fmt.Errorf("%w: %q → %q (%s, started %s, verifier fp=%s) was neither retired nor rolled back; continue it with Resume (--resume), which reuses its verifier, or roll it back",
			ErrRotationInProgress, st.Old, st.New, st.Strategy, st.Started.UTC().Format(time.RFC3339), st.Verifier.Fingerprint())
	}
	if opts.New != "" && opts.New != st.New {
		return fmt.Errorf("%w: the unfinished rotation of %q is to %q, not %q", ErrBadPlan, st.Old, st.New, opts.New)
	}
	if opts.Strategy != "" && opts.Strategy != st.Strategy {
		return fmt.Errorf("%w: the unfinished rotation of %q uses strategy %s, not %s", ErrBadPlan, st.Old, st.Strategy, opts.Strategy)
	}
	opts.New, opts.Strategy, opts.Verifier = st.New, st.Strategy, st.Verifier
	return nil
}
