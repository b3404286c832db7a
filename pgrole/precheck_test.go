package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

// A CREATEROLE (not superuser) operator: what it cannot run is found by the
// pre-check before anything commits. 16+: ADMIN is needed to grant
// pg_read_all_stats; 15: ALTER DEFAULT PRIVILEGES FOR ROLE <new> needs
// membership in the new role.
func TestPrecheckCreateRoleOperator(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	super := testsvc.Admin(t)
	app := testsvc.RoleName(t, "pcapp")
	op := testsvc.RoleName(t, "pcop")
	mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(op)+" LOGIN CREATEROLE")
	mustExec(t, db.Pool, "GRANT CREATE ON DATABASE "+q(db.Name)+" TO "+q(op),
		"GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(op))
	var version int
	if err := super.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	var want string
	if version >= 160000 {
		mustExec(t, super, "GRANT pg_read_all_stats TO "+q(app))
		want = "pg_read_all_stats"
	} else {
		mustExec(t, db.Pool, "CREATE SCHEMA s AUTHORIZATION "+q(op), "GRANT USAGE, CREATE ON SCHEMA s TO "+q(app),
			"ALTER DEFAULT PRIVILEGES FOR ROLE "+q(app)+" IN SCHEMA s GRANT SELECT ON TABLES TO PUBLIC")
		want = "ALTER DEFAULT PRIVILEGES FOR ROLE"
	}
	adm, err := pgrole.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close(ctx)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "pc-password")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseCreate)
	if !errors.Is(err, pgrole.ErrInsufficientPrivilege) || !strings.Contains(err.Error(), "pre-check") || !strings.Contains(err.Error(), want) {
		t.Fatalf("pre-check as a CREATEROLE operator on %d: %v (want it to name %q)", version, err, want)
	}
	if _, err := adm.Introspect(ctx, p.New); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("a role was left behind: %v", err)
	}
	t.Logf("reported: %v", err)
}
