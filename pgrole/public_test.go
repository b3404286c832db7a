package pgrole_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// Issue 11.5: CREATE ROLE "PUBLIC" is legal. A policy and default
// privileges naming that role must be mirrored to that role, never to the
// PUBLIC keyword (everyone), and PUBLIC itself stays a flag.
func TestRoleNamedPUBLIC(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	admin := testsvc.Admin(t)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'PUBLIC')`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Skip(`a role named "PUBLIC" exists already on this server (not ours to touch)`)
	}
	mustExec(t, admin, `CREATE ROLE "PUBLIC" NOLOGIN`)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), f.db.URL)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP OWNED BY "PUBLIC" CASCADE`)
			c.Close(context.Background())
		}
		if _, err := testsvc.Admin(t).Exec(context.Background(), `DROP OWNED BY "PUBLIC" CASCADE; DROP ROLE IF EXISTS "PUBLIC"`); err != nil {
			t.Errorf(`drop role "PUBLIC": %v`, err)
		}
	})
	app := q(f.app)
	mustExec(t, f.db.Pool,
		"SET ROLE "+q(f.owner),
		`CREATE TABLE app.notes (tenant text)`,
		`INSERT INTO app.notes VALUES ('a'), ('b')`,
		`ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY only_a ON app.notes TO `+app+`, "PUBLIC" USING (tenant = 'a')`,
		`CREATE POLICY everyone_b ON app.notes TO PUBLIC, `+app+` USING (tenant = 'b')`,
		"RESET ROLE",
		`GRANT SELECT ON app.notes TO `+app+`, `+q(f.reporter),
		`ALTER DEFAULT PRIVILEGES FOR ROLE `+app+` IN SCHEMA app GRANT SELECT ON TABLES TO "PUBLIC"`)

	adm := connectAdmin(t, f.db.Name)
	t.Logf("server_version_num %d", adm.ServerVersion())
	old, err := adm.Introspect(ctx, f.app)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range old.Policies {
		if pol.Name == "only_a" && (pol.Public || !strings.Contains(strings.Join(pol.Roles, ","), "PUBLIC")) {
			t.Errorf("policy only_a: Public=%v Roles=%v, want the role PUBLIC and no flag", pol.Public, pol.Roles)
		}
		if pol.Name == "everyone_b" && !pol.Public {
			t.Errorf("policy everyone_b: Public=false, want true")
		}
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	sql := p.Render()
	for _, line := range strings.Split(sql, "\n") {
		if strings.Contains(line, "only_a") && !strings.Contains(line, `"PUBLIC"`) {
			t.Errorf("plan line drops the role \"PUBLIC\": %s", line)
		}
		if strings.Contains(line, "only_a") && strings.Contains(line, " PUBLIC") {
			t.Errorf("plan line grants to everyone: %s", line)
		}
		if strings.Contains(line, "ALTER DEFAULT PRIVILEGES") && strings.Contains(line, "TO PUBLIC") {
			t.Errorf("plan line grants defaults to everyone: %s", line)
		}
		if strings.Contains(line, "everyone_b") && !strings.Contains(line, "TO PUBLIC, ") {
			t.Errorf("plan line loses PUBLIC of everyone_b: %s", line)
		}
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v\n%s", ph, err, sql)
		}
	}
	// The catalog agrees: the new role's default privileges and the policy
	// name the role "PUBLIC" (an oid), not grantee 0.
	var zero bool
	if err := f.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a
		WHERE d.defaclrole = $1::regrole AND a.grantee = 0)`, q(p.New)).Scan(&zero); err != nil || zero {
		t.Errorf("default privileges of the new role grant to PUBLIC (everyone): %v", err)
	}
	if err := f.db.Pool.QueryRow(ctx, `SELECT 0 = ANY(polroles) FROM pg_policy WHERE polname = 'only_a'`).Scan(&zero); err != nil || zero {
		t.Errorf("policy only_a now applies to everyone: %v", err)
	}
	// The reporting role, not a member of "PUBLIC", still sees only what
	// PUBLIC policies allow.
	mustExec(t, f.db.Pool, "GRANT USAGE ON SCHEMA app TO "+q(f.reporter))
	c, err := pgx.Connect(ctx, f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	mustExec(t, c, "SET ROLE "+q(f.reporter))
	if err := c.QueryRow(ctx, "SELECT count(*) FROM app.notes WHERE tenant = 'a'").Scan(&n); err != nil || n != 0 {
		t.Errorf("a role outside \"PUBLIC\" sees %d rows of tenant a (%v)", n, err)
	}
}
