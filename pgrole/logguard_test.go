package pgrole_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// serverLogFile finds the server's log file: the Debian cluster's, or the one
// scripts/postgres-versions.sh writes next to the data directory.
func serverLogFile(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var dataDir, major string
	if err := testsvc.Admin(t).QueryRow(ctx, `SELECT current_setting('data_directory'), current_setting('server_version_num')::int / 10000`).Scan(&dataDir, &major); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(filepath.Dir(dataDir), "server.log"), "/var/log/postgresql/postgresql-" + major + "-main.log"} {
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	t.Skip("server log not readable here")
	return ""
}

func logSince(t *testing.T, path string, off int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// With log_statement = all for the operator, the verifier never reaches the
// server log: a superuser (and an operator granted SET on the logging
// parameters) quiets logging for the transaction; an operator that cannot is
// refused before anything is sent or committed, unless it overrides.
func TestVerifierNeverLogged(t *testing.T) {
	ctx := context.Background()
	logPath := serverLogFile(t)
	for _, kind := range []string{"superuser", "createrole"} {
		t.Run(kind, func(t *testing.T) {
			db := testsvc.Postgres(t)
			super := testsvc.Admin(t)
			app := testsvc.RoleName(t, "logapp")
			op := testsvc.RoleName(t, "logop")
			attrs := "SUPERUSER"
			if kind == "createrole" {
				attrs = "CREATEROLE"
			}
			mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(op)+" LOGIN "+attrs,
				"ALTER ROLE "+q(op)+" SET log_statement = 'all'")
			mustExec(t, db.Pool, "GRANT CREATE ON DATABASE "+q(db.Name)+" TO "+q(op))
			if kind == "createrole" {
				// 16+: granting app to its new login role needs ADMIN on it.
				mustExec(t, super, "GRANT "+q(app)+" TO "+q(op)+" WITH ADMIN OPTION")
			}
			st, _ := os.Stat(logPath)
			off := st.Size()
			connect := func() *pgrole.Admin {
				adm, err := pgrole.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { adm.Close(context.Background()) })
				return adm
			}
			marker := "logmarker-" + testsvc.Suffix()
			c, err := pgx.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "SELECT '"+marker+"'"); err != nil {
				t.Fatal(err)
			}
			c.Close(ctx)

			adm := connect()
			v := verifierFor(t, "logged-pw-"+testsvc.Suffix())
			p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v})
			if err != nil {
				t.Fatal(err)
			}
			_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseCreate)
			if kind == "createrole" {
				if !errors.Is(err, pgrole.ErrVerifierWouldBeLogged) || !strings.Contains(err.Error(), "log_statement = all") || !strings.Contains(err.Error(), "GRANT SET ON PARAMETER") {
					t.Fatalf("operator that cannot quiet logging: %v", err)
				}
				var n int
				if err := super.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", p.New).Scan(&n); err != nil || n != 0 {
					t.Fatalf("a login role was left behind (%d, %v)", n, err)
				}
				mustExec(t, super, "GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(op))
				adm = connect()
				if p, err = adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v}); err != nil {
					t.Fatal(err)
				}
				_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseCreate)
			}
			if err != nil {
				t.Fatal(err)
			}
			text := string(v.Secret().Bytes())
			logged := logSince(t, logPath, off)
			if !strings.Contains(logged, marker) {
				t.Fatalf("log_statement = all was not in effect for %s (marker not logged)", op)
			}
			if strings.Contains(logged, text) || strings.Contains(logged, text[len("SCRAM-SHA-256$4096:"):][:20]) {
				t.Fatalf("the verifier of %s is in the server log", p.New)
			}
		})
	}
}

// statStatements starts a server of its own with pg_stat_statements
// preloaded and tracking everything (track = all, track_utility = on by
// default: nested statements too, and utility statements with their text
// as sent, constants included), creates the extension and checks that both
// a top-level and a nested utility statement are recorded. It returns the
// server and a superuser connection to its postgres database.
func statStatements(t *testing.T) (*testsvc.Server, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	srv := testsvc.StartPostgres(t, testsvc.ServerOptions{
		Settings:  map[string]string{"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"},
		Libraries: []string{"pg_stat_statements"},
	})
	super, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	top, nested := "pgss-top-"+testsvc.Suffix(), "pgss-nested-"+testsvc.Suffix()
	mustExec(t, super, "CREATE EXTENSION pg_stat_statements",
		"COMMENT ON ROLE postgres IS '"+top+"'",
		"DO $$BEGIN EXECUTE 'COMMENT ON ROLE postgres IS ''"+nested+"'''; END$$")
	for _, m := range []string{top, nested} {
		if n := statementsWith(t, super, m); n == 0 {
			t.Fatalf("pg_stat_statements did not record the utility statement with %s: the test would prove nothing", m)
		}
	}
	return srv, super
}

// statementsWith counts the pg_stat_statements entries whose text holds s
// (never printed: s may be a secret).
func statementsWith(t *testing.T, c *pgx.Conn, s string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_statements WHERE strpos(query, $1) > 0", s).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// With pg_stat_statements preloaded (track = all, track_utility = on), a
// mirror rotation by a superuser leaves no verifier and no user mapping
// option value in pg_stat_statements (readable by pg_read_all_stats): the
// guard turns track_utility off for its transactions.
func TestLogGuardStatStatementsMirror(t *testing.T) {
	ctx := context.Background()
	srv, super := statStatements(t)
	app := "rt_pgssapp"
	secret := "remote-pw-" + testsvc.Suffix() + testsvc.Suffix()
	mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN",
		"CREATE FOREIGN DATA WRAPPER rt_fdw", "CREATE SERVER rt_srv FOREIGN DATA WRAPPER rt_fdw",
		"GRANT USAGE ON FOREIGN SERVER rt_srv TO "+q(app),
		"CREATE USER MAPPING FOR "+q(app)+" SERVER rt_srv OPTIONS (password '"+secret+"')",
		"SELECT pg_stat_statements_reset()")
	adm, err := pgrole.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close(ctx)
	v := verifierFor(t, "pgss-pw-"+testsvc.Suffix())
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	var copied bool
	if err := super.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_user_mappings WHERE usename = $1 AND $2 = ANY(umoptions))", p.New, "password="+secret).Scan(&copied); err != nil || !copied {
		t.Fatalf("the user mapping was not copied to %s (%v): the test would prove nothing", p.New, err)
	}
	text := string(v.Secret().Bytes())
	for what, s := range map[string]string{"the verifier": text, "the verifier's keys": text[len("SCRAM-SHA-256$4096:"):][:20],
		"a SCRAM verifier": "SCRAM-SHA-256$", "the user mapping's password option": secret} {
		if n := statementsWith(t, super, s); n != 0 {
			t.Errorf("pg_stat_statements holds %s in %d statements", what, n)
		}
	}
	// The guard's statements themselves are recorded (track_utility was on
	// for them): the extension was at work during the rotation.
	if n := statementsWith(t, super, "set_config"); n == 0 {
		t.Error("pg_stat_statements recorded nothing of the rotation: the test would prove nothing")
	}
}

// An operator that may not SET pg_stat_statements.track_utility (while
// it may quiet every logging setting) is refused before anything is sent,
// with an error naming the parameter and the GRANT. Once granted SET on
// pg_stat_statements.track (track = none) or on track_utility, its rotation
// leaves no verifier in pg_stat_statements.
func TestLogGuardStatStatementsRefused(t *testing.T) {
	ctx := context.Background()
	srv, super := statStatements(t)
	op := "rt_pgssop"
	apps := []string{"rt_pgssapp", "rt_pgssapp2"}
	mustExec(t, super, "CREATE ROLE "+q(op)+" LOGIN CREATEROLE",
		"GRANT CREATE ON DATABASE postgres TO "+q(op),
		"GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(op))
	for _, app := range apps {
		mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN")
		if srv.Major >= 16 {
			mustExec(t, super, "GRANT "+q(app)+" TO "+q(op)+" WITH ADMIN OPTION")
		}
	}
	mustExec(t, super, "SELECT pg_stat_statements_reset()")
	v := verifierFor(t, "pgss-pw-"+testsvc.Suffix())
	text := string(v.Secret().Bytes())
	created := func(role string) bool {
		t.Helper()
		var n int
		if err := super.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	apply := func(app string) (*pgrole.Plan, error) {
		t.Helper()
		adm, err := pgrole.Connect(ctx, srv.URLAs("postgres", op))
		if err != nil {
			t.Fatal(err)
		}
		defer adm.Close(ctx)
		p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v})
		if err != nil {
			t.Fatal(err)
		}
		_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseCreate)
		return p, err
	}
	p, err := apply(apps[0])
	if !errors.Is(err, pgrole.ErrVerifierWouldBeLogged) || !strings.Contains(err.Error(), "pg_stat_statements.track_utility = on") ||
		!strings.Contains(err.Error(), "GRANT SET ON PARAMETER pg_stat_statements.track_utility TO "+q(op)) {
		t.Fatalf("operator that cannot SET pg_stat_statements.track_utility: %v", err)
	}
	if strings.Contains(err.Error(), "log_min_error_statement") {
		t.Fatalf("the refusal names a setting the operator could quiet: %v", err)
	}
	mustNotContain(t, err.Error(), text)
	if created(p.New) {
		t.Fatalf("a login role %s was left behind", p.New)
	}
	if n := statementsWith(t, super, "SCRAM-SHA-256$"); n != 0 {
		t.Fatalf("pg_stat_statements holds a verifier after the refusal (%d statements)", n)
	}
	for i, param := range []string{"pg_stat_statements.track", "pg_stat_statements.track_utility"} {
		mustExec(t, super, "GRANT SET ON PARAMETER "+param+" TO "+q(op))
		if p, err = apply(apps[i]); err != nil {
			t.Fatalf("operator granted SET on %s: %v", param, err)
		}
		if !created(p.New) {
			t.Fatalf("%s was not created", p.New)
		}
		if n := statementsWith(t, super, "SCRAM-SHA-256$"); n != 0 {
			t.Errorf("granted SET on %s: pg_stat_statements holds a verifier in %d statements", param, n)
		}
		mustExec(t, super, "REVOKE SET ON PARAMETER "+param+" FROM "+q(op))
	}
}

// The debug_print_* settings log a statement's parse tree, rewritten query
// or plan with its constants: a CREATE ROLE's PASSWORD among them. Anyone
// may turn them on (here through ALTER ROLE … SET, as a developer might have
// left them), so the log guard turns them off for every operator, without
// any grant on them, and the verifier never reaches the server log. (On 15
// a CREATE ROLE's parse tree is not printed in full: this test fails
// without the guard on 16 and 17.)
func TestVerifierNeverInDebugPrint(t *testing.T) {
	ctx := context.Background()
	logPath := serverLogFile(t)
	db := testsvc.Postgres(t)
	super := testsvc.Admin(t)
	app := testsvc.RoleName(t, "dbgapp")
	op := testsvc.RoleName(t, "dbgop")
	mustExec(t, super, "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(op)+" LOGIN CREATEROLE",
		"ALTER ROLE "+q(op)+" SET debug_print_parse = on",
		"ALTER ROLE "+q(op)+" SET debug_print_rewritten = on",
		"ALTER ROLE "+q(op)+" SET debug_print_plan = on")
	mustExec(t, db.Pool, "GRANT CREATE ON DATABASE "+q(db.Name)+" TO "+q(op))
	// 16+: granting app to its new login role needs ADMIN on it. The SET
	// grants are for the log_* settings (log_min_error_statement = error by
	// default): the debug_print_* ones need none.
	mustExec(t, super, "GRANT "+q(app)+" TO "+q(op)+" WITH ADMIN OPTION",
		"GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(op))
	st, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	off := st.Size()
	// A utility statement's parse tree carries its strings as text: the
	// marker proves the settings are in effect for the operator.
	marker := "dbgmarker-" + testsvc.Suffix()
	c, err := pgx.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SET application_name = '"+marker+"'"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	adm, err := pgrole.Connect(ctx, testsvc.URLAs(db.Name, op, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close(context.Background()) })
	v := verifierFor(t, "debug-pw-"+testsvc.Suffix())
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatalf("create phase as an operator with debug_print_* on: %v", err)
	}
	text := string(v.Secret().Bytes())
	logged := logSince(t, logPath, off)
	if !strings.Contains(logged, marker) {
		t.Fatalf("debug_print_parse was not in effect for %s (marker not logged)", op)
	}
	if strings.Contains(logged, text) || strings.Contains(logged, text[len("SCRAM-SHA-256$4096:"):][:20]) {
		t.Fatalf("the verifier of %s is in the server log (debug_print_*)", p.New)
	}
}
