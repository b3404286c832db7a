package pgrole_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/scram"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func snapshot() *pgrole.Role {
	no := false
	return &pgrole.Role{
		Name: "goodgo_app", OID: 16400, ServerVersion: 150004,
		Attributes: pgrole.Attributes{Inherit: true, Login: true, ConnLimit: 80},
		MemberOf:   []pgrole.Membership{{Role: "readers", Grantor: "postgres", Set: &no}},
		Settings: []pgrole.Setting{{Name: "search_path", Value: `app, "$user", public`},
			{Database: "goodgo", Name: "statement_timeout", Value: "5s"}},
		Privileges: []pgrole.Privilege{
			{Kind: pgrole.KindDatabase, Object: "goodgo", Privilege: "CONNECT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindSchema, Object: "app", Privilege: "USAGE", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindTable, Object: "app.orders", Privilege: "SELECT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindTable, Object: "app.orders", Privilege: "INSERT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindSequence, Object: "app.orders_id_seq", Privilege: "USAGE", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindColumn, Object: "app.secrets", Column: "public_col", Privilege: "SELECT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindColumn, Object: "app.secrets", Column: "id", Privilege: "SELECT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindFunction, Object: "app.next_ticket()", Privilege: "EXECUTE", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindType, Object: "app.mood", Privilege: "USAGE", Grantee: "goodgo_app", Grantable: true},
			{Database: "goodgo", Kind: pgrole.KindLargeObject, Object: "16500", Privilege: "SELECT", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindTable, Object: "app.audit", Privilege: "SELECT", Grantee: "readers"},
			{Kind: pgrole.KindTablespace, Object: "fast", Privilege: "CREATE", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindFDW, Object: "postgres_fdw", Privilege: "USAGE", Grantee: "goodgo_app"},
			{Database: "goodgo", Kind: pgrole.KindServer, Object: "billing", Privilege: "USAGE", Grantee: "goodgo_app", Grantable: true},
			{Database: "goodgo", Kind: pgrole.KindLanguage, Object: "plperl", Privilege: "USAGE", Grantee: "goodgo_app"},
		},
		UserMappings: []pgrole.UserMapping{{Database: "goodgo", Server: "billing", Options: []string{"password", "user"}}},
		DefaultPrivileges: []pgrole.DefaultPrivilege{
			{Database: "goodgo", Owner: "migrator", Schema: "app", ObjType: "TABLES", Grantee: "goodgo_app", Privilege: "SELECT"},
			{Database: "goodgo", Owner: "goodgo_app", Schema: "app", ObjType: "TABLES", Grantee: "reporting", Privilege: "SELECT"},
		},
		Policies:            []pgrole.Policy{{Database: "goodgo", Table: "app.orders", Name: "tenant isolation", Roles: []string{"goodgo_app", "support"}}},
		Owned:               []pgrole.Owned{{Database: "goodgo", Object: "table app.scratch"}},
		Databases:           []string{"goodgo"},
		DependencyDatabases: []string{"goodgo"},
	}
}

func goldenPlan(t *testing.T, opts pgrole.PlanOptions, role *pgrole.Role) *pgrole.Plan {
	t.Helper()
	v, err := scram.New(fingerprint.NewSecret([]byte("Zq9-new-secret-pw")), scram.Options{Rand: detRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	opts.Verifier = v
	opts.Rand = detRand(2)
	exists := func(name string) bool { return name == "goodgo_app" }
	p, err := pgrole.BuildPlan(role, "goodgo", opts, exists)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoldenPlans(t *testing.T) {
	v2 := snapshot()
	v2.Name, v2.Owned = "goodgo_app_v2", []pgrole.Owned{{Database: "goodgo", Object: "table app.made_by_v2"}}
	for _, tc := range []struct {
		file string
		opts pgrole.PlanOptions
		role *pgrole.Role
	}{
		{"alternate.golden", pgrole.PlanOptions{Role: "goodgo_app"}, snapshot()},
		{"alternate_v2.golden", pgrole.PlanOptions{Role: "goodgo_app_v2"}, v2},
		{"mirror.golden", pgrole.PlanOptions{Role: "goodgo_app", Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop, ReassignTo: "goodgo_app_v2"}, snapshot()},
		{"mirror_incident.golden", pgrole.PlanOptions{Role: "goodgo_app", Strategy: pgrole.Mirror, Retire: pgrole.RetireNoLogin, Incident: true}, snapshot()},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := goldenPlan(t, tc.opts, tc.role)
			got := p.Render()
			again := goldenPlan(t, tc.opts, tc.role).Render()
			if got != again {
				t.Fatal("the same inputs rendered two different plans")
			}
			mustNotContain(t, got, "Zq9-new-secret-pw", string(p.Verifier().Secret().Bytes()),
				string(p.BreakGlassPassword().Bytes()), string(p.BreakGlassVerifier().Secret().Bytes()))
			if strings.Contains(got, "SCRAM-SHA-256$") {
				t.Fatal("verifier material in the plan")
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenPlans -update)", err)
			}
			if got != string(want) {
				t.Fatalf("plan differs from %s (run with -update after review):\n%s", path, got)
			}
		})
	}
}

// Plans introspected from the live server are deterministic too.
func TestLivePlanDeterministic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	v, _ := scram.New(fingerprint.NewSecret([]byte("pw")), scram.Options{Rand: detRand(3)})
	a, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: v, Rand: detRand(4)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: v, Rand: detRand(4)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Render() != b.Render() {
		t.Fatal("two plans of the same state differ")
	}
	for _, want := range []string{"ON SEQUENCE app.orders_id_seq", "GRANT SELECT (id, public_col) ON TABLE app.secrets", "ALTER POLICY \"tenant_a\" ON app.orders TO",
		"SET search_path TO 'app', 'public'", "ON PROCEDURE app.touch()", "ON LARGE OBJECT", "ON TYPE app.mood", "ALTER DEFAULT PRIVILEGES FOR ROLE"} {
		if !strings.Contains(a.Render(), want) {
			t.Errorf("live mirror plan lacks %q", want)
		}
	}
	mustNotContain(t, a.Render(), string(v.Secret().Bytes()), string(a.BreakGlassPassword().Bytes()))
}
