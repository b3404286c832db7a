package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// Issue 11 re-trial B1, B2, P1, P3, P4 through the CLI: a retire after only
// the create phase is refused and drops nothing; drain run from another
// database than the record's prints the plan's strategy and mode, and that
// retire, as printed (with --yes), finishes the rotation from there and
// clears the record; apply given --userlist says drain --pgbouncer; the
// printed plan command names its password file and runs as written.
func TestRetireGateAndNextStepsFromOtherDatabase(t *testing.T) {
	dbA, dbB := testsvc.Postgres(t), testsvc.Postgres(t)
	app := testsvc.RoleName(t, "rg")
	admin := testsvc.Admin(t)
	id := pgx.Identifier{app}.Sanitize()
	mustExecCLI(t, admin, "CREATE ROLE "+id+" LOGIN")
	mustExecCLI(t, dbA.Pool, "CREATE TABLE t (id int)", "GRANT SELECT, INSERT ON t TO "+id)
	varsA := map[string]string{"DATABASE_URL": dbA.URL}
	varsB := map[string]string{"DATABASE_URL": dbB.URL}
	pw := "rg-password-" + testsvc.Suffix()
	newRole := app + "_v2"

	plan := filepath.Join(t.TempDir(), "plan.json")
	if r := runCLI(t, varsA, pw, "pg", "plan", "--role", app, "--strategy", "mirror", "--retire", "drop", "--out", plan); r.code != exitOK {
		t.Fatalf("plan: %+v", r)
	}
	if r := runCLI(t, varsA, "", "pg", "apply", "--phase", "create", plan); r.code != exitOK {
		t.Fatalf("apply --phase create: %+v", r)
	}
	for _, vars := range []map[string]string{varsA, varsB} {
		r := runCLI(t, vars, "", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "drop", "--reassign-to", newRole, "--yes")
		if r.code != exitCheck || !strings.Contains(r.stderr, "did not get past verify") || !strings.Contains(r.stderr, "--resume") {
			t.Fatalf("retire after the create phase only: %+v", r)
		}
	}
	var n int
	if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", app).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the refused retire dropped %s (%d left): %v", app, n, err)
	}
	ul := filepath.Join(t.TempDir(), "userlist.txt")
	r := runCLI(t, varsA, "", "pg", "apply", "--role", app, "--resume", "--userlist", ul)
	if r.code != exitOK || !strings.Contains(r.stdout, "rotate pg drain --role "+app+" --pgbouncer") {
		t.Fatalf("apply --resume --userlist: %+v", r)
	}
	r = runCLI(t, varsB, "", "pg", "drain", "--role", app, "--timeout", "2s")
	if r.code != exitOK || !strings.Contains(r.stdout, "--strategy mirror --mode drop") || !strings.Contains(r.stdout, " --yes") {
		t.Fatalf("drain from the other database: %+v", r)
	}
	cmds := printedCommands(r.stdout[strings.Index(r.stdout, "next: "):])
	if len(cmds) == 0 {
		t.Fatalf("drain printed no command: %q", r.stdout)
	}
	if rr := runCLI(t, varsB, "", cmds[0]...); rr.code != exitOK {
		t.Fatalf("printed retire %q from the other database: %+v", cmds[0], rr)
	}
	// Finished where it is recorded: no rotation from either database.
	for _, vars := range []map[string]string{varsA, varsB} {
		if r := runCLI(t, vars, "", "pg", "rollback", "--role", app); r.code == exitOK {
			t.Fatalf("rollback after the retire: %+v", r)
		}
	}
	// status of the dropped role says retired (from the history).
	if r := runCLI(t, varsA, "", "pg", "status", "--role", app); r.code != exitOK || !strings.Contains(r.stdout, "was retired (dropped") {
		t.Fatalf("status of the retired role: %+v", r)
	}
	var left int
	if err := dbA.Pool.QueryRow(t.Context(), "SELECT count(*) FROM rotation.pgrole_state WHERE old_role = $1", app).Scan(&left); err != nil || left != 0 {
		t.Fatalf("record in %s after the retire from %s: %d %v", dbA.Name, dbB.Name, left, err)
	}
	// A re-created role of the same name: status prints a plan command
	// that runs as written (its password file made as the advice says).
	mustExecCLI(t, admin, "CREATE ROLE "+id+" LOGIN")
	r = runCLI(t, varsA, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "--password-file pw") {
		t.Fatalf("status with no rotation: %+v", r)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(pw+"-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	runAdvice(t, varsA, r.stdout, "next: ")
}

// Issue 11 re-trial P2: after the alternate strategy's first rotation,
// status of the stable role points the next plan at the login role in use.
func TestStatusOfStableRolePointsAtLoginRole(t *testing.T) {
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "sr")
	admin := testsvc.Admin(t)
	id := pgx.Identifier{app}.Sanitize()
	mustExecCLI(t, admin, "CREATE ROLE "+id+" LOGIN", "CREATE ROLE "+pgx.Identifier{app + "_v2"}.Sanitize()+" LOGIN IN ROLE "+id)
	r := runCLI(t, map[string]string{"DATABASE_URL": db.URL}, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "rotate pg plan --role "+app+"_v2 ") {
		t.Fatalf("status of the stable role: %+v", r)
	}
}
