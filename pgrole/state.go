package pgrole

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
//
// The table is per database, so the create phase also marks the new role
// itself, cluster-wide, with a comment (pg_shdescription, which every
// database sees; it holds no secret, only the old role's name and the
// database of the record): an operator connected to any other database of
// the cluster finds the unfinished rotation and is told where it is
// recorded, instead of starting a second one. Finishing the rotation
// removes the comment.
const stateTable = "rotation.pgrole_state"

// markerPrefix starts the comment on the new role of an unfinished rotation.
const markerPrefix = "pgrole-rotation "

// stateDetails is the details column of a state row: what the plan decided
// that later commands need (verify, status, the single-use check).
type stateDetails struct {
	ValidUntil    string     `json:"valid_until,omitempty"`
	PlanID        string     `json:"plan_id,omitempty"`
	Retire        RetireMode `json:"retire,omitempty"`
	ReassignTo    string     `json:"reassign_to,omitempty"`
	Stable        string     `json:"stable,omitempty"`
	RetireStarted *time.Time `json:"retire_started,omitempty"`
}

// marker is the JSON after markerPrefix.
type marker struct {
	Old      string `json:"old"`
	Database string `json:"database"`
}

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
	// Database is the database whose rotation.pgrole_state holds the
	// record. When it is not the operator connection's (Elsewhere), the
	// rest is read from that database if the operator can connect to it
	// (otherwise only Old, New and Database are known); resume and roll it
	// back connected to that database (retire finishes it from any).
	Database string
	// ValidUntil is the VALID UNTIL the plan gave the new role (normalized,
	// "infinity" for never; "" if not recorded).
	ValidUntil string
	// Retire, ReassignTo and Stable are the plan's retire choices ("" if
	// not recorded).
	Retire     RetireMode
	ReassignTo string
	Stable     string
	// RetireStarted: a retire of the old role began (and has not finished):
	// the next step is to run it again.
	RetireStarted bool
}

// Elsewhere reports whether the record lives in another database than the
// operator connection's.
func (s *RotationState) Elsewhere(adminDB string) bool { return s.Database != adminDB }

// Rotation returns the unfinished rotation of old, or nil when there is
// none. The record in the operator's database comes first; otherwise a
// rotation recorded in another database of the cluster is found through the
// comment its create phase put on the new role (RotationState.Database
// names that database).
func (a *Admin) Rotation(ctx context.Context, old string) (*RotationState, error) {
	var exists bool
	if err := a.conn.QueryRow(ctx, `SELECT to_regclass('`+stateTable+`') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pgrole: read rotation state: %w", err)
	}
	if exists {
		st, err := readRecord(ctx, a.conn, old, a.cfg.Database)
		if st != nil || err != nil {
			return st, err
		}
	}
	return a.rotationElsewhere(ctx, old)
}

// readRecord reads old's row of the state table in the database c is
// connected to (db): nil when there is none.
func readRecord(ctx context.Context, c *pgx.Conn, old, db string) (*RotationState, error) {
	st := &RotationState{Old: old, Database: db}
	var text, strategy, details string
	// to_jsonb(s) reads the details column of tables made before it existed too.
	err := c.QueryRow(ctx, `SELECT new_role, strategy, started, verifier, coalesce(to_jsonb(s)->>'details', '{}') FROM `+stateTable+` s WHERE old_role = $1`, old).
		Scan(&st.New, &strategy, &st.Started, &text, &details)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("pgrole: read rotation state of %q: %w", old, classify(err))
	}
	st.Strategy = Strategy(strategy)
	if st.Verifier, err = scram.Parse(text); err != nil {
		return nil, fmt.Errorf("pgrole: rotation state of %q holds a bad verifier: %w", old, err)
	}
	var d stateDetails
	if err := json.Unmarshal([]byte(details), &d); err != nil {
		return nil, fmt.Errorf("pgrole: rotation state of %q holds bad details: %w", old, err)
	}
	st.ValidUntil, st.Retire, st.ReassignTo, st.Stable = d.ValidUntil, d.Retire, d.ReassignTo, d.Stable
	st.RetireStarted = d.RetireStarted != nil
	return st, nil
}

// rotationElsewhere finds an unfinished rotation of old recorded in another
// database, by the comment on its new role.
func (a *Admin) rotationElsewhere(ctx context.Context, old string) (*RotationState, error) {
	rows, err := a.conn.Query(ctx, `SELECT r.rolname::text, d.description FROM pg_shdescription d JOIN pg_roles r ON r.oid = d.objoid
		WHERE d.classoid = 'pg_authid'::regclass AND starts_with(d.description, $1) ORDER BY 1`, markerPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgrole: read rotation markers: %w", err)
	}
	type row struct{ role, text string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.role, &x.text)
	})
	if err != nil {
		return nil, fmt.Errorf("pgrole: read rotation markers: %w", err)
	}
	for _, x := range list {
		var m marker
		if json.Unmarshal([]byte(strings.TrimPrefix(x.text, markerPrefix)), &m) != nil || m.Old != old || m.Database == a.cfg.Database {
			continue
		}
		// A marker naming a database that no longer exists is stale: its
		// record went with the database.
		var exists bool
		if err := a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, m.Database).Scan(&exists); err != nil {
			return nil, fmt.Errorf("pgrole: read rotation markers: %w", err)
		}
		if !exists {
			continue
		}
		st := &RotationState{Old: old, New: x.role, Database: m.Database}
		// The rest of the record (strategy, retire choices) is read where
		// it lives when the operator may connect there; otherwise only the
		// marker's part is known.
		_ = a.withDB(ctx, m.Database, func(c *pgx.Conn) error {
			full, err := readRecord(ctx, c, old, m.Database)
			if err == nil && full != nil && full.New == st.New {
				st = full
			}
			return err
		})
		return st, nil
	}
	return nil, nil
}

// errElsewhere refuses to act on a rotation recorded in another database.
func errElsewhere(st *RotationState, adminDB string) error {
	return fmt.Errorf("%w: %q → %q is recorded in database %q (rotation.pgrole_state there), not in %q, the database this operator connection names; nothing was changed: connect to %q (DATABASE_URL naming it) to resume, roll back or retire it",
		ErrRotationInProgress, st.Old, st.New, st.Database, adminDB, st.Database)
}

// checkStateAccess refuses, before anything runs, an operator that could
// not record the rotation: the create phase would fail on it.
func (a *Admin) checkStateAccess(ctx context.Context) error {
	var ok bool
	// By catalog oids, not names: without USAGE on the schema a name does
	// not resolve (to_regclass gives NULL), yet the table is there.
	err := a.conn.QueryRow(ctx, `WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = 'rotation'),
	  t AS (SELECT c.oid, c.relowner FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM s) AND c.relname = 'pgrole_state'),
	  h AS (SELECT c.oid FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM s) AND c.relname = 'pgrole_history')
	SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM t)
	  THEN has_database_privilege(current_database(), 'CREATE') OR coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM s), false)
	  ELSE (SELECT has_schema_privilege(oid, 'USAGE') FROM s) AND (SELECT has_table_privilege(oid, 'SELECT, INSERT, UPDATE, DELETE') FROM t)
	    AND (EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = (SELECT oid FROM t) AND attname = 'details' AND NOT attisdropped)
	         OR (SELECT pg_has_role(relowner, 'USAGE') FROM t))
	    AND CASE WHEN NOT EXISTS (SELECT 1 FROM h) THEN (SELECT has_schema_privilege(oid, 'CREATE') FROM s)
	        ELSE (SELECT has_table_privilege(oid, 'SELECT, INSERT') FROM h) END END`).Scan(&ok)
	if err != nil && a.super {
		return nil
	}
	if err != nil || !ok {
		return fmt.Errorf("%w: operator %q cannot record the rotation in %s of database %q: %s",
			ErrInsufficientPrivilege, a.user, stateTable, a.cfg.Database, a.stateAccessAdvice(ctx))
	}
	return nil
}

// stateAccessAdvice says what the operator lacks to record a rotation: the
// grants that fit what exists (the table, the schema, or neither).
func (a *Admin) stateAccessAdvice(ctx context.Context) string {
	var table, schema bool
	_ = a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'rotation' AND c.relname = 'pgrole_state'),
		EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'rotation')`).Scan(&table, &schema)
	u := ident(a.user)
	switch {
	case table:
		return "have the tables' owner or a superuser run GRANT USAGE ON SCHEMA rotation TO " + u + "; GRANT SELECT, INSERT, UPDATE, DELETE ON " + stateTable + " TO " + u +
			"; GRANT SELECT, INSERT ON " + historyTable + " TO " + u + " (create " + historyTable + " and the details column of " + stateTable + " first by running one rotation as the owner, or GRANT CREATE ON SCHEMA rotation)"
	case schema:
		return "have the schema's owner or a superuser run GRANT USAGE, CREATE ON SCHEMA rotation TO " + u
	default:
		return "have a superuser run CREATE SCHEMA rotation AUTHORIZATION " + u + " (or GRANT CREATE ON DATABASE … TO " + u + ")"
	}
}

// stateStep records the rotation in the create phase's transaction: its
// row in the state table (details: what later commands need), and the
// marker comment on the new role that every database sees. The verifier is
// sent, so the step counts as password material.
func stateStep(p *Plan) Step {
	d, _ := json.Marshal(stateDetails{ValidUntil: p.validUntil, PlanID: p.planID, Retire: p.Retire, ReassignTo: p.ReassignTo, Stable: p.Stable})
	m, _ := json.Marshal(marker{Old: p.Old, Database: p.AdminDatabase})
	exec := `CREATE SCHEMA IF NOT EXISTS rotation;
CREATE TABLE IF NOT EXISTS ` + stateTable + ` (old_role text PRIMARY KEY, new_role text NOT NULL, strategy text NOT NULL,
  started timestamptz NOT NULL DEFAULT now(), verifier text NOT NULL, details jsonb NOT NULL DEFAULT '{}');
DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '` + stateTable + `'::regclass AND attname = 'details' AND NOT attisdropped) THEN
  ALTER TABLE ` + stateTable + ` ADD COLUMN details jsonb NOT NULL DEFAULT '{}'; END IF;
IF to_regclass('` + historyTable + `') IS NULL THEN
  CREATE TABLE ` + historyTable + ` (plan_id text, old_role text NOT NULL, new_role text NOT NULL, strategy text NOT NULL,
    started timestamptz NOT NULL, finished timestamptz NOT NULL DEFAULT now(), outcome text NOT NULL);
  REVOKE ALL ON ` + historyTable + ` FROM PUBLIC; END IF; END$$;
REVOKE ALL ON ` + stateTable + ` FROM PUBLIC;
INSERT INTO ` + stateTable + ` AS s (old_role, new_role, strategy, verifier, details) VALUES (` + literal(p.Old) + `, ` + literal(p.New) + `, ` +
		literal(string(p.Strategy)) + `, ` + p.verifier.SQLLiteral() + `, ` + literal(string(d)) + `) ON CONFLICT (old_role) DO UPDATE SET details = s.details || jsonb_strip_nulls(EXCLUDED.details - 'plan_id');
COMMENT ON ROLE ` + ident(p.New) + ` IS ` + literal(markerPrefix+string(m))
	return Step{SQL: "-- record the rotation in " + stateTable + " (verifier " + p.verifier.Redacted() + ") and mark " + ident(p.New) + " with a comment naming the database of the record", exec: exec, password: true}
}

// historyTable keeps one row per finished rotation (retired or rolled
// back), with the plan file it came from: a plan file is applied once.
const historyTable = "rotation.pgrole_history"

// markRetireStarted records that a retire of old began: until it finishes
// (and clears the record), status says to run the retire again. The record
// is found in the operator's database or, through the marker comment, in
// the database that holds it; with none it does nothing.
func (a *Admin) markRetireStarted(ctx context.Context, old string) {
	mark := func(c *pgx.Conn) error {
		var exists bool
		if err := c.QueryRow(ctx, `SELECT to_regclass('`+stateTable+`') IS NOT NULL`).Scan(&exists); err != nil || !exists {
			return err
		}
		_, err := c.Exec(ctx, `UPDATE `+stateTable+` s SET details = coalesce(to_jsonb(s)->'details', '{}') || jsonb_build_object('retire_started', now()) WHERE old_role = $1`, old)
		return err
	}
	if st, err := a.Rotation(ctx, old); err == nil && st != nil {
		_ = a.withDB(ctx, st.Database, mark)
	}
}

// clearRecord deletes old's state row in the database c is connected to,
// moving it to the history table there; found is false when c's database
// records no rotation of old.
func clearRecord(ctx context.Context, c *pgx.Conn, old string) (newRole string, found bool, err error) {
	var exists, history bool
	if err := c.QueryRow(ctx, `SELECT to_regclass('`+stateTable+`') IS NOT NULL, to_regclass('`+historyTable+`') IS NOT NULL`).Scan(&exists, &history); err != nil || !exists {
		return "", false, err
	}
	if history {
		err = c.QueryRow(ctx, `WITH d AS (DELETE FROM `+stateTable+` s WHERE old_role = $1 RETURNING s.*, to_jsonb(s)->'details'->>'plan_id' AS plan_id)
			INSERT INTO `+historyTable+` (plan_id, old_role, new_role, strategy, started, outcome)
			SELECT plan_id, old_role, new_role, strategy, started, CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = d.new_role) THEN 'retired' ELSE 'rolled back' END FROM d
			RETURNING new_role`, old).Scan(&newRole)
	} else {
		err = c.QueryRow(ctx, `DELETE FROM `+stateTable+` WHERE old_role = $1 RETURNING new_role`, old).Scan(&newRole)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return newRole, err == nil, err
}

// finishRotation deletes old's state row after a successful retire or
// rollback (err == nil), moving it to the history table (outcome "retired"
// or "rolled back", with its plan file's id), removes the marker comment
// from the new role, and returns err, or the deletion's error. The record
// is cleared where it lives: in the operator's database, or else in the
// database the marker comment on the new role names (an operator connected
// to another database of the cluster finished the rotation).
func (a *Admin) finishRotation(ctx context.Context, old string, err error) error {
	if err != nil {
		return err
	}
	// Found before the record goes: the marker is what names the database.
	elsewhere, e := a.rotationElsewhere(ctx, old)
	if e != nil {
		return e
	}
	newRole, found, e := clearRecord(ctx, a.conn, old)
	if e == nil && !found && elsewhere != nil {
		e = a.withDB(ctx, elsewhere.Database, func(c *pgx.Conn) error {
			var err error
			newRole, found, err = clearRecord(ctx, c, old)
			return err
		})
	}
	if e != nil {
		return fmt.Errorf("pgrole: retired, but the rotation state of %q was not cleared: %w", old, classify(e))
	}
	if !found {
		return nil
	}
	var marked bool
	if a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_shdescription d JOIN pg_roles r ON r.oid = d.objoid
		WHERE d.classoid = 'pg_authid'::regclass AND r.rolname = $1 AND starts_with(d.description, $2))`, newRole, markerPrefix).Scan(&marked) == nil && marked {
		if _, e := a.conn.Exec(ctx, `COMMENT ON ROLE `+ident(newRole)+` IS NULL`); e != nil {
			return fmt.Errorf("pgrole: retired, but the marker comment on %q was not removed (COMMENT ON ROLE %s IS NULL): %w", newRole, ident(newRole), classify(e))
		}
	}
	return nil
}

// Retired returns when the last rotation from old was retired, as the
// history of the operator's database records it (ok false when it records
// none): a second retire of a dropped role can say it is done.
func (a *Admin) Retired(ctx context.Context, old string) (at time.Time, ok bool, err error) {
	var history bool
	if err := a.conn.QueryRow(ctx, `SELECT to_regclass('`+historyTable+`') IS NOT NULL`).Scan(&history); err != nil || !history {
		return at, false, err
	}
	err = a.conn.QueryRow(ctx, `SELECT finished FROM `+historyTable+` WHERE old_role = $1 AND outcome = 'retired' ORDER BY finished DESC LIMIT 1`, old).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, false, nil
	}
	if err != nil {
		return at, false, fmt.Errorf("pgrole: read the rotation history: %w", classify(err))
	}
	return at, true, nil
}

// planUse says whether the plan file planID was applied before: "" when
// never, otherwise how it ended ("retired", "rolled back", or "unfinished").
func (a *Admin) planUse(ctx context.Context, planID string) (string, time.Time, error) {
	var outcome string
	var at time.Time
	err := a.conn.QueryRow(ctx, `SELECT outcome, started FROM (
		SELECT 'unfinished' AS outcome, started, 0 AS k FROM `+stateTable+` s WHERE to_regclass('`+stateTable+`') IS NOT NULL AND to_jsonb(s)->'details'->>'plan_id' = $1
		UNION ALL SELECT outcome, started, 1 FROM `+historyTable+` WHERE plan_id = $1) x ORDER BY k LIMIT 1`, planID).Scan(&outcome, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", at, nil
	}
	return outcome, at, err
}

// resumeFromState applies an unfinished rotation to opts: without Resume it
// refuses; with it, New and the verifier come from the state.
func resumeFromState(st *RotationState, opts *PlanOptions, adminDB string) error {
	if st == nil {
		return nil
	}
	if st.Elsewhere(adminDB) {
		return errElsewhere(st, adminDB)
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
	// The plan's retire choices and expiry carry over unless given again.
	if opts.Retire == "" {
		opts.Retire = st.Retire
	}
	if opts.ReassignTo == "" {
		opts.ReassignTo = st.ReassignTo
	}
	if opts.Stable == "" {
		opts.Stable = st.Stable
	}
	if opts.ValidUntil == "" && st.ValidUntil != "" {
		opts.ValidUntil = st.ValidUntil
	}
	return nil
}
