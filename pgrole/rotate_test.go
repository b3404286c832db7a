package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

var quickDrain = pgrole.DrainOptions{Timeout: 10 * time.Second, Poll: 100 * time.Millisecond}

func TestAlternateRotationKeepsEveryPrivilege(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	f.check(t, f.app)

	// base → v2
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Verifier: verifierFor(t, "pw2-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	if p.New != f.app+"_v2" || p.Stable != f.app || p.Retire != pgrole.RetireBreakGlass {
		t.Fatalf("plan: new %q stable %q retire %q", p.New, p.Stable, p.Retire)
	}
	if _, err := adm.Rotate(ctx, p, pgrole.Hooks{
		Cutover: func(ctx context.Context, p *pgrole.Plan) error {
			f.check(t, p.New) // the new role works before anything moves to it
			return nil
		},
		Drain: quickDrain,
	}); err != nil {
		t.Fatal(err)
	}
	f.check(t, p.New)
	f.check(t, f.app) // the stable role keeps its privileges (break-glass)

	// v2 → v3: v2 created tables (owned by v2); they move to the stable role.
	p2, err := adm.Plan(ctx, pgrole.PlanOptions{Role: p.New, Verifier: verifierFor(t, "pw3-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.New != f.app+"_v3" || p2.Retire != pgrole.RetireDrop || p2.ReassignTo != f.app {
		t.Fatalf("plan 2: new %q retire %q reassign %q", p2.New, p2.Retire, p2.ReassignTo)
	}
	if _, err := adm.ApplyPhase(ctx, p2, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p2, pgrole.PhaseGrant); err != nil {
		t.Fatal(err)
	}
	if ms, err := adm.Diff(ctx, p2.Old, p2.New); err != nil || len(ms) != 0 {
		t.Fatalf("diff %v → %v: %v %v", p2.Old, p2.New, ms, err)
	}
	f.check(t, p2.New)
	if err := adm.Drain(ctx, p2.Old, quickDrain); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p2, pgrole.PhaseRetire); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Introspect(ctx, p2.Old); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("v2 not dropped: %v", err)
	}
	f.check(t, p2.New)
	// Next alternation reuses the freed name.
	p3, err := adm.Plan(ctx, pgrole.PlanOptions{Role: p2.New, Verifier: verifierFor(t, "pw4")})
	if err != nil || p3.New != f.app+"_v2" {
		t.Fatalf("third plan: %v %v", p3, err)
	}
}

func TestMirrorRotationCopiesEverything(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	newName := f.app + "_v2"
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop,
		ReassignTo: newName, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	// Before the grant phase the diff is not empty and cutover is refused.
	err = adm.VerifyPrivileges(ctx, p.Old, p.New)
	var de *pgrole.DiffError
	if !errors.As(err, &de) || !errors.Is(err, pgrole.ErrPrivilegeDiff) {
		t.Fatalf("verify before grant: %v", err)
	}
	kinds := map[string]bool{}
	for _, m := range de.Differences {
		kinds[m.Kind] = true
	}
	for _, k := range []string{"TABLE", "SEQUENCE", "COLUMN", "SCHEMA", "FUNCTION", "PROCEDURE", "TYPE", "LARGE OBJECT", "POLICY", "DEFAULT PRIVILEGES", "SETTING"} {
		if !kinds[k] {
			t.Errorf("diff before grant lists no %s: %v", k, de.Differences)
		}
	}
	// Attributes are compared too (a NOLOGIN role lacks LOGIN and the limit).
	if ms, err := adm.Diff(ctx, p.Old, f.reporter); err != nil || !hasKind(ms, "ATTRIBUTE") {
		t.Fatalf("diff against a NOLOGIN role lists no attribute: %v %v", ms, err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseGrant); err != nil {
		t.Fatal(err)
	}
	// Grants cannot copy owner rights: the old role owns app.app_owned, so
	// the diff is not empty (issue 11.1) and cutover is refused with the
	// reason until ownership moves to a role both login roles inherit.
	ms, err := adm.Diff(ctx, p.Old, p.New)
	if err != nil || len(ms) != 1 || ms[0].Kind != "OWNER" || !strings.Contains(ms[0].Object, "app.app_owned") {
		t.Fatalf("diff after mirror grants, want only the owner rights on app.app_owned: %v %v", ms, err)
	}
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); !errors.Is(err, pgrole.ErrPrivilegeDiff) || !strings.Contains(err.Error(), "OWNER") {
		t.Fatalf("verify with owner rights missing: %v", err)
	}
	ownerRole := testsvc.RoleName(t, "owners")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(ownerRole)+" NOLOGIN", "GRANT "+q(ownerRole)+" TO "+q(p.Old)+", "+q(p.New))
	mustExec(t, f.db.Pool, "ALTER TABLE app.app_owned OWNER TO "+q(ownerRole))
	if ms, err := adm.Diff(ctx, p.Old, p.New); err != nil || len(ms) != 0 {
		t.Fatalf("diff after mirror and ownership moved: %v %v", ms, err)
	}
	f.check(t, p.New)
	if err := adm.Drain(ctx, p.Old, quickDrain); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseRetire); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Introspect(ctx, p.Old); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("old role not dropped: %v", err)
	}
	// Nothing depended on the old role: the policy survived, and the
	// shared owner role still owns what the old one owned.
	f.check(t, p.New)
	var owner string
	if err := f.db.Pool.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'app_owned'").Scan(&owner); err != nil || owner != ownerRole {
		t.Fatalf("app_owned owner %q (%v), want %q", owner, err, ownerRole)
	}
}

func hasKind(ms []pgrole.Difference, kind string) bool {
	for _, m := range ms {
		if m.Kind == kind {
			return true
		}
	}
	return false
}

// Rollback before retire (§5.7): applications go back to the old role, the
// new one is drained and dropped, the old keeps working; after retire
// rollback is refused.
func TestRollbackBeforeRetire(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	f.check(t, p.New) // the new role was used (and created a table)
	// Rollback does not wait: while a session of the new role is open it
	// refuses, as Retire does, and changes nothing; Drain is the wait.
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, p.New, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rollback(ctx, p); !errors.Is(err, pgrole.ErrSessionsRemain) {
		t.Fatalf("rollback with a session of %s open: %v, want ErrSessionsRemain", p.New, err)
	}
	if _, err := adm.Introspect(ctx, p.New); err != nil {
		t.Fatalf("a refused rollback dropped the new role: %v", err)
	}
	c.Close(ctx)
	if err := adm.Drain(ctx, p.New, quickDrain); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rollback(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Introspect(ctx, p.New); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("new role survived rollback: %v", err)
	}
	f.check(t, f.app)

	// Rotate forward again, retire, then rollback is refused.
	p, err = adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Retire: pgrole.RetireNoLogin, Verifier: verifierFor(t, "y")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rotate(ctx, p, pgrole.Hooks{Drain: quickDrain}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rollback(ctx, p); !errors.Is(err, pgrole.ErrRolledForward) {
		t.Fatalf("rollback after retire: %v", err)
	}
	f.check(t, p.New)
}

// A login role with objects in two databases: introspection finds both,
// and retiring it reassigns and drops in each before DROP ROLE.
func TestRetireCleansEveryDatabase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := testsvc.Postgres(t)
	adm := connectAdmin(t, f.db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rotate(ctx, p, pgrole.Hooks{Drain: quickDrain}); err != nil {
		t.Fatal(err)
	}
	// v2 creates objects in both databases.
	mustExec(t, other.Pool, "GRANT CREATE ON SCHEMA public TO "+q(p.New), "SET ROLE "+q(p.New), "CREATE TABLE public.elsewhere (x int)", "RESET ROLE")
	f.check(t, p.New)
	r, err := adm.Introspect(ctx, p.New)
	if err != nil {
		t.Fatal(err)
	}
	var dbs []string
	for _, o := range r.Owned {
		if !contains(dbs, o.Database) {
			dbs = append(dbs, o.Database)
		}
	}
	if len(dbs) != 2 || !contains(r.DependencyDatabases, other.Name) {
		t.Fatalf("owned objects found in %v (deps %v), want both databases", dbs, r.DependencyDatabases)
	}
	p2, err := adm.Plan(ctx, pgrole.PlanOptions{Role: p.New, Verifier: verifierFor(t, "y")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p2.Render(), "-- in database "+q(other.Name)) {
		t.Fatalf("plan does not clean %s:\n%s", other.Name, p2.Render())
	}
	applied, err := adm.Rotate(ctx, p2, pgrole.Hooks{Drain: quickDrain})
	if err != nil {
		t.Fatal(err)
	}
	var inOther int
	for _, a := range applied {
		if a.Database == other.Name {
			inOther++
		}
	}
	if inOther < 2 {
		t.Fatalf("retire ran %d statements in %s: %v", inOther, other.Name, applied)
	}
	var owner string
	if err := other.Pool.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'elsewhere'").Scan(&owner); err != nil || owner != f.app {
		t.Fatalf("elsewhere owned by %q (%v), want the stable role", owner, err)
	}
	if _, err := adm.Introspect(ctx, p.New); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("v2 survived: %v", err)
	}
	f.check(t, p2.New)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// A privilege granted to the old role after the plan was made (drift) is
// caught by verify, and Rotate never reaches cutover.
func TestRotateRefusesCutoverOnDrift(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	f.shareOwnership(t)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, ReassignTo: f.app + "_v2", Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, f.db.Pool, "GRANT DELETE ON app.orders TO "+q(f.app))
	cutover := false
	_, err = adm.Rotate(ctx, p, pgrole.Hooks{Cutover: func(context.Context, *pgrole.Plan) error { cutover = true; return nil }, Drain: quickDrain})
	var de *pgrole.DiffError
	if !errors.As(err, &de) || cutover {
		t.Fatalf("rotate with drift: %v (cutover ran: %v)", err, cutover)
	}
	if len(de.Differences) != 1 || de.Differences[0].Object != "app.orders" || de.Differences[0].Privilege != "DELETE" {
		t.Fatalf("diff: %v", de.Differences)
	}
}

// After a break-glass retire the old role still has LOGIN, but with a
// password no application knows: rolling back to it would drop the only
// role the applications can use, so Rollback refuses.
func TestRollbackRefusedAfterBreakGlass(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	app := testsvc.RoleName(t, "bg")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Retire != pgrole.RetireBreakGlass {
		t.Fatalf("retire %q, want break-glass", p.Retire)
	}
	if _, err := adm.Rotate(ctx, p, pgrole.Hooks{Drain: quickDrain}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rollback(ctx, p); !errors.Is(err, pgrole.ErrRolledForward) {
		t.Fatalf("rollback after break-glass retire: %v, want ErrRolledForward", err)
	}
	if _, err := adm.Introspect(ctx, p.New); err != nil {
		t.Fatalf("the new role is gone after a refused rollback: %v", err)
	}
}
