// Package pgrole rotates a PostgreSQL login role's password with zero
// downtime, by swapping roles instead of passwords (runbook §5): a new login
// role is created, given the privileges of the old one, verified, cut over
// to, drained and retired. It never drops a role something still depends on.
//
// Two strategies:
//   - Alternate (default): privileges stay on a stable role (the original
//     role, e.g. "app"); login roles app_v2, app_v3 … are members of it and
//     take turns. Retiring a login role reassigns what it owns to the stable
//     role and drops it. The stable role is never dropped: it keeps a
//     break-glass password or loses LOGIN.
//   - Mirror: every privilege of the old role is copied explicitly (database,
//     tablespaces, parameters, schemas, tables, columns, sequences,
//     functions, types, large objects, foreign-data wrappers, foreign
//     servers, languages, default privileges, settings, attributes,
//     memberships, RLS policies) until the privilege diff is empty; then the
//     old role may be dropped. Owner rights are not copied: the diff lists
//     them and cutover is refused until ownership moves to a role both
//     login roles inherit.
//
// User mappings are per role, never inherited: the new login role gets a
// copy of the old role's (mirror; alternate with NoSetRole; an alternate
// login role otherwise runs as the stable role and uses its mapping), the
// options read server-side when the plan runs: a mapping's values (a
// remote password) never reach the plan, its file or the client.
//
// Passwords reach the server only as SCRAM-SHA-256 verifiers computed
// client-side (package pgrole/scram); plans print them redacted. The same
// verifier goes into PgBouncer's userlist.txt (package pgrole/pgbouncer).
//
// The common path:
//
//	adm, _ := pgrole.Connect(ctx, adminDSN)
//	v, _ := scram.New(newPassword, scram.Options{})
//	plan, _ := adm.Plan(ctx, pgrole.PlanOptions{Role: "app", Verifier: v})
//	fmt.Print(plan.Render())                       // review: SQL, password redacted
//	_, err := adm.Rotate(ctx, plan, pgrole.Hooks{
//		Cutover: func(ctx context.Context, p *pgrole.Plan) error { return nil /* userlist + RELOAD, write the DSN file */ },
//		Drain:   pgrole.DrainOptions{Timeout: 10 * time.Minute},
//	})
//
// Applications pick up the new role without a restart through a pgxpool
// BeforeConnect hook (DSNFile, PasswordFile) as their connections recycle.
//
// Rollback (§5.7): until the retire phase has run, the old role still logs
// in. Point the applications back at it, drain the new role, and call
// Admin.Rollback (rotate pg rollback), which drops the new role (after
// reassigning anything it created). After retire with drop there is no
// rollback.
//
// A rotation is recorded from its create phase until retire or rollback
// (RotationState, in the table rotation.pgrole_state of the operator's
// database, and marked on the new role by a comment every database sees):
// a second rotation of the same role is refused meanwhile, from any
// database of the cluster, and Resume continues it with the same verifier.
// A plan can be written to a file (CreatePlanFile) and applied later
// exactly as reviewed, once (ReadPlan), refused if the catalog changed, if
// the file was edited or if it was applied before. The new role's VALID
// UNTIL is the password's: PlanOptions.ValidUntil, or the old role's while
// it is in the future. Before the create phase commits, Precheck
// dry-runs the statements so an operator lacking a privilege is refused with
// nothing left behind; a verifier is never sent while the server's logging
// settings (log_statement…, pgaudit.log) would record it, or
// pg_stat_statements keep its text (SetAllowLoggedVerifier overrides).
package pgrole

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MinServerVersion is the oldest PostgreSQL (server_version_num) pgrole
// supports.
const MinServerVersion = 130000

var (
	// ErrRoleNotFound: the role does not exist.
	ErrRoleNotFound = errors.New("pgrole: role not found")
	// ErrRoleExists: the role to create already exists.
	ErrRoleExists = errors.New("pgrole: role already exists")
	// ErrInvalidName: a role name pgrole refuses (see ValidateName).
	ErrInvalidName = errors.New("pgrole: invalid role name")
	// ErrNameTooLong: a role name longer than 63 bytes.
	ErrNameTooLong = errors.New("pgrole: role name too long")
	// ErrServerTooOld: the server is older than MinServerVersion.
	ErrServerTooOld = errors.New("pgrole: PostgreSQL server too old")
	// ErrInsufficientPrivilege: the operator's role may not do what the plan
	// needs (SQLSTATE 42501, or a GRANT that granted nothing).
	ErrInsufficientPrivilege = errors.New("pgrole: operator lacks a privilege")
	// ErrPrivilegeDiff: the new role cannot do something the old one can;
	// cutover is refused. The error is a *DiffError.
	ErrPrivilegeDiff = errors.New("pgrole: new role lacks privileges of the old role")
	// ErrDependentMembers: dropping the role would strip roles that are
	// members of it (e.g. the new login role in the alternate strategy).
	ErrDependentMembers = errors.New("pgrole: other roles depend on this role through membership")
	// ErrSessionsRemain: the role still has client sessions.
	ErrSessionsRemain = errors.New("pgrole: sessions of the role remain")
	// ErrOwnsObjects: the role owns objects and no reassign target is set.
	ErrOwnsObjects = errors.New("pgrole: role owns objects and no reassign target was given")
	// ErrStableRole: the stable role of the alternate strategy is never
	// dropped.
	ErrStableRole = errors.New("pgrole: the stable role holds the privileges and is never dropped")
	// ErrDrainTimeout: sessions of the old role remained past the timeout.
	ErrDrainTimeout = errors.New("pgrole: drain timed out")
	// ErrRolledForward: rollback is impossible because the old role was
	// retired (dropped, without LOGIN, or given a break-glass password).
	ErrRolledForward = errors.New("pgrole: the old role was retired; rollback is no longer possible")
	// ErrUnreachableDatabase: the role has grants, objects or policies in
	// a database pgrole cannot connect to (ALLOW_CONNECTIONS false, or the
	// operator lacks CONNECT), so a plan cannot copy them; the error lists
	// the databases.
	ErrUnreachableDatabase = errors.New("pgrole: the role has dependencies in a database pgrole cannot connect to")
	// ErrBadPlan: the plan or its options are inconsistent.
	ErrBadPlan = errors.New("pgrole: invalid plan")
)

// NameError reports a refused role name. Err is ErrInvalidName or
// ErrNameTooLong.
type NameError struct {
	Name   string
	Reason string
	Err    error
}

func (e *NameError) Error() string {
	return fmt.Sprintf("pgrole: role name %q refused: %s", truncate(e.Name, 80), e.Reason)
}
func (e *NameError) Unwrap() error { return e.Err }

// truncate shortens s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Admin is an operator connection to a cluster: a superuser, or a role with
// CREATEROLE (and ownership of what the plan alters). It connects to other
// databases of the same cluster with the same credentials when a role has
// dependencies there. Not safe for concurrent use.
type Admin struct {
	cfg     *pgx.ConnConfig
	conn    *pgx.Conn
	version int
	user    string
	super   bool
	create  bool
	// allowLogged lets a verifier be sent although logging would record it.
	allowLogged bool
	notices     []*pgconn.Notice // warnings of the statement being run
	// lockRetry tunes the grant phase (SetLockRetry).
	lockRetry LockRetry
	// progress receives commits and retries as they happen (SetProgress).
	progress func(Progress)
}

// Connect opens an operator connection from a DSN. The error never contains
// the DSN's password.
func Connect(ctx context.Context, dsn string) (*Admin, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgrole: parse admin DSN: %w", redactErr(err, dsn))
	}
	return ConnectConfig(ctx, cfg)
}

// ConnectConfig is Connect with a parsed config.
func ConnectConfig(ctx context.Context, cfg *pgx.ConnConfig) (*Admin, error) {
	a := &Admin{cfg: cfg}
	c, err := a.connectTo(ctx, "")
	if err != nil {
		return nil, err
	}
	a.conn = c
	if err := c.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_user::text,
		r.rolsuper, r.rolcreaterole FROM pg_roles r WHERE r.rolname = current_user`).Scan(&a.version, &a.user, &a.super, &a.create); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("pgrole: read server version and operator role: %w", err)
	}
	if err := checkVersion(a.version); err != nil {
		c.Close(ctx)
		return nil, err
	}
	return a, nil
}

func checkVersion(v int) error {
	if v < MinServerVersion {
		return fmt.Errorf("%w: server_version_num %d, pgrole needs %d or later", ErrServerTooOld, v, MinServerVersion)
	}
	return nil
}

// Close closes the operator connection.
func (a *Admin) Close(ctx context.Context) error { return a.conn.Close(ctx) }

// ServerVersion returns server_version_num.
func (a *Admin) ServerVersion() int { return a.version }

// Database returns the operator connection's database.
func (a *Admin) Database() string { return a.cfg.Database }

func (a *Admin) connectTo(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg := a.cfg.Copy()
	if db != "" {
		cfg.Database = db
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { a.notices = append(a.notices, n) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgrole: connect to database %q as %q: %w", cfg.Database, cfg.User, err)
	}
	return c, nil
}

// withDB runs f on a connection to db (the operator connection when db is
// the admin database).
func (a *Admin) withDB(ctx context.Context, db string, f func(*pgx.Conn) error) error {
	if db == "" || db == a.cfg.Database {
		return f(a.conn)
	}
	c, err := a.connectTo(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return f(c)
}

// classify wraps Postgres errors that mean "the operator may not" into
// ErrInsufficientPrivilege.
func classify(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "42501" || pg.Code == "01007") {
		return fmt.Errorf("%w: %w", ErrInsufficientPrivilege, err)
	}
	return err
}

func redactErr(err error, dsn string) error {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "[redacted]")
		}
	}
	if strings.Contains(msg, "password=") {
		msg = "DSN could not be parsed (details withheld: it contains a password)"
	}
	return errors.New(msg)
}
