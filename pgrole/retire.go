package pgrole

import (
	"context"
	"errors"
	"fmt"

	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
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
// or drop with every refusal Apply(PhaseRetire) makes.
func (a *Admin) Retire(ctx context.Context, o RetireOptions) (applied []Applied, err error) {
	defer func() { err = a.finishRotation(ctx, o.Role, err) }()
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
	switch o.Mode {
	case RetireBreakGlass:
		if o.BreakGlass.IsZero() {
			return nil, fmt.Errorf("%w: break-glass needs a verifier", ErrBadPlan)
		}
		return a.run(ctx, PhaseRetire, []Step{{SQL: "ALTER ROLE " + ident(o.Role) + " PASSWORD '" + o.BreakGlass.Redacted() + "'",
			exec: "ALTER ROLE " + ident(o.Role) + " PASSWORD " + o.BreakGlass.SQLLiteral(), password: true}})
	case RetireNoLogin:
		s := "ALTER ROLE " + ident(o.Role) + " NOLOGIN"
		return a.run(ctx, PhaseRetire, []Step{{SQL: s, exec: s}})
	case RetireDrop:
		target := o.ReassignTo
		if o.Strategy == Alternate {
			target = o.Stable
		}
		steps, err := a.checkDrop(ctx, o.Strategy, o.Role, o.Stable, target)
		if err != nil {
			return nil, err
		}
		return a.run(ctx, PhaseRetire, steps)
	}
	return nil, fmt.Errorf("%w: retire mode %q: use break-glass, nologin or drop", ErrBadPlan, o.Mode)
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
