package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// apply --help lists only the flags apply uses; --phase verify reads no
// password; rotate pg rollback undoes an unfinished rotation and ends it, so
// a new one may start.
func TestPGApplyVerifyPhaseAndRollback(t *testing.T) {
	ctx := context.Background()
	r := runCLI(t, nil, "", "pg", "apply", "--help")
	for _, f := range []string{"-retire", "-reassign-to", "-incident"} {
		if strings.Contains(r.stdout, "  "+f+" ") || strings.Contains(r.stdout, "  "+f+"\n") {
			t.Errorf("pg apply --help lists %s, which apply does not use:\n%s", f, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "-allow-verifier-in-log") || !strings.Contains(r.stdout, "-resume") {
		t.Errorf("pg apply --help lacks its flags:\n%s", r.stdout)
	}
	if r := runCLI(t, nil, "", "pg", "plan", "--help"); !strings.Contains(r.stdout, "-retire") {
		t.Errorf("pg plan --help lacks --retire:\n%s", r.stdout)
	}

	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "rb")
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	pw := "rollback-password-" + testsvc.Suffix()
	if r := runCLI(t, vars, pw, "pg", "apply", "--role", app, "--phase", "create"); r.code != exitOK {
		t.Fatalf("create: %+v", r)
	}
	newRole := app + "_v2"
	if r := runCLI(t, vars, pw, "pg", "apply", "--role", app, "--resume", "--new", newRole, "--phase", "grant"); r.code != exitOK {
		t.Fatalf("grant: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "apply", "--role", app, "--resume", "--new", newRole, "--phase", "verify"); r.code != exitOK || !strings.Contains(r.stdout, "ready") {
		t.Fatalf("verify with no password on stdin: %+v", r)
	}
	r = runCLI(t, vars, pw, "pg", "plan", "--role", app, "--strategy", "alternate")
	if r.code != exitCheck || !strings.Contains(r.stderr, "unfinished") {
		t.Fatalf("plan during an unfinished rotation: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "rollback", "--role", app, "--timeout", "5s"); r.code != exitOK || !strings.Contains(r.stdout, "rolled back") {
		t.Fatalf("rollback: %+v", r)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", newRole).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%s survived the rollback (%d, %v)", newRole, n, err)
	}
	if r := runCLI(t, vars, "", "pg", "rollback", "--role", app); r.code != exitCheck || !strings.Contains(r.stderr, "nothing to roll back") {
		t.Fatalf("second rollback: %+v", r)
	}
	if r := runCLI(t, vars, pw, "pg", "plan", "--role", app); r.code != exitOK || !strings.Contains(r.stdout, "rotate pg rollback --role") || strings.Contains(r.stdout, "Admin.Rollback\n") {
		t.Fatalf("plan after rollback: %+v", r)
	}
}

// rotate pg plan --out FILE then rotate pg apply FILE: the fingerprint
// printed at plan time is the verifier created; a catalog change in between
// is refused.
func TestPGPlanOutApplyFile(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "pout")
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	pw := "plan-out-password-" + testsvc.Suffix()
	path := filepath.Join(t.TempDir(), "plan.json")
	r := runCLI(t, vars, pw, "pg", "plan", "--role", app, "--out", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "plan written to") {
		t.Fatalf("plan --out: %+v", r)
	}
	assertNoSecret(t, r, pw, "SCRAM-SHA-256$")
	fp := r.stdout[strings.Index(r.stdout, "verifier fp=")+len("verifier fp="):][:16]
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE t (id int); GRANT SELECT ON t TO "+pgx.Identifier{app}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, vars, "", "pg", "apply", path); r.code != exitCheck || !strings.Contains(r.stderr, "catalog changed") {
		t.Fatalf("apply after a catalog change: %+v", r)
	}
	if _, err := db.Pool.Exec(ctx, "DROP TABLE t"); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, vars, "", "pg", "apply", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "verifier fp="+fp) {
		t.Fatalf("apply FILE: %+v (planned fp %s)", r, fp)
	}
	assertNoSecret(t, r, pw, "SCRAM-SHA-256$")
	var stored string
	if err := db.Pool.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", app+"_v2").Scan(&stored); err != nil || fingerprint.OfString(stored) != fp {
		t.Fatalf("created verifier fp %s, planned %s (%v)", fingerprint.OfString(stored), fp, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, vars, "", "pg", "apply", path); r.code != exitUsage || !strings.Contains(r.stderr, "readable by others") {
		t.Fatalf("apply of a 0644 plan file: %+v", r)
	}
}
