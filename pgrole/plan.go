package pgrole

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/pgrole/scram"
)

// Strategy selects how the new login role gets the old one's privileges.
type Strategy string

const (
	// Alternate keeps privileges on a stable role; login roles are members.
	Alternate Strategy = "alternate"
	// Mirror copies every privilege to the new role explicitly.
	Mirror Strategy = "mirror"
)

// RetireMode is what happens to the old login role at the end.
type RetireMode string

const (
	// RetireBreakGlass resets the old role's password to a fresh random one
	// (Plan.BreakGlassPassword) and keeps it.
	RetireBreakGlass RetireMode = "break-glass"
	// RetireNoLogin keeps the old role but removes LOGIN.
	RetireNoLogin RetireMode = "nologin"
	// RetireDrop reassigns what it owns, drops what it was granted in every
	// database, and drops it.
	RetireDrop RetireMode = "drop"
)

// PhaseName names a phase of a rotation, in order.
type PhaseName string

const (
	PhaseCreate  PhaseName = "create"
	PhaseGrant   PhaseName = "grant"
	PhaseVerify  PhaseName = "verify"
	PhaseCutover PhaseName = "cutover"
	PhaseDrain   PhaseName = "drain"
	PhaseRetire  PhaseName = "retire"
)

// Phases lists the phases in the order they run.
var Phases = []PhaseName{PhaseCreate, PhaseGrant, PhaseVerify, PhaseCutover, PhaseDrain, PhaseRetire}

// PlanOptions say what to rotate and how.
type PlanOptions struct {
	// Role is the login role in use now (the old role).
	Role string
	// Strategy defaults to Alternate.
	Strategy Strategy
	// Stable is the role holding the privileges under Alternate; default:
	// the base of Role ("app" for "app_v3").
	Stable string
	// New overrides the next login role name (default: NextLoginName).
	New string
	// Verifier is the new role's SCRAM-SHA-256 verifier (scram.New).
	Verifier scram.Verifier
	// Retire defaults to break-glass when Role is the stable role (or under
	// Mirror), and to drop for an earlier login role under Alternate.
	Retire RetireMode
	// ReassignTo receives what the old role owns when it is dropped.
	// Alternate: always the stable role. Mirror: required if it owns
	// anything (usually the new role).
	ReassignTo string
	// Incident terminates the old role's sessions instead of waiting (§5.5).
	Incident bool
	// Resume continues a rotation whose create phase already ran: create
	// becomes ALTER ROLE … PASSWORD, and the grant statements, which are
	// idempotent, run again. When the rotation is recorded (see
	// RotationState; every create phase records it) New, Strategy and the
	// Verifier come from the record, so the salt never changes; otherwise
	// New must name the existing role. Without Resume, Plan refuses a role
	// whose rotation is unfinished (ErrRotationInProgress).
	Resume bool
	// NoSetRole (Alternate) leaves out the default ALTER ROLE <new> SET
	// role TO <stable>, which makes sessions of the login role run as the
	// stable role (current_user; session_user and pg_stat_activity still
	// show the login role), so objects the application creates belong to
	// the stable role instead of a login role that will be dropped.
	NoSetRole bool
	// ValidUntil is the new role's VALID UNTIL, the expiry of its password
	// (a property of the password, not a privilege): an RFC 3339 time, or
	// "infinity" for never. Default: the old role's when it is in the future
	// (copied; the plan says so); Plan refuses when the old role's has
	// passed, as a new role that cannot log in must never be created
	// silently, and when this one has passed.
	ValidUntil string
	// Rand is the random source of the break-glass password and its salt
	// (default crypto/rand); tests make plans deterministic with it.
	Rand io.Reader

	// resumeAttrs: the attributes the new role has now (Resume): those the
	// old role lacks are removed by the resumed create phase.
	resumeAttrs *Attributes
	// planID: the plan file's digest (ReadPlan), recorded by the create phase.
	planID string
}

// Step is one SQL statement of a plan, or of a dry run
// (Admin.RetireDryRun): not yet run. SQL is the reviewable text, with any
// password material redacted; the executor sends the real statement.
// Once run and committed, a statement is an Applied.
type Step struct {
	Database string // "" = the operator's database
	SQL      string
	exec     string
	dryExec  string // for Precheck: exec with the password as NULL (user mappings: no option read)
	// password: the statement carries a verifier, or copies a user
	// mapping's options server-side; it runs under the log guard.
	password bool
	// lockRel is a relation to take an ACCESS SHARE lock on first (a GRANT
	// on it takes none); alone: the statement takes an ACCESS EXCLUSIVE
	// lock and runs in a transaction of its own (see LockRetry).
	lockRel string
	alone   bool
	// shared: a cluster-wide statement (role, membership, setting, database
	// or parameter privilege) that runs in the operator's database;
	// Precheck runs it before each other database's statements too.
	shared bool
}

// String returns the reviewable statement as Applied prints one,
// "[database] SQL" ("[] SQL" for the operator's database when Database is
// ""); it never holds password material, and neither does GoString (%#v),
// which would otherwise print the statement the executor sends.
func (s Step) String() string { return "[" + s.Database + "] " + s.SQL }

// GoString is String.
func (s Step) GoString() string { return s.String() }

// Phase is one phase of a plan: statements grouped by database (one
// transaction per consecutive group) and the checks that gate the next phase.
type Phase struct {
	Name   PhaseName
	Steps  []Step
	Checks []string
}

// Plan is a reviewable, deterministic rotation plan.
type Plan struct {
	Strategy      Strategy
	Old, New      string
	Stable        string // Alternate only
	Retire        RetireMode
	ReassignTo    string
	Incident      bool
	ServerVersion int
	AdminDatabase string
	Phases        []Phase
	// Notes explain choices a reviewer should know about.
	Notes []string

	resume             bool
	validUntil         string // the new role's VALID UNTIL ("" = none, never expires)
	validUntilGiven    bool   // validUntil is PlanOptions.ValidUntil (not copied)
	planID             string // the plan file's digest, when applied from one
	digest             string // of the introspected catalog (Admin.Plan)
	retired            bool   // the retire phase committed something: no rollback
	verifier           scram.Verifier
	breakGlass         scram.Verifier
	breakGlassPassword fingerprint.Secret
	resumeAttrs        *Attributes
	ownerWarning       string
}

// Verifier returns the new role's verifier (for PgBouncer's userlist).
func (p *Plan) Verifier() scram.Verifier { return p.verifier }

// BreakGlassPassword returns the old role's new random password under
// RetireBreakGlass (zero otherwise). Store it in the break-glass vault; it
// prints redacted.
func (p *Plan) BreakGlassPassword() fingerprint.Secret { return p.breakGlassPassword }

// BreakGlassVerifier returns the verifier of BreakGlassPassword.
func (p *Plan) BreakGlassVerifier() scram.Verifier { return p.breakGlass }

// Phase returns the named phase.
func (p *Plan) Phase(name PhaseName) *Phase {
	for i := range p.Phases {
		if p.Phases[i].Name == name {
			return &p.Phases[i]
		}
	}
	return nil
}

// Plan introspects opts.Role and builds the rotation plan.
func (a *Admin) Plan(ctx context.Context, opts PlanOptions) (*Plan, error) {
	if err := ValidateName(opts.Role); err != nil {
		return nil, err
	}
	if !a.super && !a.create {
		return nil, fmt.Errorf("%w: operator role %q is neither superuser nor CREATEROLE: it cannot create login roles; connect as a superuser or grant it CREATEROLE",
			ErrInsufficientPrivilege, a.user)
	}
	if err := a.checkStateAccess(ctx); err != nil {
		return nil, err
	}
	st, err := a.Rotation(ctx, opts.Role)
	if err != nil {
		return nil, err
	}
	if err := resumeFromState(st, &opts, a.cfg.Database); err != nil {
		return nil, err
	}
	old, err := a.Introspect(ctx, opts.Role)
	if err != nil {
		return nil, err
	}
	p, err := a.buildPlan(ctx, old, opts)
	if err != nil {
		return nil, err
	}
	if p.digest, err = catalogDigest(old); err != nil {
		return nil, err
	}
	p.Notes = append(p.Notes, databaseNote(old))
	return p, nil
}

// buildPlan is BuildPlan with the checks that need the server: the new
// role's VALID UNTIL must be in the future, a resumed rotation's new role
// gets its extra attributes removed.
func (a *Admin) buildPlan(ctx context.Context, old *Role, opts PlanOptions) (*Plan, error) {
	if err := a.checkValidUntil(ctx, old, opts.ValidUntil); err != nil {
		return nil, err
	}
	if opts.Resume && opts.New != "" {
		var at Attributes
		if err := a.conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`, opts.New).
			Scan(&at.Superuser, &at.CreateRole, &at.CreateDB, &at.Replication, &at.BypassRLS); err == nil {
			opts.resumeAttrs = &at
		}
	}
	return BuildPlan(old, a.cfg.Database, opts, a.roleExists(ctx))
}

// ownerWarning is the warning for a mirror plan of a role that owns
// objects: owner rights are not copied, so verify (Diff's OWNER findings)
// will refuse cutover after the create and grant phases committed. Default
// privileges and user mappings, which pg_shdepend also records as owned,
// are copied and not listed.
func ownerWarning(old *Role, p *Plan) string {
	var names []string
	for _, shared := range []bool{false, true} {
		for _, o := range old.Owned {
			if (o.Database == "") != shared || strings.HasPrefix(o.Object, "default privileges ") || strings.HasPrefix(o.Object, "user mapping ") {
				continue
			}
			if shared {
				names = append(names, o.Object)
			} else {
				names = append(names, fmt.Sprintf("%s (database %q)", o.Object, o.Database))
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	more := ""
	if len(names) > 10 {
		more = fmt.Sprintf(" … and %d more", len(names)-10)
		names = names[:10]
	}
	return fmt.Sprintf("%s owns %s%s: owner rights are not copied, so verify will refuse cutover to %s after the create and grant phases commit; first move ownership to a NOLOGIN owner role both login roles are members of (CREATE ROLE app_owner NOLOGIN; GRANT app_owner TO %s; ALTER … OWNER TO app_owner, or REASSIGN OWNED BY %s TO app_owner in each database), then plan again",
		ident(p.Old), strings.Join(names, ", "), more, ident(p.New), ident(p.Old), ident(p.Old))
}

// OwnerWarning is, for a mirror plan of a role that owns objects whose
// owner rights the new role cannot have, the warning naming them and the
// fix ("" otherwise): applied as it is, the plan commits the new role and
// its grants and then fails verify. The plan's notes carry it too.
func (p *Plan) OwnerWarning() string { return p.ownerWarning }

// checkValidUntil refuses a plan whose new role could not log in: the
// given VALID UNTIL has passed, or none is given and the old role's (which
// would be copied) has.
func (a *Admin) checkValidUntil(ctx context.Context, old *Role, given string) error {
	if given != "" {
		v, err := normalizeValidUntil(given)
		if err != nil {
			return err
		}
		var passed bool
		if err := a.conn.QueryRow(ctx, `SELECT $1::timestamptz <= now()`, v).Scan(&passed); err != nil {
			return fmt.Errorf("pgrole: check VALID UNTIL: %w", err)
		}
		if passed {
			return fmt.Errorf("%w: VALID UNTIL %s (--valid-until) has passed: the new role could not log in; give a time in the future, or infinity", ErrBadPlan, given)
		}
		return nil
	}
	if old.Attributes.ValidUntil == "" {
		return nil
	}
	var passed bool
	if err := a.conn.QueryRow(ctx, `SELECT $1::timestamptz <= now()`, old.Attributes.ValidUntil).Scan(&passed); err != nil {
		return fmt.Errorf("pgrole: check VALID UNTIL: %w", err)
	}
	if passed {
		return fmt.Errorf("%w: the password of %q expired (VALID UNTIL %s): copied, the new role could not log in with its new password; nothing was changed: give the new role its own expiry with --valid-until (PlanOptions.ValidUntil: an RFC 3339 time such as 2027-12-31T00:00:00Z, or infinity)",
			ErrBadPlan, old.Name, old.Attributes.ValidUntil)
	}
	return nil
}

// normalizeValidUntil turns an RFC 3339 time or "infinity" into the
// literal the plan writes (UTC).
func normalizeValidUntil(s string) (string, error) {
	if strings.EqualFold(s, "infinity") {
		return "infinity", nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		// The form a plan writes (and records), read back on resume.
		t, err = time.Parse("2006-01-02 15:04:05.999999-07", s)
	}
	if err != nil {
		return "", fmt.Errorf("%w: VALID UNTIL %q: give an RFC 3339 time (2027-12-31T00:00:00Z) or infinity", ErrBadPlan, truncate(s, 40))
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000+00"), nil
}

// databaseNote tells the reviewer which databases the plan covers. In any
// other database the role can connect to it has only what PUBLIC and its
// memberships give (no pg_shdepend entry, not the owner), which verify
// compares cluster-wide.
func databaseNote(old *Role) string {
	note := "databases covered (where the role or a role it inherits has grants, objects, default privileges or policies, or that it owns; and the operator's): " +
		quoteList(old.Databases) + "; in any other database it has only what PUBLIC and its memberships give, compared cluster-wide"
	for _, u := range old.Unreachable {
		note += fmt.Sprintf("; not scannable: %q (%s)", u.Name, u.Reason)
	}
	return note
}

func (a *Admin) roleExists(ctx context.Context) func(string) bool {
	return func(name string) bool {
		var ok bool
		_ = a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&ok)
		return ok
	}
}

// BuildPlan builds a plan from a snapshot of the old role (Admin.Introspect)
// without touching the server: the same snapshot and options give the same
// plan. exists reports whether a role name is taken.
func BuildPlan(old *Role, adminDB string, opts PlanOptions, exists func(string) bool) (*Plan, error) {
	if old == nil || old.Name != opts.Role {
		return nil, fmt.Errorf("%w: the snapshot is not of role %q", ErrBadPlan, opts.Role)
	}
	if err := ValidateName(opts.Role); err != nil {
		return nil, err
	}
	if err := checkVersion(old.ServerVersion); err != nil {
		return nil, err
	}
	if opts.Verifier.IsZero() {
		return nil, fmt.Errorf("%w: no verifier for the new role: compute one with scram.New", ErrBadPlan)
	}
	p := &Plan{Strategy: opts.Strategy, Old: opts.Role, ServerVersion: old.ServerVersion, AdminDatabase: adminDB,
		Incident: opts.Incident, verifier: opts.Verifier}
	if p.Strategy == "" {
		p.Strategy = Alternate
	}
	if p.Strategy != Alternate && p.Strategy != Mirror {
		return nil, fmt.Errorf("%w: strategy %q: use alternate or mirror", ErrBadPlan, p.Strategy)
	}
	base, _ := SplitLoginName(opts.Role)
	if p.Strategy == Alternate {
		p.Stable = opts.Stable
		if p.Stable == "" {
			p.Stable = base
		}
		if err := ValidateName(p.Stable); err != nil {
			return nil, err
		}
		if p.Stable != p.Old && !exists(p.Stable) {
			return nil, fmt.Errorf("%w: stable role %q of %q does not exist; pass the stable role explicitly", ErrRoleNotFound, p.Stable, p.Old)
		}
		base = p.Stable
	}
	p.New = opts.New
	if p.New == "" {
		var err error
		if p.New, err = NextLoginName(base, p.Old, exists); err != nil {
			return nil, err
		}
	} else if err := ValidateName(p.New); err != nil {
		return nil, err
	} else if exists(p.New) && !opts.Resume {
		return nil, fmt.Errorf("%w: %q; resume the rotation (Resume, --resume), pick another name or drop it first", ErrRoleExists, p.New)
	} else if !exists(p.New) && opts.Resume {
		return nil, fmt.Errorf("%w: %q: nothing to resume", ErrRoleNotFound, p.New)
	}
	if opts.Resume && opts.New == "" {
		return nil, fmt.Errorf("%w: Resume needs New, the role the interrupted rotation created", ErrBadPlan)
	}
	p.resume = opts.Resume
	p.resumeAttrs, p.planID = opts.resumeAttrs, opts.planID
	if opts.ValidUntil != "" {
		v, err := normalizeValidUntil(opts.ValidUntil)
		if err != nil {
			return nil, err
		}
		p.validUntil, p.validUntilGiven = v, true
		was := old.Attributes.ValidUntil
		if was == "" {
			was = "none (never expires)"
		}
		p.Notes = append(p.Notes, fmt.Sprintf("VALID UNTIL %s set by this plan (ValidUntil, --valid-until) for the new password; the old role's: %s; verify of this rotation accepts it", v, was))
	} else if v := old.Attributes.ValidUntil; v != "" && v != "infinity" {
		p.validUntil = v
		p.Notes = append(p.Notes, fmt.Sprintf("VALID UNTIL %s copied from %s: the new password expires when the old one does; set a fresh expiry with --valid-until (PlanOptions.ValidUntil: an RFC 3339 time, or infinity)", v, ident(p.Old)))
	}
	if p.New == p.Old || p.New == p.Stable {
		return nil, fmt.Errorf("%w: the new role must differ from the old and the stable role", ErrBadPlan)
	}

	p.Retire = opts.Retire
	oldIsStable := p.Strategy == Alternate && p.Old == p.Stable
	if p.Retire == "" {
		if p.Strategy == Alternate && !oldIsStable {
			p.Retire = RetireDrop
		} else {
			p.Retire = RetireBreakGlass
		}
	}
	switch p.Retire {
	case RetireBreakGlass, RetireNoLogin, RetireDrop:
	default:
		return nil, fmt.Errorf("%w: retire mode %q: use break-glass, nologin or drop", ErrBadPlan, p.Retire)
	}
	if p.Retire == RetireDrop {
		if oldIsStable {
			return nil, fmt.Errorf("%w: %q would lose every privilege it inherits from %q (the runbook's Option A: DROP OWNED BY / DROP ROLE %s strips its members); retire it with break-glass or nologin, or use the mirror strategy",
				ErrStableRole, p.New, p.Old, p.Old)
		}
		if len(old.Members) > 0 {
			return nil, &DependencyError{Role: p.Old, Members: memberNames(old.Members)}
		}
		p.ReassignTo = opts.ReassignTo
		if p.Strategy == Alternate {
			p.ReassignTo = p.Stable
		}
		if p.ReassignTo != "" {
			if err := ValidateName(p.ReassignTo); err != nil {
				return nil, err
			}
		}
		if len(old.Owned) > 0 && p.ReassignTo == "" {
			return nil, fmt.Errorf("%w: %q owns %d object(s) (first: %s); pass ReassignTo (e.g. the new role %q)",
				ErrOwnsObjects, p.Old, len(old.Owned), old.Owned[0].Object, p.New)
		}
	}
	if p.Retire == RetireBreakGlass {
		r := opts.Rand
		if r == nil {
			r = rand.Reader
		}
		pw, err := keygen.Password(r, 32)
		if err != nil {
			return nil, fmt.Errorf("pgrole: break-glass password: %w", err)
		}
		p.breakGlassPassword = fingerprint.NewSecret([]byte(pw))
		if p.breakGlass, err = scram.New(p.breakGlassPassword, scram.Options{Iterations: opts.Verifier.Iterations(), Rand: r}); err != nil {
			return nil, fmt.Errorf("pgrole: break-glass verifier: %w", err)
		}
	}

	if p.Strategy == Alternate {
		p.Notes = append(p.Notes, fmt.Sprintf("grant future privileges to the stable role %s, never to a login role", ident(p.Stable)))
		if !opts.NoSetRole {
			p.Notes = append(p.Notes, fmt.Sprintf("sessions of %s run as %s (SET role): what they create belongs to %s; current_user is %s, session_user and pg_stat_activity show %s",
				ident(p.New), ident(p.Stable), ident(p.Stable), ident(p.Stable), ident(p.New)))
		}
	} else {
		p.Notes = append(p.Notes, "privileges granted to the old role after this plan are not copied: verify runs again right before cutover")
		if p.ownerWarning = ownerWarning(old, p); p.ownerWarning != "" {
			p.Notes = append(p.Notes, "WARNING: "+p.ownerWarning)
		}
	}
	// The old role's own rights in a database pgrole cannot scan would be
	// left behind by a copy (mirror, or an alternate login role whose
	// drifted rights move to the stable role); what it only inherits comes
	// with the copied memberships.
	if copies := p.Strategy == Mirror || p.Old != p.Stable; copies {
		var names []string
		for _, u := range old.Unreachable {
			if u.Own {
				names = append(names, u.Name+" ("+u.Reason+")")
			}
		}
		if len(names) > 0 {
			return nil, fmt.Errorf("%w: %q has grants, objects or policies in %s, which pgrole cannot scan, so they would not be copied to %q; nothing was changed: allow connections there for the rotation (ALTER DATABASE … ALLOW_CONNECTIONS true) or grant the operator CONNECT, then plan again",
				ErrUnreachableDatabase, p.Old, strings.Join(names, ", "), p.New)
		}
	}
	if len(old.UserMappings) > 0 && runsAsAnother(p.Strategy, opts.NoSetRole, old.Settings) {
		p.Notes = append(p.Notes, fmt.Sprintf("user mappings of %s are not copied: sessions of %s run as another role (ALTER ROLE … SET role), whose user mappings they use; verify compares the mapping each role's sessions use",
			ident(p.Old), ident(p.New)))
	} else if len(old.UserMappings) > 0 {
		var hidden, names []string
		for _, m := range old.UserMappings {
			what := m.Server + " in " + strconv.Quote(m.Database)
			if m.Hidden {
				hidden = append(hidden, what)
			}
			opts := "no options"
			if len(m.Options) > 0 {
				opts = "options " + strings.Join(m.Options, ", ")
			}
			names = append(names, what+" ("+opts+")")
		}
		if len(hidden) > 0 {
			return nil, fmt.Errorf("%w: %q has user mappings whose options (e.g. a remote password) only a superuser can read, so they cannot be copied to %q: server %s; nothing was changed: run the rotation as a superuser, or drop those mappings first",
				ErrInsufficientPrivilege, p.Old, p.New, strings.Join(hidden, ", "))
		}
		p.Notes = append(p.Notes, fmt.Sprintf("user mappings of %s are copied to %s when the plan is applied, options read server-side from pg_user_mappings by a DO block: their values (a remote password) never appear in this plan, its file or the server log: server %s",
			ident(p.Old), ident(p.New), strings.Join(names, ", ")))
	}
	if old.Attributes.Superuser {
		p.Notes = append(p.Notes, "the old role is a superuser: so is the new one; consider a less privileged application role")
	}
	b := &builder{p: p, old: old, noSetRole: opts.NoSetRole}
	b.create()
	b.grant()
	b.verify()
	b.cutover()
	b.drain()
	b.retire(old.DependencyDatabases)
	return p, nil
}

// runsAsAnother reports whether the new role's sessions run as another
// role (its current_user), whose user mappings they then use: the
// alternate strategy's SET role TO <stable>, or a role setting copied from
// the old role.
func runsAsAnother(s Strategy, noSetRole bool, settings []Setting) bool {
	return hasRoleSetting(settings) || (s == Alternate && !noSetRole)
}

func memberNames(ms []Membership) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Role
	}
	return out
}

// DependencyError is ErrDependentMembers: dropping Role would revoke the
// memberships Members inherit privileges through.
type DependencyError struct {
	Role    string
	Members []string
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("pgrole: refusing to drop %q: %s %s a member of it and would lose every privilege inherited from it (DROP ROLE revokes memberships, DROP OWNED revokes its grants); keep %q as break-glass or NOLOGIN, or mirror its privileges first",
		e.Role, quoteList(e.Members), isAre(len(e.Members)), e.Role)
}

func (e *DependencyError) Unwrap() error { return ErrDependentMembers }

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// Render prints the plan as reviewable SQL: phases, the database each group
// runs in (one transaction per group; the grant phase: short, retried
// transactions, see LockRetry), the checks between phases, and every
// password as "[redacted SCRAM-SHA-256 verifier fp=…]". The same plan always
// renders the same text.
func (p *Plan) Render() string {
	var w strings.Builder
	fmt.Fprintf(&w, "-- pgrole rotation plan\n-- strategy: %s\n-- old login role: %s\n-- new login role: %s\n", p.Strategy, ident(p.Old), ident(p.New))
	if p.Stable != "" {
		fmt.Fprintf(&w, "-- stable role: %s (never dropped)\n", ident(p.Stable))
	}
	fmt.Fprintf(&w, "-- retire: %s", p.Retire)
	if p.ReassignTo != "" {
		fmt.Fprintf(&w, " (reassign owned objects to %s)", ident(p.ReassignTo))
	}
	fmt.Fprintf(&w, "\n-- server_version_num: %d\n-- new password: SCRAM-SHA-256 verifier fp=%s (%d iterations)\n", p.ServerVersion, p.verifier.Fingerprint(), p.verifier.Iterations())
	if p.Incident {
		w.WriteString("-- incident mode (§5.5): sessions of the old role are terminated\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&w, "-- note: %s\n", n)
	}
	for i, ph := range p.Phases {
		fmt.Fprintf(&w, "\n-- phase %d/%d: %s\n", i+1, len(p.Phases), ph.Name)
		last := "\x00"
		for _, s := range ph.Steps {
			if s.Database != last {
				db := s.Database
				if db == "" {
					db = p.AdminDatabase
				}
				how := "one transaction"
				if ph.Name == PhaseGrant {
					how = "short transactions with lock_timeout, retried"
				}
				fmt.Fprintf(&w, "-- in database %s (%s)\n", ident(db), how)
				last = s.Database
			}
			w.WriteString(s.SQL)
			w.WriteString(";\n")
		}
		if len(ph.Steps) == 0 {
			w.WriteString("-- (no SQL)\n")
		}
		for _, c := range ph.Checks {
			fmt.Fprintf(&w, "-- check: %s\n", c)
		}
	}
	return w.String()
}

// String returns Render's first line summary; plans never print secrets.
func (p *Plan) String() string {
	return fmt.Sprintf("pgrole plan %s %s → %s (retire %s)", p.Strategy, p.Old, p.New, p.Retire)
}
