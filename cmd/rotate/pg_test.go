package main

import (
	"context"
	"encoding/json"
	"github.com/goodgo/rotation/fingerprint"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

func TestPGCommands(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "cli")
	admin := testsvc.Admin(t)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE t (id serial); GRANT SELECT, INSERT ON t TO "+pgx.Identifier{app}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	pw := "cli-new-password-" + testsvc.Suffix()

	r := runCLI(t, vars, pw+"\n", "pg", "plan", "--role", app, "--strategy", "mirror")
	if r.code != exitOK || !strings.Contains(r.stdout, "GRANT INSERT, SELECT ON TABLE public.t") || !strings.Contains(r.stdout, "[redacted SCRAM-SHA-256 verifier fp=") {
		t.Fatalf("plan: %+v", r)
	}
	assertNoSecret(t, r, pw, "SCRAM-SHA-256$")
	if r := runCLI(t, vars, pw, "pg", "plan", "--role", `x"; DROP ROLE postgres; --`); r.code != exitUsage {
		t.Fatalf("hostile name: %+v", r)
	}
	if r := runCLI(t, nil, pw, "pg", "plan", "--role", app); r.code != exitUsage || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Fatalf("no DSN: %+v", r)
	}

	ul := filepath.Join(t.TempDir(), "userlist.txt")
	r = runCLI(t, vars, pw, "pg", "apply", "--role", app, "--userlist", ul)
	if r.code != exitOK || !strings.Contains(r.stdout, "applied create: ") || !strings.Contains(r.stdout, "GRANT") {
		t.Fatalf("apply: %+v", r)
	}
	assertNoSecret(t, r, pw, "SCRAM-SHA-256$")
	newRole := app + "_v2"
	// Running the same apply again while the rotation is unfinished is
	// refused (no _v3); --resume continues it with the recorded verifier.
	if r := runCLI(t, vars, pw, "pg", "apply", "--role", app); r.code != exitCheck || !strings.Contains(r.stderr, "unfinished") || !strings.Contains(r.stderr, "--resume") || strings.Contains(r.stdout, "_v3") {
		t.Fatalf("second apply: %+v", r)
	}
	if r := runCLI(t, vars, "other-"+pw, "pg", "apply", "--role", app, "--resume"); r.code != exitUsage || !strings.Contains(r.stderr, "not the one") {
		t.Fatalf("resume with another password: %+v", r)
	}
	before, _ := os.ReadFile(ul)
	if r := runCLI(t, vars, pw, "pg", "apply", "--role", app, "--resume", "--userlist", ul); r.code != exitOK || !strings.Contains(r.stderr, "resuming the rotation") || !strings.Contains(r.stdout, newRole) {
		t.Fatalf("resume: %+v", r)
	}
	if after, _ := os.ReadFile(ul); string(after) != string(before) {
		t.Fatal("resume changed the userlist verifier (re-salted)")
	}
	if b, _ := os.ReadFile(ul); !strings.Contains(string(b), `"`+newRole+`" "SCRAM-SHA-256$4096:`) {
		t.Fatalf("userlist lacks the new role: %s", b)
	}
	if r := runCLI(t, vars, "", "pg", "verify", "--old", app, "--new", newRole); r.code != exitOK {
		t.Fatalf("verify: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "verify", "--old", newRole, "--new", app+"_nope"); r.code != exitCheck {
		t.Fatalf("verify unknown: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--timeout", "2s"); r.code != exitOK {
		t.Fatalf("drain: %+v", r)
	}
	// The stable role is never dropped.
	if r := runCLI(t, vars, "", "pg", "retire", "--role", app, "--mode", "drop"); r.code != exitCheck || !strings.Contains(r.stderr, "never dropped") {
		t.Fatalf("drop stable: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "breakglass")
	// Irreversible: refused without --yes off a terminal, nothing written.
	if r := runCLI(t, vars, "", "pg", "retire", "--role", app, "--mode", "break-glass", "--break-glass-out", out); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("break-glass without --yes: %+v", r)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused break-glass wrote a password file")
	}
	if r := runCLI(t, vars, "", "pg", "retire", "--role", app, "--mode", "break-glass", "--break-glass-out", out, "--dry-run"); r.code != exitOK ||
		!strings.Contains(r.stdout, "would run: ") || !strings.Contains(r.stdout, "nothing was changed") {
		t.Fatalf("break-glass --dry-run: %+v", r)
	}
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	vars["ROTATE_AUDIT_LOG"] = auditLog
	r = runCLI(t, vars, "", "pg", "retire", "--role", app, "--mode", "break-glass", "--break-glass-out", out, "--yes")
	delete(vars, "ROTATE_AUDIT_LOG")
	if r.code != exitOK {
		t.Fatalf("break-glass: %+v", r)
	}
	bg, _ := os.ReadFile(out)
	assertNoSecret(t, r, strings.TrimSpace(string(bg)))
	// The file is written as keygen -o writes one (no trailing newline), so
	// "rotate fingerprint < bg" gives the fingerprint printed and recorded
	// in the audit log, with the role as its target (trial #15).
	fp := fingerprint.OfString(string(bg))
	if strings.HasSuffix(string(bg), "\n") || !strings.Contains(r.stdout, fp) {
		t.Errorf("break-glass file ends with a newline or its fingerprint %s is not the one printed: %q", fp, r.stdout)
	}
	if recs := readAuditLines(t, auditLog); len(recs) != 1 || recs[0].Target != "role "+app || recs[0].After["break-glass "+app] != fp {
		t.Errorf("audit record of the break-glass retire: %+v", recs)
	}

	// PgBouncer: the stored verifier goes in, RELOAD confirms it.
	b := testsvc.PgBouncer(t, testsvc.BouncerOptions{})
	if r := runCLI(t, vars, "", "pgbouncer", "userlist", "--userlist", b.UserlistPath, "--user", newRole); r.code != exitOK {
		t.Fatalf("userlist: %+v", r)
	}
	vars["PGBOUNCER_ADMIN_URL"] = b.AdminURL()
	// It says what happened, step by step (issue 15 point 9), not only "reloaded".
	if r := runCLI(t, vars, "", "pgbouncer", "reload", "--confirm", newRole, "--reconnect", db.Name, "--wait-close"); r.code != exitOK ||
		!strings.Contains(r.stdout, "reloaded: PgBouncer re-read its configuration and userlist.txt (RELOAD)\n") ||
		!strings.Contains(r.stdout, "confirmed: SHOW USERS lists "+newRole+"\n") ||
		!strings.Contains(r.stdout, "reconnect: database "+db.Name+": server connections close once idle") ||
		!strings.Contains(r.stdout, "wait-close: every old server connection of database "+db.Name+" is closed") {
		t.Fatalf("reload: %+v", r)
	}
	r = runCLI(t, vars, "", "pgbouncer", "reload", "--confirm", newRole, "--json")
	assertJSONStyle(t, "pgbouncer reload", r.stdout)
	var rj struct {
		Reloaded  bool     `json:"reloaded"`
		Confirmed []string `json:"confirmed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rj); r.code != exitOK || err != nil || !rj.Reloaded || len(rj.Confirmed) != 1 || rj.Confirmed[0] != newRole {
		t.Fatalf("reload --json: %+v", r)
	}
	c, err := pgx.Connect(ctx, b.URL(db.Name, newRole, pw))
	if err != nil {
		t.Fatalf("new role through PgBouncer: %v", err)
	}
	c.Close(ctx)
}
