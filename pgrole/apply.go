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

// Applied is one statement the server ran (SQL redacted): committed, unless
// an ApplyError lists it as RolledBack. A statement not run is a Step (a
// plan's, a dry run's, or the one that failed).
type Applied struct {
	Database string
	SQL      string
}

func (a Applied) String() string { return "[" + a.Database + "] " + a.SQL }

// Progress is one event of a phase as it runs (SetProgress): a transaction
// committed (Committed: its statements, now durable), or a lock conflict
// made it roll back and wait before trying again (Retry > 0).
type Progress struct {
	Phase     PhaseName
	Database  string
	Committed []Applied
	// Retry is the number of the attempt about to be made, after Wait;
	// Attempts the most there will be; Err the lock conflict.
	Retry, Attempts int
	Wait            time.Duration
	Err             error
}

// SetProgress makes every phase report each transaction as it commits and
// each lock-conflict retry, as they happen (nil: no reports), so an
// interrupted run shows what is already committed.
func (a *Admin) SetProgress(f func(Progress)) { a.progress = f }

// ApplyError reports a failed phase and exactly what it left behind:
// statements of earlier transactions stay committed (Applied); the
// statements of the failing transaction were rolled back.
type ApplyError struct {
	Phase      PhaseName
	Applied    []Applied // committed before the failure
	Failed     Step      // the statement that failed (its reviewable text), as in redisauth.ApplyError
	RolledBack []Applied // ran before it in the same transaction, rolled back
	Err        error
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pgrole: %s phase failed in database %q at %q: %v", e.Phase, e.Failed.Database, e.Failed.SQL, e.Err)
	if len(e.Applied) == 0 {
		b.WriteString("; nothing was committed")
	} else {
		fmt.Fprintf(&b, "; %d statement(s) were committed before it:", len(e.Applied))
		for _, s := range e.Applied {
			b.WriteString("\n  " + s.String())
		}
	}
	if len(e.RolledBack) > 0 {
		fmt.Fprintf(&b, "\n%d statement(s) of its transaction were rolled back", len(e.RolledBack))
	}
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// ApplyPhase runs one phase of p: create, grant and retire execute their
// statements (create and retire: each consecutive group of one database in
// one transaction; grant: short transactions; all under lock_timeout and
// retried on lock conflicts, see LockRetry);
// verify runs Admin.VerifyPrivileges; drain runs Admin.Drain with default options
// (terminating sessions in incident mode). Cutover is the caller's
// (applications and PgBouncer), so ApplyPhase refuses it. The retire phase checks
// first that dropping is safe, and recomputes the databases to clean from
// the catalogs.
func (a *Admin) ApplyPhase(ctx context.Context, p *Plan, phase PhaseName) ([]Applied, error) {
	ph := p.Phase(phase)
	if ph == nil {
		return nil, fmt.Errorf("%w: no phase %q", ErrBadPlan, phase)
	}
	switch phase {
	case PhaseVerify:
		return nil, a.VerifyPrivileges(ctx, p.Old, p.New)
	case PhaseCutover:
		return nil, fmt.Errorf("%w: cutover is done by the caller (PgBouncer userlist + RELOAD, the applications' credential file); see Rotate", ErrBadPlan)
	case PhaseDrain:
		return nil, a.Drain(ctx, p.Old, DrainOptions{Terminate: p.Incident})
	case PhaseGrant:
		return a.runShort(ctx, phase, ph.Steps)
	case PhaseCreate:
		if _, err := a.roleOID(ctx, p.New); err == nil && !p.resume {
			return nil, fmt.Errorf("%w: %q (a previous run created it? drop it or plan again)", ErrRoleExists, p.New)
		}
		if err := a.Precheck(ctx, p); err != nil {
			return nil, err
		}
	case PhaseRetire:
		steps := ph.Steps
		if p.Retire == RetireDrop {
			var err error
			if steps, err = a.checkDrop(ctx, p.Strategy, p.Old, p.Stable, p.ReassignTo); err != nil {
				return nil, err
			}
		}
		a.markRetireStarted(ctx, p.Old)
		applied, err := a.run(ctx, phase, steps)
		err = a.finishRotation(ctx, p.Old, err)
		if len(applied) > 0 {
			// Break-glass leaves the old role with LOGIN but a password no
			// application has; a partial drop has revoked its grants
			// somewhere. Either way going back to it is no longer safe.
			p.retired = true
		}
		return applied, err
	}
	return a.run(ctx, phase, ph.Steps)
}

// checkDrop refuses to drop role while something depends on it, and
// returns the drop statements for the databases it has dependencies in now.
func (a *Admin) checkDrop(ctx context.Context, strategy Strategy, role, stable, target string) ([]Step, error) {
	if strategy == Alternate && role == stable {
		return nil, fmt.Errorf("%w: %q; retire it with break-glass or nologin", ErrStableRole, role)
	}
	r, err := a.Introspect(ctx, role)
	if err != nil {
		return nil, err
	}
	if len(r.Members) > 0 {
		return nil, &DependencyError{Role: role, Members: memberNames(r.Members)}
	}
	// REASSIGN/DROP OWNED cannot run in a database that refuses
	// connections: DROP ROLE would fail after the others committed.
	var closed []string
	if err := a.conn.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT d.datname::text ORDER BY d.datname::text), '{}') FROM pg_shdepend s
		JOIN pg_database d ON d.oid = s.dbid WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1 AND NOT d.datallowconn`,
		r.OID).Scan(&closed); err != nil {
		return nil, fmt.Errorf("pgrole: read dependencies in databases without connections: %w", err)
	}
	if len(closed) > 0 {
		return nil, fmt.Errorf("%w: %q has dependencies in database(s) %s, which do not allow connections; nothing was changed: run ALTER DATABASE … ALLOW_CONNECTIONS true there for the retire (or remove the role's grants and objects in it), then retire again",
			ErrOwnsObjects, role, quoteList(closed))
	}
	if n, dbs, err := a.sessions(ctx, role); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d client session(s) of %q in %s; drain first (Drain, incident mode terminates them)", ErrSessionsRemain, n, role, strings.Join(dbs, ", "))
	}
	if len(r.Owned) > 0 && target == "" {
		return nil, fmt.Errorf("%w: %q owns %d object(s) (first: %s in %q); give a reassign target", ErrOwnsObjects, role, len(r.Owned), r.Owned[0].Object, r.Owned[0].Database)
	}
	if target != "" {
		if _, err := a.roleOID(ctx, target); err != nil {
			return nil, err
		}
	}
	steps := dropSteps(role, target, r.DependencyDatabases, a.cfg.Database)
	// Grants role made to other roles would be revoked by DROP OWNED: the
	// reassign target makes them again first, or the drop is refused.
	if steps, err = a.withRegrants(ctx, r, target, steps); err != nil {
		return nil, err
	}
	if a.super {
		steps = withRelationLocks(steps, r.OID)
	}
	// DROP ROLE runs in the same transaction as a last session check.
	last := len(steps) - 1
	steps = append(steps[:last], Step{SQL: "-- sessions check", exec: sessionGuard(role)}, steps[last])
	return steps, nil
}

// withRelationLocks starts each transaction of steps (each consecutive
// group of one database) by taking ACCESS SHARE locks, under the phase's
// lock_timeout, on the materialized views whose ACL names role (as grantee
// or grantor) or that it owns. The REVOKEs of DROP OWNED and the re-grants
// take no lock, so an application's REFRESH MATERIALIZED VIEW, which
// updates the same pg_class row, would fail with "tuple concurrently
// updated" if it overlapped their commit; with the lock it waits for this
// short transaction instead. Only materialized views: tables are altered
// concurrently far less often, and a lock per granted table (20,000 in one
// transaction) would exhaust the shared lock table.
func withRelationLocks(steps []Step, role uint32) []Step {
	lock := fmt.Sprintf(`DO $$DECLARE r record; BEGIN
FOR r IN SELECT DISTINCT c.oid, c.oid::regclass::text AS name FROM pg_class c LEFT JOIN LATERAL aclexplode(c.relacl) a ON true
  WHERE c.relkind = 'm' AND (c.relowner = %[1]d OR a.grantee = %[1]d OR a.grantor = %[1]d) ORDER BY c.oid
LOOP EXECUTE 'SELECT FROM ' || r.name || ' WHERE false'; END LOOP; END$$`, role)
	var out []Step
	for i, s := range steps {
		if i == 0 || steps[i-1].Database != s.Database {
			out = append(out, Step{Database: s.Database, SQL: "-- lock the role's materialized views (ACCESS SHARE)", exec: lock})
		}
		out = append(out, s)
	}
	return out
}

// sessionGuard fails the transaction if role has client sessions. The name
// sits inside a dollar-quoted body, which a name holding "$$" (ValidateName
// allows '$') would end early: there it is an escape string with every '$'
// spelled \x24.
func sessionGuard(role string) string {
	name := strings.ReplaceAll(literal(role), "$", `\x24`)
	if !strings.HasPrefix(name, "E") {
		name = "E" + name
	}
	return `DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = ` + name +
		` AND backend_type = 'client backend') THEN RAISE EXCEPTION 'sessions of the role remain' USING ERRCODE = '55006'; END IF; END$$`
}

// run executes steps, one transaction per consecutive group of the same
// database, each under SET LOCAL lock_timeout (LockRetry.Timeout) and
// retried as a whole on a lock conflict (see LockRetry and retryable): a
// REASSIGN OWNED or DROP OWNED that needs an ACCESS EXCLUSIVE lock held by
// a long application transaction gives up its place in the lock queue
// after lock_timeout instead of making every later query of the
// application wait behind it, and tries again after a backoff. A group's
// transaction commits as a whole or not at all, so repeating it is safe.
func (a *Admin) run(ctx context.Context, phase PhaseName, steps []Step) ([]Applied, error) {
	lr := a.lockRetry.withDefaults()
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", lr.Timeout.Milliseconds())
	var applied []Applied
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].Database == steps[i].Database {
			j++
		}
		group := steps[i:j]
		db := group[0].Database
		if db == "" {
			db = a.cfg.Database
		}
		var done []Applied
		var failed *Step
		var err error
		backoff := 50 * time.Millisecond
		tries := 0
		err = a.withDB(ctx, db, func(c *pgx.Conn) error {
			for {
				tries++
				done, failed = nil, nil
				err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, timeout); err != nil {
						failed = &Step{Database: db, SQL: "-- " + timeout}
						return err
					}
					if hasPassword(group) {
						// Keep even the verifier out of the server log: not
						// logged as run, nor as the statement of an error.
						if err := a.quietLogging(ctx, tx); err != nil {
							failed = &Step{Database: db, SQL: "-- logging settings check"}
							return err
						}
					}
					for _, s := range group {
						a.notices = nil
						_, err := tx.Exec(ctx, s.exec)
						if err == nil {
							err = a.noticeError()
						}
						if err != nil {
							failed = &Step{Database: db, SQL: s.SQL}
							return classify(dependencyDetail(err))
						}
						if !strings.HasPrefix(s.SQL, "--") {
							done = append(done, Applied{Database: db, SQL: s.SQL})
						}
					}
					return nil
				})
				if err == nil || !retryable(err) || tries >= lr.Attempts || ctx.Err() != nil {
					return err
				}
				pause := backoff/2 + rand.N(backoff/2+1)
				if a.progress != nil {
					a.progress(Progress{Phase: phase, Database: db, Retry: tries + 1, Attempts: lr.Attempts, Wait: pause, Err: err})
				}
				select {
				case <-ctx.Done():
					return err
				case <-time.After(pause):
				}
				if backoff *= 2; backoff > lr.MaxBackoff {
					backoff = lr.MaxBackoff
				}
			}
		})
		if err != nil {
			if failed == nil {
				failed = &Step{Database: db, SQL: "(connect or commit)"}
			}
			var pg *pgconn.PgError
			if errors.As(err, &pg) && pg.Code == "55006" {
				err = fmt.Errorf("%w: %w", ErrSessionsRemain, err)
			} else if retryable(err) {
				err = fmt.Errorf("%w (gave up after %d tries with lock_timeout %s: a concurrent transaction holds a lock this statement needs, e.g. a long application transaction on a table the role owns or is named in a policy of; its transaction was rolled back, nothing of it is left; find the holder with pg_locks / pg_blocking_pids() and run this again once it ends: the statements are safe to repeat)",
					err, tries, lr.Timeout)
			}
			return applied, &ApplyError{Phase: phase, Applied: applied, Failed: *failed, RolledBack: done, Err: err}
		}
		applied = append(applied, done...)
		if a.progress != nil && len(done) > 0 {
			a.progress(Progress{Phase: phase, Database: db, Committed: done})
		}
		i = j
	}
	return applied, nil
}

func hasPassword(steps []Step) bool {
	for _, s := range steps {
		if s.password {
			return true
		}
	}
	return false
}

// noticeError turns the warnings a GRANT or REVOKE gives instead of an
// error ("no privileges were granted", 01007; "not all privileges were
// revoked", 01006) into errors: a grant that silently granted nothing would
// otherwise surface only in the diff.
func (a *Admin) noticeError() error {
	for _, n := range a.notices {
		if n.Code == "01007" || n.Code == "01006" || n.Code == "01008" {
			pe := pgconn.PgError(*n)
			return &pe
		}
	}
	return nil
}

// DrainOptions tune Drain.
type DrainOptions struct {
	// Timeout bounds the wait (default 10 minutes).
	Timeout time.Duration
	// Poll is the interval between checks (default 1 s).
	Poll time.Duration
	// Terminate ends the role's client backends with pg_terminate_backend
	// (incident mode, §5.5) once TerminateAfter has passed.
	Terminate      bool
	TerminateAfter time.Duration
	// Progress is called after every check.
	Progress func(DrainProgress)
	// Nudge is called after every check that still sees sessions, e.g. to
	// RECONNECT the database on PgBouncer, whose idle server connections of
	// the old role otherwise live until server_idle_timeout/server_lifetime.
	// Its error ends the drain.
	Nudge func(ctx context.Context) error
	// Pending counts sessions of the role that pg_stat_activity does not
	// show, e.g. PgBouncer clients without a server connection
	// (PgBouncerClients); the drain waits for them too, except when
	// terminating (incident mode ends what it can and accepts the rest).
	// Its error ends the drain.
	Pending func(ctx context.Context, role string) (int, error)
}

// DrainProgress is one observation of Drain.
type DrainProgress struct {
	Role       string
	Sessions   int
	Databases  []string
	Elapsed    time.Duration
	Terminated int
}

// Drain waits until pg_stat_activity shows no client backend of role (in any
// database), or fails with ErrDrainTimeout. Behind PgBouncer, idle server
// connections of the role count too: RECONNECT the database, or keep
// server_lifetime short. A role that does not exist is ErrRoleNotFound, not
// "drained": a mistyped name must not pass for an empty pg_stat_activity.
func (a *Admin) Drain(ctx context.Context, role string, opt DrainOptions) error {
	if err := ValidateName(role); err != nil {
		return err
	}
	if _, err := a.roleOID(ctx, role); err != nil {
		return err
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Minute
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	start := time.Now()
	terminated := 0
	for {
		n, dbs, err := a.sessions(ctx, role)
		if err != nil {
			return err
		}
		if opt.Pending != nil && !opt.Terminate {
			k, err := opt.Pending(ctx, role)
			if err != nil {
				return fmt.Errorf("pgrole: drain %q: pending sessions: %w", role, err)
			}
			if k > 0 {
				n += k
				dbs = append(dbs, fmt.Sprintf("the connection pooler (%d client(s))", k))
			}
		}
		elapsed := time.Since(start)
		if n > 0 && opt.Terminate && elapsed >= opt.TerminateAfter {
			var k int
			if err := a.conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, role).Scan(&k); err != nil {
				return fmt.Errorf("pgrole: terminate sessions of %q: %w", role, classify(err))
			}
			terminated += k
		}
		if opt.Progress != nil {
			opt.Progress(DrainProgress{Role: role, Sessions: n, Databases: dbs, Elapsed: elapsed, Terminated: terminated})
		}
		if n == 0 {
			return nil
		}
		if opt.Nudge != nil {
			if err := opt.Nudge(ctx); err != nil {
				return fmt.Errorf("pgrole: drain %q: nudge: %w", role, err)
			}
		}
		if elapsed >= opt.Timeout {
			return fmt.Errorf("%w: %d client session(s) of %q remain in %s after %s; %s",
				ErrDrainTimeout, n, role, strings.Join(dbs, ", "), opt.Timeout, drainAdvice(role, opt.Nudge != nil))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opt.Poll):
		}
	}
}

func (a *Admin) sessions(ctx context.Context, role string) (int, []string, error) {
	var n int
	var dbs []string
	err := a.conn.QueryRow(ctx, `SELECT count(*)::int, coalesce(array_agg(DISTINCT datname::text) FILTER (WHERE datname IS NOT NULL), '{}')
		FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, role).Scan(&n, &dbs)
	if err != nil {
		return 0, nil, fmt.Errorf("pgrole: read pg_stat_activity: %w", err)
	}
	return n, dbs, nil
}

// Hooks are the caller's parts of Rotate.
type Hooks struct {
	// Cutover points applications (and PgBouncer) at the new role. It runs
	// after the diff is empty; an error stops the rotation before drain
	// (the old role still works: roll back with Rollback).
	Cutover func(ctx context.Context, p *Plan) error
	// Drain tunes the wait for the old role's sessions.
	Drain DrainOptions
	// BeforeRetire runs after drain, before retire (e.g. remove the old
	// role from PgBouncer's userlist).
	BeforeRetire func(ctx context.Context, p *Plan) error
}

// Rotate runs every phase of p in order: create, grant, verify (refusing
// cutover while the diff is not empty), Hooks.Cutover, drain, retire. It
// returns the statements applied; on failure the error says which phase
// failed and, for SQL phases, what was committed (*ApplyError).
func (a *Admin) Rotate(ctx context.Context, p *Plan, h Hooks) ([]Applied, error) {
	var all []Applied
	for _, ph := range []PhaseName{PhaseCreate, PhaseGrant} {
		done, err := a.ApplyPhase(ctx, p, ph)
		all = append(all, done...)
		if err != nil {
			return all, err
		}
	}
	if err := a.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		return all, err
	}
	if h.Cutover != nil {
		if err := h.Cutover(ctx, p); err != nil {
			return all, fmt.Errorf("pgrole: cutover: %w", err)
		}
	}
	d := h.Drain
	d.Terminate = d.Terminate || p.Incident
	if err := a.Drain(ctx, p.Old, d); err != nil {
		return all, err
	}
	if h.BeforeRetire != nil {
		if err := h.BeforeRetire(ctx, p); err != nil {
			return all, fmt.Errorf("pgrole: before retire: %w", err)
		}
	}
	done, err := a.ApplyPhase(ctx, p, PhaseRetire)
	all = append(all, done...)
	return all, err
}

// Rollback undoes a rotation before its retire phase (runbook §5.7): the
// applications must already use the old role again, and the new role's
// sessions must have ended (Drain, with p.New). It refuses once the old
// role was retired (ErrRolledForward): dropped or without LOGIN, or once
// this plan's retire phase committed anything (a break-glass password no
// application knows, or part of a drop), and while the new role still has
// sessions (ErrSessionsRemain), as Retire does. Otherwise it reassigns what
// the new role owns (to the stable role, or the old role under Mirror),
// drops what it was granted and drops it. Like redisauth.Admin.Rollback it
// takes no drain options: waiting is Drain's, refusing is Rollback's.
func (a *Admin) Rollback(ctx context.Context, p *Plan) ([]Applied, error) {
	if p.retired {
		return nil, fmt.Errorf("%w: the retire phase (%s) of this plan already ran on %q; rotate forward instead", ErrRolledForward, p.Retire, p.Old)
	}
	var login bool
	err := a.conn.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, p.Old).Scan(&login)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !login) {
		return nil, fmt.Errorf("%w: %q is dropped or cannot log in; rotate forward instead", ErrRolledForward, p.Old)
	}
	if err != nil {
		return nil, fmt.Errorf("pgrole: rollback: %w", err)
	}
	if _, err := a.roleOID(ctx, p.New); err != nil {
		return nil, err
	}
	target := p.Old
	if p.Strategy == Alternate {
		target = p.Stable
	}
	steps, err := a.checkDrop(ctx, Mirror, p.New, "", target)
	if err != nil {
		return nil, err
	}
	applied, err := a.run(ctx, "rollback", steps)
	return applied, a.finishRotation(ctx, p.Old, err)
}
