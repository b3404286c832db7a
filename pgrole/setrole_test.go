package pgrole_test

import (
	"context"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// Issue 11.14: under the alternate strategy a login role runs as the stable
// role (ALTER ROLE <login> SET role TO <stable>, the default), so a table
// the application creates while logged in as app_v2 belongs to the stable
// role: the stable role and the next login role use it, and retiring app_v2
// has nothing to reassign. NoSetRole keeps the old behaviour: the table
// belongs to app_v2 and nobody else can read it.
func TestAlternateLoginRunsAsStableRole(t *testing.T) {
	ctx := context.Background()
	for _, noSetRole := range []bool{false, true} {
		f := newFixture(t)
		adm := connectAdmin(t, f.db.Name)
		p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, NoSetRole: noSetRole, Verifier: verifierFor(t, "new-"+f.password)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
			if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
				t.Fatalf("NoSetRole=%v: %s: %v", noSetRole, ph, err)
			}
		}
		c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, p.New, ""))
		if err != nil {
			t.Fatal(err)
		}
		var cur, sess string
		if err := c.QueryRow(ctx, "SELECT current_user::text, session_user::text").Scan(&cur, &sess); err != nil {
			t.Fatal(err)
		}
		mustExec(t, c, "CREATE TABLE app.made_by_app (x int)", "INSERT INTO app.made_by_app VALUES (1)")
		var n int
		// pg_stat_activity (what drain counts) names the login role.
		if err := f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", p.New).Scan(&n); err != nil || n != 1 {
			t.Errorf("NoSetRole=%v: pg_stat_activity shows %d session(s) of %s (%v)", noSetRole, n, p.New, err)
		}
		c.Close(ctx)
		var owner string
		if err := f.db.Pool.QueryRow(ctx, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'app' AND tablename = 'made_by_app'").Scan(&owner); err != nil {
			t.Fatal(err)
		}
		sc, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, f.app, ""))
		if err != nil {
			t.Fatal(err)
		}
		readErr := sc.QueryRow(ctx, "SELECT count(*) FROM app.made_by_app").Scan(&n)
		sc.Close(ctx)
		t.Logf("NoSetRole=%v: current_user %s, session_user %s, table owner %s, stable role reads it: %v", noSetRole, cur, sess, owner, readErr)
		if noSetRole {
			if owner != p.New || !isDenied(readErr) {
				t.Errorf("NoSetRole: owner %s, stable role read: %v (want the login role to own it and the stable role denied)", owner, readErr)
			}
			continue
		}
		if cur != f.app || sess != p.New || owner != f.app || readErr != nil {
			t.Fatalf("current_user %s session_user %s owner %s, stable role read: %v; want %s, %s, %s, nil", cur, sess, owner, readErr, f.app, p.New, f.app)
		}
		// The next rotation: v3 reads it, and v2's retire has nothing to reassign.
		p2, err := adm.Plan(ctx, pgrole.PlanOptions{Role: p.New, Verifier: verifierFor(t, "v3-"+f.password)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify, pgrole.PhaseRetire} {
			if _, err := adm.ApplyPhase(ctx, p2, ph); err != nil {
				t.Fatalf("second rotation: %s: %v", ph, err)
			}
		}
		c3, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, p2.New, ""))
		if err != nil {
			t.Fatal(err)
		}
		if err := c3.QueryRow(ctx, "SELECT count(*) FROM app.made_by_app").Scan(&n); err != nil || n != 1 {
			t.Errorf("%s reads the table made as %s: %d, %v", p2.New, p.New, n, err)
		}
		c3.Close(ctx)
	}
}
