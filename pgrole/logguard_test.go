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
