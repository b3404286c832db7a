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

// Issue 11.1: a mirrored role without the old role's owner rights sees 0
// rows of an RLS table the old role owns (RLS not forced) and cannot
// REFRESH its materialized view; the diff must list that, never be empty.
func TestMirrorDiffListsOwnerRights(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	app := q(f.app)
	mustExec(t, f.db.Pool,
		"SET ROLE "+app,
		"CREATE TABLE app.owned_rls (tenant text)",
		"INSERT INTO app.owned_rls VALUES ('a'), ('b')",
		"ALTER TABLE app.owned_rls ENABLE ROW LEVEL SECURITY",
		"CREATE MATERIALIZED VIEW app.owned_mv AS SELECT count(*) AS n FROM app.owned_rls",
		"RESET ROLE")
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	// The effective rights really differ: the new role sees no rows and
	// cannot refresh.
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, p.New, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM app.owned_rls").Scan(&n); err != nil || n != 0 {
		t.Fatalf("new role on the old role's RLS table: %d rows, %v (want 0: it is not the owner)", n, err)
	}
	// PostgreSQL 17 has the MAINTAIN privilege, which the owner holds and
	// the grant phase copies; before 17 only an owner may REFRESH.
	if _, err := c.Exec(ctx, "REFRESH MATERIALIZED VIEW app.owned_mv"); adm.ServerVersion() < 170000 && !isDenied(err) {
		t.Fatalf("REFRESH as the new role: %v, want must be owner", err)
	} else if adm.ServerVersion() >= 170000 && err != nil {
		t.Fatalf("REFRESH as the new role with MAINTAIN copied: %v", err)
	}
	ms, err := adm.Diff(ctx, p.Old, p.New)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"TABLE app.owned_rls": false, "MATERIALIZED VIEW app.owned_mv": false, "TABLE app.app_owned": false}
	for _, m := range ms {
		if m.Kind != "OWNER" {
			t.Errorf("unexpected finding after the grant phase: %s", m)
			continue
		}
		if _, ok := want[m.Object]; ok {
			want[m.Object] = true
		}
	}
	for o, seen := range want {
		if !seen {
			t.Errorf("diff does not list the owner rights on %s: %v", o, ms)
		}
	}
	err = adm.VerifyPrivileges(ctx, p.Old, p.New)
	var de *pgrole.DiffError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "OWNER") {
		t.Fatalf("verify: %v, want a DiffError naming OWNER", err)
	}
	// The remedy the error names: a NOLOGIN owner role both inherit.
	owners := testsvc.RoleName(t, "owners")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(owners)+" NOLOGIN", "GRANT "+q(owners)+" TO "+app+", "+q(p.New))
	mustExec(t, f.db.Pool, "REASSIGN OWNED BY "+app+" TO "+q(owners))
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		t.Fatalf("verify after ownership moved: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM app.owned_rls").Scan(&n); err != nil || n != 2 {
		t.Fatalf("new role after ownership moved: %d rows, %v (want 2)", n, err)
	}
	if _, err := c.Exec(ctx, "REFRESH MATERIALIZED VIEW app.owned_mv"); err != nil {
		t.Fatalf("REFRESH after ownership moved: %v", err)
	}
}

// Issue 11.4: the gate looks both ways: a missing predefined pg_* role
// membership is a finding, and so is a right the new role has that the old
// had not, SUPERUSER above all.
func TestDiffTwoWayAttributesAndPredefinedRoles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	a, b := testsvc.RoleName(t, "a"), testsvc.RoleName(t, "b")
	extra := testsvc.RoleName(t, "extra")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(a)+" LOGIN", "CREATE ROLE "+q(b)+" LOGIN", "CREATE ROLE "+q(extra)+" NOLOGIN",
		"GRANT pg_read_all_stats TO "+q(a), "ALTER ROLE "+q(b)+" CREATEDB", "GRANT "+q(extra)+" TO "+q(b))
	ms, err := adm.Diff(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, testsvc.Admin(t), "ALTER ROLE "+q(b)+" SUPERUSER")
	su, err := adm.Diff(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, su...)
	want := map[string]bool{"MEMBERSHIP pg_read_all_stats privileges of": false, "ATTRIBUTE  extra SUPERUSER": false,
		"ATTRIBUTE  extra CREATEDB": false, "MEMBERSHIP " + extra + " extra: privileges of": false}
	for _, m := range ms {
		k := m.Kind + " " + m.Object + " " + m.Privilege
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("diff %s → %s does not list %q: %v", a, b, k, ms)
		}
	}
}

// Issue 11.12: a dependency in a database with ALLOW_CONNECTIONS false is
// found before anything changes, instead of a half-done retire.
func TestRetireRefusesDependencyInClosedDatabase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	role := testsvc.RoleName(t, "gone")
	dbName := testsvc.RoleName(t, "closeddb")
	admin := testsvc.Admin(t)
	mustExec(t, admin, "CREATE ROLE "+q(role)+" LOGIN", "CREATE DATABASE "+q(dbName))
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+q(dbName)) })
	c, err := pgx.Connect(ctx, testsvc.URLAs(dbName, "postgres", ""))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE SCHEMA s", "GRANT USAGE ON SCHEMA s TO "+q(role))
	c.Close(ctx)
	mustExec(t, admin, "ALTER DATABASE "+q(dbName)+" ALLOW_CONNECTIONS false")
	applied, err := adm.Retire(ctx, pgrole.RetireOptions{Role: role, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop})
	if err == nil || !strings.Contains(err.Error(), dbName) || !strings.Contains(err.Error(), "ALLOW_CONNECTIONS") || len(applied) != 0 {
		t.Fatalf("retire with a dependency in a closed database: %v (applied %v)", err, applied)
	}
	if _, err := adm.Introspect(ctx, role); err != nil {
		t.Fatalf("role changed: %v", err)
	}
}
