package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// commandRE finds the rotate commands advice names ("next: rotate pg …",
// "to continue it: rotate pg …"), up to an explanation in parentheses, a
// closing parenthesis, a comma or " and ".
var commandRE = regexp.MustCompile(`rotate (pg|pgbouncer) [^(),]*?(?: \(|\)|,| and |$)`)

// printedCommands returns the commands in s, as argument lists without
// "rotate".
func printedCommands(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(s, "\n") {
		for _, m := range commandRE.FindAllString(line, -1) {
			for _, end := range []string{" (", ")", ",", " and "} {
				m = strings.TrimSuffix(m, end)
			}
			out = append(out, strings.Fields(m)[1:])
		}
	}
	return out
}

// runAdvice runs the first command printed in s after marker (exactly as
// printed; a retire gets --yes, as it asks on a terminal) and fails unless
// it exits 0.
func runAdvice(t *testing.T, vars map[string]string, s, marker string) result {
	t.Helper()
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", marker, s)
	}
	cmds := printedCommands(s[i:])
	if len(cmds) == 0 {
		t.Fatalf("no command after %q in:\n%s", marker, s)
	}
	args := cmds[0]
	if len(args) > 1 && args[1] == "retire" {
		args = append(args, "--yes")
	}
	r := runCLI(t, vars, "", args...)
	if r.code != exitOK {
		t.Fatalf("printed command %q failed: %+v", strings.Join(args, " "), r)
	}
	return r
}

// Issue 11 trial, finding 6: every next step the pg commands print works
// when run as written, through a mirror rotation with a plan file, a
// resume without the password, a killed retire and a second retire.
func TestTrial11PrintedNextCommandsWork(t *testing.T) {
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "nx")
	admin := testsvc.Admin(t)
	mustExecCLI(t, admin, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN")
	mustExecCLI(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+pgx.Identifier{app}.Sanitize())
	vars := map[string]string{"DATABASE_URL": db.URL}
	pw := "nx-password-" + testsvc.Suffix()
	plan := filepath.Join(t.TempDir(), "plan.json")

	if r := runCLI(t, vars, pw, "pg", "plan", "--role", app, "--strategy", "mirror", "--retire", "drop", "--out", plan); r.code != exitOK {
		t.Fatalf("plan: %+v", r)
	}
	r := runCLI(t, vars, "", "pg", "apply", plan)
	if r.code != exitOK || !strings.Contains(r.stdout, "applied grant: ") {
		t.Fatalf("apply plan: %+v", r)
	}
	newRole := app + "_v2"
	// A second apply of the plan file is refused with the reason and the working command.
	r = runCLI(t, vars, "", "pg", "apply", plan)
	if r.code == exitOK || !strings.Contains(r.stderr, "already applied") {
		t.Fatalf("second apply of the plan file: %+v", r)
	}
	runAdvice(t, vars, r.stderr, "continue it with Resume (")
	// apply --resume FILE is bad usage that names the working command.
	r = runCLI(t, vars, "", "pg", "apply", "--resume", plan)
	if r.code != exitUsage {
		t.Fatalf("apply --resume FILE: %+v", r)
	}
	runAdvice(t, vars, r.stderr, "to continue the rotation it started: ")
	// Another rotation is refused; the advice resumes it without a password.
	r = runCLI(t, vars, pw, "pg", "apply", "--role", app, "--strategy", "mirror")
	if r.code != exitCheck {
		t.Fatalf("second rotation: %+v", r)
	}
	if rr := runAdvice(t, vars, r.stderr, "to continue it: "); !strings.Contains(rr.stderr, "none needed") {
		t.Fatalf("resume without a password: %+v", rr)
	}
	// The old role gains a privilege: status says to resume, which works.
	mustExecCLI(t, db.Pool, "GRANT INSERT ON t TO "+pgx.Identifier{app}.Sanitize())
	r = runCLI(t, vars, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "next: rotate pg apply --role "+app+" --resume") {
		t.Fatalf("status: %+v", r)
	}
	runAdvice(t, vars, r.stdout, "next: ")
	r = runCLI(t, vars, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "cutover allowed") {
		t.Fatalf("status after resume: %+v", r)
	}
	if got := printedCommands(r.stdout[strings.Index(r.stdout, "next: "):]); len(got) != 2 || got[0][1] != "drain" || got[1][1] != "retire" {
		t.Fatalf("status next: %q", got)
	}
	// drain prints the retire command with the plan's strategy and mode.
	r = runCLI(t, vars, "", "pg", "drain", "--role", app, "--timeout", "2s")
	if r.code != exitOK || !strings.Contains(r.stdout, "--strategy mirror --mode drop") {
		t.Fatalf("drain: %+v", r)
	}
	// A retire that was killed partway: status says to run the retire again.
	mustExecCLI(t, db.Pool, `UPDATE rotation.pgrole_state SET details = details || jsonb_build_object('retire_started', now()) WHERE old_role = '`+app+`'`)
	r = runCLI(t, vars, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "next: rotate pg retire --role "+app) {
		t.Fatalf("status after a killed retire: %+v", r)
	}
	runAdvice(t, vars, r.stdout, "next: ")
	// A second retire of the dropped role: already done, exit 0.
	r = runCLI(t, vars, "", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "drop", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "already retired") {
		t.Fatalf("second retire: %+v", r)
	}
	// A mistyped name is still an error.
	if r := runCLI(t, vars, "", "pg", "retire", "--role", app+"_typo", "--mode", "drop", "--yes"); r.code == exitOK {
		t.Fatalf("retire of an unknown role: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "verify", "--old", newRole, "--new", newRole); r.code != exitOK {
		t.Fatalf("verify: %+v", r)
	}
}

// Finding 4 through the CLI: status and apply from a DSN naming another
// database see the unfinished rotation and say where it is recorded.
func TestTrial11StatusFromAnotherDatabase(t *testing.T) {
	dbA, dbB := testsvc.Postgres(t), testsvc.Postgres(t)
	app := testsvc.RoleName(t, "sx")
	mustExecCLI(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN")
	pw := "sx-password-" + testsvc.Suffix()
	a, b := map[string]string{"DATABASE_URL": dbA.URL}, map[string]string{"DATABASE_URL": dbB.URL}
	if r := runCLI(t, a, pw, "pg", "apply", "--role", app, "--strategy", "mirror"); r.code != exitOK {
		t.Fatalf("apply: %+v", r)
	}
	r := runCLI(t, b, "", "pg", "status", "--role", app)
	if r.code != exitOK || !strings.Contains(r.stdout, "recorded in database "+dbA.Name) {
		t.Fatalf("status from the other database: %+v", r)
	}
	r = runCLI(t, b, pw, "pg", "apply", "--role", app, "--strategy", "mirror")
	if r.code != exitCheck || !strings.Contains(r.stderr, dbA.Name) || strings.Contains(r.stdout, app+"_v3") {
		t.Fatalf("apply from the other database: %+v", r)
	}
}

// Finding 10: verify prints a right the new role has and the old lacks as
// extra, not missing, and says "extra" once per line (the re-trial saw
// "extra appdb: TABLE app.orders: extra: INSERT").
func TestTrial11VerifyPrintsExtras(t *testing.T) {
	db := testsvc.Postgres(t)
	o, n := testsvc.RoleName(t, "xo"), testsvc.RoleName(t, "xn")
	mustExecCLI(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{o}.Sanitize()+" LOGIN", "CREATE ROLE "+pgx.Identifier{n}.Sanitize()+" LOGIN CREATEDB")
	mustExecCLI(t, db.Pool, "CREATE TABLE t (id int)", "GRANT INSERT ON t TO "+pgx.Identifier{n}.Sanitize())
	r := runCLI(t, map[string]string{"DATABASE_URL": db.URL}, "", "pg", "verify", "--old", o, "--new", n)
	if r.code != exitCheck || !strings.Contains(r.stdout, "extra (cluster): ATTRIBUTE : CREATEDB\n") || !strings.Contains(r.stdout, ": TABLE public.t: INSERT\n") ||
		strings.Contains(r.stdout, ": extra") || strings.Contains(r.stdout, "missing") {
		t.Fatalf("verify: %+v", r)
	}
}

func mustExecCLI(t *testing.T, c interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Finding 6, phase by phase: each "continue:" command runs as printed.
func TestTrial11PhaseByPhaseAdviceWorks(t *testing.T) {
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "ph")
	mustExecCLI(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN")
	mustExecCLI(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+pgx.Identifier{app}.Sanitize())
	vars := map[string]string{"DATABASE_URL": db.URL}
	r := runCLI(t, vars, "ph-password-"+testsvc.Suffix(), "pg", "apply", "--role", app, "--strategy", "mirror", "--phase", "create")
	if r.code != exitOK {
		t.Fatalf("create: %+v", r)
	}
	r = runAdvice(t, vars, r.stdout, "continue: ")
	if !strings.Contains(r.stdout, "applied grant: ") {
		t.Fatalf("grant: %+v", r)
	}
	r = runAdvice(t, vars, r.stdout, "continue: ")
	if !strings.Contains(r.stdout, "ready") {
		t.Fatalf("verify: %+v", r)
	}
	runAdvice(t, vars, r.stdout, "then: ")
}

// Finding 8 through the CLI: plan and apply --dry-run warn about objects
// the old role owns under mirror; apply refuses before committing anything.
func TestTrial11MirrorOwnerRefusedBeforeCommit(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "mo")
	mustExecCLI(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN")
	mustExecCLI(t, db.Pool, "CREATE TABLE owned_t (id int)", "ALTER TABLE owned_t OWNER TO "+pgx.Identifier{app}.Sanitize())
	vars := map[string]string{"DATABASE_URL": db.URL}
	pw := "mo-password-" + testsvc.Suffix()
	for _, args := range [][]string{{"pg", "plan"}, {"pg", "apply", "--dry-run"}} {
		r := runCLI(t, vars, pw, append(args, "--role", app, "--strategy", "mirror")...)
		if r.code != exitOK || !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, "owned_t") || !strings.Contains(r.stderr, "NOLOGIN owner role") {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r := runCLI(t, vars, pw, "pg", "apply", "--role", app, "--strategy", "mirror")
	if r.code != exitCheck || !strings.Contains(r.stderr, "refused, nothing was changed") || strings.Contains(r.stdout, "applied") {
		t.Fatalf("apply: %+v", r)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", app+"_v2").Scan(&n); err != nil || n != 0 {
		t.Fatalf("new role created (%d, %v)", n, err)
	}
}

// Finding 10: while a lock conflict holds up the grant phase, apply says so
// (and that it retries) instead of staying silent.
func TestTrial11ApplySaysWhenRetryingALock(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "lk")
	mustExecCLI(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN")
	mustExecCLI(t, db.Pool, "CREATE TABLE locked (id int)", "GRANT SELECT ON locked TO "+pgx.Identifier{app}.Sanitize())
	vars := map[string]string{"DATABASE_URL": db.URL}
	if r := runCLI(t, vars, "lk-password-"+testsvc.Suffix(), "pg", "apply", "--role", app, "--strategy", "mirror", "--phase", "create"); r.code != exitOK {
		t.Fatalf("create: %+v", r)
	}
	holder, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "LOCK TABLE locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(1500 * time.Millisecond)
		_ = holder.Rollback(ctx)
	}()
	r := runCLI(t, vars, "", "pg", "apply", "--role", app, "--resume", "--new", app+"_v2", "--phase", "grant")
	<-released
	if r.code != exitOK || !strings.Contains(r.stderr, "lock conflict") || !strings.Contains(r.stderr, "retrying (attempt 2 of 40)") || !strings.Contains(r.stdout, "applied grant: ") {
		t.Fatalf("grant under a held lock: %+v", r)
	}
}
