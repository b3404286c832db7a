package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// thirdParties gives the app role grant options and an ADMIN membership,
// and makes the app role grant to a reporting role, which grants on to a
// second one: the grants DROP OWNED BY app would cascade away. It returns
// the roles whose rights must survive a retire of the app role.
func (f *fixture) thirdParties(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	group, rep2 := testsvc.RoleName(t, "grp"), testsvc.RoleName(t, "rep2")
	app, rep := q(f.app), q(f.reporter)
	mustExec(t, testsvc.Admin(t),
		"CREATE ROLE "+q(group)+" NOLOGIN",
		"CREATE ROLE "+q(rep2)+" NOLOGIN",
		"GRANT "+q(group)+" TO "+app+" WITH ADMIN OPTION",
		"GRANT CONNECT ON DATABASE "+q(f.db.Name)+" TO "+app+" WITH GRANT OPTION")
	mustExec(t, f.db.Pool,
		"GRANT SELECT ON app.orders TO "+app+" WITH GRANT OPTION",
		"GRANT USAGE ON SCHEMA app TO "+app+" WITH GRANT OPTION",
		"GRANT SELECT (public_col) ON app.secrets TO "+app+" WITH GRANT OPTION",
		"GRANT EXECUTE ON FUNCTION app.next_ticket() TO "+app+" WITH GRANT OPTION",
		"GRANT USAGE ON SEQUENCE app.ticket_seq TO "+app+" WITH GRANT OPTION")
	// A grant to the app role by a grantor other than the owner: DROP
	// OWNED BY app leaves it, and DROP ROLE would fail.
	sc, err := pgx.Connect(ctx, f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, f.app, ""))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c,
		"GRANT SELECT ON app.orders TO "+rep+" WITH GRANT OPTION",
		"GRANT SELECT ON app.order_totals TO "+rep,
		"GRANT USAGE ON SCHEMA app TO "+rep,
		"GRANT SELECT (public_col) ON app.secrets TO "+rep,
		"GRANT EXECUTE ON FUNCTION app.next_ticket() TO "+rep,
		"GRANT USAGE ON SEQUENCE app.ticket_seq TO "+rep,
		"GRANT CONNECT ON DATABASE "+q(f.db.Name)+" TO "+rep,
		"GRANT "+q(group)+" TO "+rep)
	c.Close(ctx)
	mustExec(t, sc, "GRANT SELECT ON app.events TO "+rep+" WITH GRANT OPTION",
		"SET ROLE "+rep, "GRANT SELECT ON app.events TO "+app, "RESET ROLE")
	mustExec(t, sc, "SET ROLE "+rep, "GRANT SELECT ON app.orders TO "+q(rep2), "RESET ROLE")
	sc.Close(ctx)
	// DROP OWNED BY a grantee revokes only what the owner granted it: the
	// role cleanup of rep and rep2 needs the chain of grant options cut at
	// its root (the app login roles) first. Runs before their cleanup.
	t.Cleanup(func() { dropOwnedByLoginRoles(t, f.db.Pool, f.app) })
	return []string{f.reporter, rep2, f.owner, group}
}

// Issue 11.3: a mirror retire with drop keeps every grant the old role
// made to other roles: each other role's effective rights are identical
// before and after.
func TestMirrorRetireKeepsThirdPartyGrants(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	others := f.thirdParties(t)
	before := map[string]string{}
	for _, r := range others {
		before[r] = effective(t, f.db, r)
	}
	if !strings.Contains(before[others[1]], "TABLE app.orders SELECT") {
		t.Fatalf("fixture: %s cannot read app.orders:\n%s", others[1], before[others[1]])
	}
	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	newRole := f.app + "_v2"
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop,
		ReassignTo: newRole, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	gs, err := adm.GrantsMadeBy(ctx, f.app, newRole, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d grant(s) made by the old role, e.g. %v", len(gs), gs[0])
	applied, err := adm.ApplyPhase(ctx, p, pgrole.PhaseRetire)
	if err != nil {
		t.Fatalf("retire: %v", err)
	}
	var regrants int
	for _, s := range applied {
		if strings.Contains(s.SQL, "GRANT ") {
			regrants++
		}
	}
	if regrants == 0 {
		t.Errorf("retire made no grant again: %v", applied)
	}
	for _, r := range others {
		onlyBefore, onlyAfter := sameLines(before[r], effective(t, f.db, r))
		if len(onlyBefore) > 0 || len(onlyAfter) > 0 {
			t.Errorf("%s: rights lost by retire: %v; gained: %v", r, onlyBefore, onlyAfter)
		}
	}
	var exists bool
	if err := f.db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", f.app).Scan(&exists); err != nil || exists {
		t.Fatalf("old role still exists (%v)", err)
	}
	f.check(t, newRole)
}

// Issue 11.3: when the successor cannot make a grant again, retire refuses
// before any change and lists it.
func TestRetireRefusesGrantsTheSuccessorCannotMake(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	others := f.thirdParties(t)
	heir := testsvc.RoleName(t, "heir")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(heir)+" NOLOGIN")
	before := effective(t, f.db, others[0])
	adm := connectAdmin(t, f.db.Name)
	_, err := adm.Retire(ctx, pgrole.RetireOptions{Role: f.app, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop, ReassignTo: heir})
	var ge *pgrole.GrantorError
	if !errors.As(err, &ge) || !errors.Is(err, pgrole.ErrThirdPartyGrants) {
		t.Fatalf("retire: %v, want a GrantorError", err)
	}
	for _, want := range []string{"GRANT SELECT ON TABLE app.orders TO " + q(f.reporter) + " WITH GRANT OPTION", "GRANT USAGE ON SCHEMA app TO " + q(f.reporter)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not list %q:\n%v", want, err)
		}
	}
	t.Log(err)
	if after := effective(t, f.db, others[0]); after != before {
		t.Fatalf("a refused retire changed %s's rights", others[0])
	}
	var exists bool
	if err := f.db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", f.app).Scan(&exists); err != nil || !exists {
		t.Fatalf("old role dropped by a refused retire (%v)", err)
	}
}

// dropOwnedByLoginRoles runs dropOwnedRetrying for every role whose name
// starts with app (the app role and its _vN login roles): the root of the
// chains of grant options a test made, cut before the grantees' cleanup.
func dropOwnedByLoginRoles(t *testing.T, pool *pgxpool.Pool, app string) {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)", app)
	if err != nil {
		t.Error(err)
		return
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Error(err)
		return
	}
	for _, r := range roles {
		dropOwnedRetrying(t, pool, r)
	}
}

// dropOwnedRetrying runs DROP OWNED BY role CASCADE in a test's cleanup.
// DROP OWNED also touches shared catalogs (pg_shdepend), so it can deadlock
// with other tests' DDL running at the same time in other databases: like
// an operator, it tries again (each try is one transaction).
func dropOwnedRetrying(t *testing.T, pool *pgxpool.Pool, role string) {
	t.Helper()
	for try := 1; ; try++ {
		_, err := pool.Exec(context.Background(), "DROP OWNED BY "+q(role)+" CASCADE")
		var pe *pgconn.PgError
		if err == nil {
			return
		}
		if !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "55P03") || try == 10 {
			t.Errorf("DROP OWNED BY %s (try %d): %v", role, try, err)
			return
		}
		time.Sleep(time.Duration(try) * 100 * time.Millisecond)
	}
}
