package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestPGProcedureAsDocumented runs both Postgres procedures of the docs with
// the real CLI, behind PgBouncer, where the old role has an idle server
// connection that only --pgbouncer drains.
func TestPGProcedureAsDocumented(t *testing.T) {
	blocks := procedureBlocks(t, "## DATABASE_URL password")
	if len(blocks) != 2 {
		t.Fatalf("docs: %d sh blocks in the DATABASE_URL section, want 2", len(blocks))
	}
	for i, strategy := range []string{"alternate", "mirror"} {
		t.Run(strategy, func(t *testing.T) {
			ctx := context.Background()
			db := testsvc.Postgres(t)
			app, rep := testsvc.RoleName(t, "doc"), testsvc.RoleName(t, "docrep")
			oldPW := "old-doc-pw-" + testsvc.Suffix()
			v, err := scram.New(fingerprint.NewSecret([]byte(oldPW)), scram.Options{})
			if err != nil {
				t.Fatal(err)
			}
			qa, qr := pgx.Identifier{app}.Sanitize(), pgx.Identifier{rep}.Sanitize()
			admin := testsvc.Admin(t)
			for _, s := range []string{"CREATE ROLE " + qa + " LOGIN PASSWORD " + v.SQLLiteral(), "CREATE ROLE " + qr + " NOLOGIN"} {
				if _, err := admin.Exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range []string{"CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)",
				"GRANT SELECT, INSERT ON t TO " + qa + " WITH GRANT OPTION", "SET ROLE " + qa, "GRANT SELECT ON t TO " + qr, "RESET ROLE"} {
				if _, err := db.Pool.Exec(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			// DROP OWNED BY a grantee revokes only what an owner granted it:
			// cut the grant chain at the app roles before rep's cleanup.
			t.Cleanup(func() {
				for _, r := range []string{app, app + "_v2"} {
					_, _ = db.Pool.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{r}.Sanitize()+" CASCADE")
				}
			})
			b := testsvc.PgBouncer(t, testsvc.BouncerOptions{Users: map[string]string{app: string(v.Secret().Bytes())}})
			// The application, as the old role, through PgBouncer: its
			// server connection stays idle in PgBouncer after it leaves.
			c, err := pgx.Connect(ctx, b.URL(db.Name, app, oldPW))
			if err != nil {
				t.Fatal(err)
			}
			c.Close(ctx)

			dir := t.TempDir()
			subst := map[string]string{"goodgo_app": app, "goodgo_app_v2": app + "_v2", "pw": filepath.Join(dir, "pw"),
				"bg": filepath.Join(dir, "bg"), "plan.txt": filepath.Join(dir, "plan.txt"), "userlist.txt": b.UserlistPath, "10m": "20s"}
			vars := map[string]string{"DATABASE_URL": db.URL, "PGBOUNCER_ADMIN_URL": b.AdminURL()}
			var newPW string
			runProcedure(t, vars, blocks[i], subst, map[string]func(){
				"cutover": func() {
					pw, err := os.ReadFile(subst["pw"])
					if err != nil {
						t.Fatal(err)
					}
					newPW = strings.TrimSpace(string(pw))
					c, err := pgx.Connect(ctx, b.URL(db.Name, app+"_v2", newPW))
					if err != nil {
						t.Fatalf("cutover: the new role through PgBouncer: %v", err)
					}
					var n int
					if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
						t.Fatalf("cutover: the new role reads t: %v", err)
					}
					c.Close(ctx)
				},
			}, oldPW)
			if m := fileMode(t, subst["pw"]); m != 0o600 {
				t.Errorf("pw file mode %o, want 600", m)
			}
			if c, err := pgx.Connect(ctx, testsvc.URLAs(testsvc.ScramDatabase, app, oldPW)); err == nil {
				c.Close(ctx)
				t.Error("the old password still logs in")
			}
			if strategy == "alternate" {
				if m := fileMode(t, subst["bg"]); m != 0o600 {
					t.Errorf("break-glass file mode %o, want 600", m)
				}
			} else {
				var gone bool
				if err := db.Pool.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", app).Scan(&gone); err != nil || !gone {
					t.Errorf("mirror: the old role was not dropped (%v)", err)
				}
			}
			var ok bool
			if err := db.Pool.QueryRow(ctx, "SELECT has_table_privilege($1, 't', 'SELECT')", rep).Scan(&ok); err != nil || !ok {
				t.Errorf("%s lost SELECT on t, which the old role granted it (%v)", rep, err)
			}
			if newPW == "" {
				t.Fatal("no cutover step ran")
			}
		})
	}
}
