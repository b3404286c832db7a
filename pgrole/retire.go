package pgrole

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RetireOptions say how to retire a login role outside a Plan (the CLI's
// "rotate pg retire").
type RetireOptions struct {
	Role     string
	Strategy Strategy // default Alternate
	// Stable is the alternate strategy's stable role (default: the base of
	// Role); it is never dropped.
	Stable string
	Mode   RetireMode
	// ReassignTo receives owned objects on drop (Alternate: the stable role).
	ReassignTo string
	// BreakGlass is the new verifier for RetireBreakGlass.
	BreakGlass scram.Verifier
}

// Retire retires a login role: break-glass (new password verifier), NOLOGIN,
// or drop with every refusal ApplyPhase(PhaseRetire) makes.
func (a *Admin) Retire(ctx context.Context, o RetireOptions) (applied []Applied, err error) {
	defer func() { err = a.finishRotation(ctx, o.Role, err) }()
	if o.Mode == RetireBreakGlass && o.BreakGlass.IsZero() {
		return nil, fmt.Errorf("%w: break-glass needs a verifier", ErrBadPlan)
	}
	steps, err := a.retireSteps(ctx, o)
	if err != nil {
		return nil, err
	}
	a.markRetireStarted(ctx, o.Role)
	return a.run(ctx, PhaseRetire, steps)
}

// RetireDryRun returns the steps Retire would run (password material
// redacted; break-glass needs no verifier here), each naming its database,
// after making every check Retire makes, and changes nothing. Like
// redisauth.Admin.RetireDryRun it returns plan steps, not Applied: nothing
// ran. A refusal is the same error Retire would return.
func (a *Admin) RetireDryRun(ctx context.Context, o RetireOptions) ([]Step, error) {
	if o.Mode == RetireBreakGlass && o.BreakGlass.IsZero() {
		// A stand-in: only its redacted form is shown, never applied.
		v, err := scram.New(fingerprint.NewSecret([]byte("dry run, never applied")), scram.Options{Iterations: 1})
		if err != nil {
			return nil, err
		}
		o.BreakGlass = v
	}
	steps, err := a.retireSteps(ctx, o)
	if err != nil {
		return nil, err
	}
	var out []Step
	for _, s := range steps {
		if strings.HasPrefix(s.SQL, "--") {
			continue
		}
		db := s.Database
		if db == "" {
			db = a.cfg.Database
		}
		// Only the reviewable text: a dry run never executes, so the
		// statement to send (a caller's verifier) stays behind.
		out = append(out, Step{Database: db, SQL: s.SQL})
	}
	return out, nil
}

func (a *Admin) retireSteps(ctx context.Context, o RetireOptions) ([]Step, error) {
	if err := ValidateName(o.Role); err != nil {
		return nil, err
	}
	if _, err := a.roleOID(ctx, o.Role); err != nil {
		return nil, err
	}
	if o.Strategy == "" {
		o.Strategy = Alternate
	}
	if o.Strategy != Alternate && o.Strategy != Mirror {
		// An unknown strategy must not pass for "not alternate", which
		// would skip the stable role's protection.
		return nil, fmt.Errorf("%w: strategy %q: use alternate or mirror", ErrBadPlan, o.Strategy)
	}
	if o.Stable == "" {
		o.Stable, _ = SplitLoginName(o.Role)
	}
	if err := a.checkSuccessor(ctx, o); err != nil {
		return nil, err
	}
	switch o.Mode {
	case RetireBreakGlass:
		return []Step{{SQL: "ALTER ROLE " + ident(o.Role) + " PASSWORD '" + o.BreakGlass.Redacted() + "'",
			exec: "ALTER ROLE " + ident(o.Role) + " PASSWORD " + o.BreakGlass.SQLLiteral(), password: true}}, nil
	case RetireNoLogin:
		s := "ALTER ROLE " + ident(o.Role) + " NOLOGIN"
		return []Step{{SQL: s, exec: s}}, nil
	case RetireDrop:
		target := o.ReassignTo
		if o.Strategy == Alternate {
			target = o.Stable
		}
		return a.checkDrop(ctx, o.Strategy, o.Role, o.Stable, target)
	}
	return nil, fmt.Errorf("%w: retire mode %q: use break-glass, nologin or drop", ErrBadPlan, o.Mode)
}

// ErrSuccessorNotReady: retire was asked for a login role whose successor
// is missing or cannot yet do everything it can (the rotation did not get
// past verify); nothing was changed.
var ErrSuccessorNotReady = errors.New("pgrole: the successor of the role is not ready; retire refused, nothing was changed")

// checkSuccessor refuses a retire whose rotation did not get past verify.
// With a rotation recorded (in whichever database: the marker comment on
// the new role names it), its new role must exist and Diff(old, new) must
// find nothing the new role lacks, the gate cutover has (a right only the
// new role has is no reason to keep the old one: a retire stopped half-way
// leaves exactly that). A retire that already began is let through: its
// first part may have stripped the old role. With no record, under
// Alternate a successor login role must exist (a login member of the stable
// role, or the stable role itself when it logs in and is not the one
// retired): the drop moves what the old role owns to the stable role.
// Under Mirror with no record there is no successor to name, and a
// break-glass with no record is let through too: it is also the incident
// lock-out of a leaked password, which must not wait for a rotation.
func (a *Admin) checkSuccessor(ctx context.Context, o RetireOptions) error {
	st, err := a.Rotation(ctx, o.Role)
	if err != nil {
		return err
	}
	if st == nil {
		if o.Strategy != Alternate || o.Mode == RetireBreakGlass {
			return nil
		}
		var ok bool
		err := a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles s ON s.oid = m.roleid
			WHERE s.rolname = $1 AND r.rolcanlogin AND r.rolname <> $2) OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 AND rolcanlogin AND rolname <> $2)`, o.Stable, o.Role).Scan(&ok)
		if err != nil {
			return fmt.Errorf("pgrole: read the members of %q: %w", o.Stable, classify(err))
		}
		if !ok {
			return fmt.Errorf("%w: no login role other than %q is a member of the stable role %q, so nothing would take over from it; run the rotation first (rotate pg plan, then rotate pg apply)",
				ErrSuccessorNotReady, o.Role, o.Stable)
		}
		return nil
	}
	if st.RetireStarted {
		return nil
	}
	resume := "rotate pg apply --role " + o.Role + " --resume"
	if st.Elsewhere(a.cfg.Database) {
		resume += " (connected to database " + st.Database + ", which holds the record)"
	}
	if _, err := a.roleOID(ctx, st.New); err != nil {
		return fmt.Errorf("%w: its successor %q does not exist; run %s, or roll the rotation back", ErrSuccessorNotReady, st.New, resume)
	}
	ms, err := a.Diff(ctx, o.Role, st.New)
	if err != nil {
		return err
	}
	var missing []Difference
	for _, m := range ms {
		if !m.Extra() {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the rotation of %q did not get past verify (%w); run %s, then rotate pg verify --old %s --new %s",
			ErrSuccessorNotReady, o.Role, &DiffError{Old: o.Role, New: st.New, Differences: missing}, resume, o.Role, st.New)
	}
	return nil
}

// StoredVerifier returns the SCRAM verifier the server stores for role
// (pg_authid, superuser only), for PgBouncer's userlist: pass-through needs
// the identical verifier, not one computed again with another salt.
func (a *Admin) StoredVerifier(ctx context.Context, role string) (scram.Verifier, error) {
	var pw *string
	err := a.conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&pw)
	if errors.Is(err, pgx.ErrNoRows) {
		return scram.Verifier{}, fmt.Errorf("%w: %q", ErrRoleNotFound, role)
	}
	if err != nil {
		return scram.Verifier{}, fmt.Errorf("pgrole: read the verifier of %q (needs superuser): %w", role, classify(err))
	}
	if pw == nil {
		return scram.Verifier{}, fmt.Errorf("pgrole: %q has no password", role)
	}
	v, err := scram.Parse(*pw)
	if err != nil {
		return scram.Verifier{}, fmt.Errorf("pgrole: %q has no SCRAM-SHA-256 verifier (md5 or plaintext?): set one with pgrole: %w", role, err)
	}
	return v, nil
}

// dependencyDetailError is a DROP ROLE (or DROP OWNED) that failed with
// SQLSTATE 2BP01 (dependent objects still exist): its message carries
// PostgreSQL's DETAIL, which names each remaining dependency (e.g.
// "privileges for column c of table t"), since pgconn's message leaves it
// out. It unwraps to the *pgconn.PgError.
type dependencyDetailError struct{ Err *pgconn.PgError }

func (e *dependencyDetailError) Error() string {
	return e.Err.Error() + "; the dependencies: " + strings.ReplaceAll(e.Err.Detail, "\n", "; ")
}

func (e *dependencyDetailError) Unwrap() error { return e.Err }

// dependencyDetail wraps a 2BP01 error with a DETAIL in a
// *dependencyDetailError; any other error is returned as it is. The DETAIL
// of 2BP01 lists catalog objects only, never data values.
func dependencyDetail(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "2BP01" && pg.Detail != "" {
		return &dependencyDetailError{Err: pg}
	}
	return err
}

// LoginMembers returns the login roles that are direct members of role,
// newest generation first (by the _vN suffix of SplitLoginName, then name):
// under the alternate strategy, the login roles in use with the stable role
// role, of which the next rotation starts from the current one.
func (a *Admin) LoginMembers(ctx context.Context, role string) ([]string, error) {
	rows, err := a.conn.Query(ctx, `SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles s ON s.oid = m.roleid
		WHERE s.rolname = $1 AND r.rolcanlogin ORDER BY 1`, role)
	if err != nil {
		return nil, fmt.Errorf("pgrole: read the members of %q: %w", role, classify(err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgrole: read the members of %q: %w", role, classify(err))
	}
	sort.SliceStable(names, func(i, j int) bool {
		_, gi := SplitLoginName(names[i])
		_, gj := SplitLoginName(names[j])
		return gi > gj
	})
	return names, nil
}
