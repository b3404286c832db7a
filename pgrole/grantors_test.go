package pgrole_test

import (
	"context"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// Issue 11.8: on PostgreSQL 16 a role granted to the app role twice, by
// two grantors with different INHERIT/SET options, is granted to the new
// role by the same two grantors with the same options: neither grant
// overwrites the other, verify passes, and resuming repeats harmlessly.
func TestMirrorMembershipPerGrantor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	adm := connectAdmin(t, f.db.Name)
	if adm.ServerVersion() < 160000 {
		t.Skipf("server_version_num %d: grants per grantor with options are PostgreSQL 16+", adm.ServerVersion())
	}
	grp, ga, gb := testsvc.RoleName(t, "grp"), testsvc.RoleName(t, "ga"), testsvc.RoleName(t, "gb")
	mustExec(t, testsvc.Admin(t),
		"CREATE ROLE "+q(grp)+" NOLOGIN", "CREATE ROLE "+q(ga)+" NOLOGIN", "CREATE ROLE "+q(gb)+" NOLOGIN",
		"GRANT "+q(grp)+" TO "+q(ga)+" WITH ADMIN TRUE", "GRANT "+q(grp)+" TO "+q(gb)+" WITH ADMIN TRUE",
		"GRANT "+q(grp)+" TO "+q(f.app)+" WITH INHERIT FALSE, SET TRUE GRANTED BY "+q(ga),
		"GRANT "+q(grp)+" TO "+q(f.app)+" WITH INHERIT TRUE, SET FALSE GRANTED BY "+q(gb))
	mustExec(t, f.db.Pool, "CREATE TABLE app.grp_only (x int)", "GRANT SELECT ON app.grp_only TO "+q(grp))
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v\n%s", ph, err, p.Render())
		}
	}
	grants := func(role string) map[string]string {
		rows, err := f.db.Pool.Query(ctx, `SELECT g.rolname::text, format('inherit=%s set=%s admin=%s', m.inherit_option, m.set_option, m.admin_option)
			FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.grantor WHERE m.roleid = $1::regrole AND m.member = $2::regrole`, q(grp), q(role))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ G, O string }])
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.G] = r.O
		}
		return out
	}
	old, nw := grants(f.app), grants(p.New)
	if len(old) != 2 || len(nw) != 2 || old[ga] != nw[ga] || old[gb] != nw[gb] {
		t.Fatalf("grants of %s: old role %v, new role %v", grp, old, nw)
	}
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, p.New, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	mustExec(t, c, "SELECT count(*) FROM app.grp_only", "SET ROLE "+q(grp), "RESET ROLE")
}
