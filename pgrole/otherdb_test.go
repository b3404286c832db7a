package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// secondDatabase gives the fixture's app role, in a second database, what
// it has in the first: a schema, table grants (one WITH GRANT OPTION), a
// column grant, a sequence, default privileges set by the owner and an RLS
// policy naming it. It returns that database.
func (f *fixture) secondDatabase(t *testing.T) *testsvc.DB {
	t.Helper()
	db2 := testsvc.Postgres(t)
	app, own := q(f.app), q(f.owner)
	mustExec(t, db2.Pool,
		"GRANT CONNECT ON DATABASE "+q(db2.Name)+" TO "+app,
		"CREATE SCHEMA billing AUTHORIZATION "+own,
		"GRANT USAGE ON SCHEMA billing TO "+app,
		"SET ROLE "+own,
		"CREATE TABLE billing.invoices (id serial PRIMARY KEY, tenant text NOT NULL, total int, note text)",
		"INSERT INTO billing.invoices (tenant, total, note) VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('a', 3, 'z')",
		"ALTER TABLE billing.invoices ENABLE ROW LEVEL SECURITY",
		"CREATE POLICY tenant_a ON billing.invoices TO "+app+" USING (tenant = 'a') WITH CHECK (tenant = 'a')",
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+own+" IN SCHEMA billing GRANT SELECT ON TABLES TO "+app,
		"CREATE TABLE billing.later (x int)",
		"RESET ROLE",
		"GRANT SELECT, INSERT ON billing.invoices TO "+app+" WITH GRANT OPTION",
		"GRANT UPDATE (note) ON billing.invoices TO "+app,
		"GRANT USAGE ON SEQUENCE billing.invoices_id_seq TO "+app,
	)
	return db2
}

// checkSecond runs the application's queries in the second database as role.
func (f *fixture) checkSecond(t *testing.T, db2 *testsvc.DB, role string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, testsvc.URLAs(db2.Name, role, ""))
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", db2.Name, role, err)
	}
	defer c.Close(ctx)
	mustExec(t, c,
		"INSERT INTO billing.invoices (tenant, total) VALUES ('a', 4)",
		"UPDATE billing.invoices SET note = 'n' WHERE tenant = 'a'",
		"SELECT count(*) FROM billing.later")
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM billing.invoices WHERE tenant = 'b'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("as %s in %s: %d rows of tenant b (%v), want 0 (RLS)", role, db2.Name, n, err)
	}
}

// Issue 11 (other databases): the role's rights in a second database are
// planned, pre-checked, applied and compared there; a difference in the
// second database alone is a finding, so "diff empty" never holds while
// it differs.
func TestMirrorSecondDatabase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	db2 := f.secondDatabase(t)
	f.checkSecond(t, db2, f.app)
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	plan := p.Render()
	for _, want := range []string{"-- in database " + q(db2.Name), "ON TABLE billing.invoices TO " + q(p.New) + " WITH GRANT OPTION",
		`ALTER POLICY "tenant_a" ON billing.invoices`, "FOR ROLE " + q(f.owner) + " IN SCHEMA billing",
		"-- note: databases covered", `"` + db2.Name + `"`} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q:\n%s", want, plan)
		}
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	// One right less in the second database only: a finding there.
	mustExec(t, db2.Pool, "REVOKE UPDATE (note) ON billing.invoices FROM "+q(p.New))
	ms, err := adm.Diff(ctx, p.Old, p.New)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatalf("a column grant missing in %s: diff empty", db2.Name)
	}
	for _, m := range ms {
		if m.Database != db2.Name || m.Kind != "COLUMN" {
			t.Fatalf("a column grant missing in %s: diff %v, want only that finding", db2.Name, ms)
		}
	}
	// And one right more.
	mustExec(t, db2.Pool, "GRANT UPDATE (note) ON billing.invoices TO "+q(p.New), "GRANT DELETE ON billing.invoices TO "+q(p.New))
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); !errors.Is(err, pgrole.ErrPrivilegeDiff) || !strings.Contains(err.Error(), db2.Name) ||
		!strings.Contains(err.Error(), "extra") {
		t.Fatalf("an extra DELETE in %s: %v, want an extra finding there", db2.Name, err)
	}
	mustExec(t, db2.Pool, "REVOKE DELETE ON billing.invoices FROM "+q(p.New))
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		t.Fatalf("after undoing both: %v", err)
	}
	f.checkSecond(t, db2, p.New)
	f.check(t, p.New)
}

// Issue 11 (other databases): the pre-check dry-runs the statements of
// every database, not only the operator's: a GRANT the operator cannot
// make in the second database is refused before the create phase commits
// (before the fix the new LOGIN role was committed and the grant phase
// failed in the second database).
func TestPrecheckSecondDatabase(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	db2 := testsvc.Postgres(t)
	super := testsvc.Admin(t)
	app := testsvc.RoleName(t, "pdapp")
	op := testsvc.RoleName(t, "pdop")
	mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(op)+" LOGIN CREATEROLE",
		"GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(op))
	mustExec(t, db.Pool, "GRANT CREATE ON DATABASE "+q(db.Name)+" TO "+q(op),
		"CREATE SCHEMA s AUTHORIZATION "+q(op), "SET ROLE "+q(op), "CREATE TABLE s.t (x int)",
		"GRANT USAGE ON SCHEMA s TO "+q(app), "GRANT SELECT ON s.t TO "+q(app), "RESET ROLE")
	// In the second database the operator owns nothing and holds no grant option.
	mustExec(t, db2.Pool, "CREATE TABLE public.t2 (x int)", "GRANT SELECT ON public.t2 TO "+q(app))
	adm, err := pgrole.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close(ctx)
	t.Logf("server_version_num %d", adm.ServerVersion())
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "pd-password")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Render(), "-- in database "+q(db2.Name)) {
		t.Fatalf("the plan does not touch %s:\n%s", db2.Name, p.Render())
	}
	_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseCreate)
	var ae *pgrole.ApplyError
	if !errors.As(err, &ae) || ae.Phase != pgrole.PhasePrecheck || ae.Failed.Database != db2.Name ||
		!strings.Contains(ae.Failed.SQL, "public.t2") || !errors.Is(err, pgrole.ErrInsufficientPrivilege) {
		t.Fatalf("create phase: %v, want a pre-check refusal of the GRANT on public.t2 in %s", err, db2.Name)
	}
	t.Logf("refused: %v", err)
	if _, err := adm.Introspect(ctx, p.New); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("a role was left behind: %v", err)
	}
}

// Issue 11 (other databases): a database the role owns has no pg_shdepend
// rows of its own (the ownership is a shared dependency), yet there the
// owner has pg_database_owner's rights (the public schema on 15+). It is
// scanned: the mirror, which cannot copy a database's ownership, is
// refused cutover instead of "diff empty".
func TestDiffSeesOwnedDatabase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	db4 := testsvc.Postgres(t)
	mustExec(t, testsvc.Admin(t), "ALTER DATABASE "+q(db4.Name)+" OWNER TO "+q(f.app))
	adm := connectAdmin(t, f.db.Name)
	r, err := adm.Introspect(ctx, f.app)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(r.Databases, db4.Name) {
		t.Fatalf("introspection scanned %v, not the database %s the role owns", r.Databases, db4.Name)
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	ms, err := adm.Diff(ctx, p.Old, p.New)
	if err != nil {
		t.Fatal(err)
	}
	var inDB4 []pgrole.Difference
	for _, m := range ms {
		if m.Database == db4.Name {
			inDB4 = append(inDB4, m)
		}
	}
	if len(inDB4) == 0 || !hasKind(inDB4, "OWNER") {
		t.Fatalf("diff %v: want an OWNER finding in %s (public schema of pg_database_owner)", ms, db4.Name)
	}
	t.Logf("%d finding(s) in %s, first %v", len(inDB4), db4.Name, inDB4[0])
}

// Issue 11 (other databases): grants in a database that refuses
// connections cannot be copied or compared: a mirror plan is refused with
// the list, and Diff reports the database (UNCOMPARED) instead of an empty
// diff; a login role that inherits the role (alternate) differs in nothing
// there and gets no such finding.
func TestClosedDatabaseRefusedAndNeverDiffEmpty(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	super := testsvc.Admin(t)
	app := testsvc.RoleName(t, "cdapp")
	closed := testsvc.RoleName(t, "cdclosed")
	mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN", "CREATE DATABASE "+q(closed))
	t.Cleanup(func() { _, _ = super.Exec(context.Background(), "DROP DATABASE IF EXISTS "+q(closed)) })
	c, err := pgx.Connect(ctx, testsvc.URLAs(closed, "postgres", ""))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE SCHEMA s", "GRANT USAGE ON SCHEMA s TO "+q(app))
	c.Close(ctx)
	mustExec(t, super, "ALTER DATABASE "+q(closed)+" ALLOW_CONNECTIONS false")
	adm := connectAdmin(t, db.Name)

	_, err = adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "cd")})
	if !errors.Is(err, pgrole.ErrUnreachableDatabase) || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "ALLOW_CONNECTIONS") {
		t.Fatalf("mirror plan with grants in a closed database: %v", err)
	}
	t.Logf("refused: %v", err)
	// Alternate from the stable role: the login role inherits everything.
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: verifierFor(t, "cd")}); err != nil {
		t.Fatalf("alternate plan: %v", err)
	}

	copyRole, member := app+"_copy", app+"_v2"
	mustExec(t, super, "CREATE ROLE "+q(copyRole)+" LOGIN", "CREATE ROLE "+q(member)+" LOGIN", "GRANT "+q(app)+" TO "+q(member))
	ms, err := adm.Diff(ctx, app, copyRole)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ms {
		if m.Kind == "UNCOMPARED" && m.Database == closed {
			found = true
		}
	}
	if !found {
		t.Fatalf("diff %s → %s: %v, want an UNCOMPARED finding for %s", app, copyRole, ms, closed)
	}
	ms, err = adm.Diff(ctx, app, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == "UNCOMPARED" {
			t.Fatalf("diff %s → %s (a member): %v", app, member, m)
		}
	}
}
