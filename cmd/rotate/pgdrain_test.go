package main

import (
	"context"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

// Issue 11.13: behind PgBouncer, idle server connections of the old role
// (in two databases) outlive a plain drain, whose error names --pgbouncer;
// "pg drain --pgbouncer" RECONNECTs every database and drains. Incident
// mode shows its count with --dry-run and needs --yes.
func TestPGDrainBehindPgBouncer(t *testing.T) {
	ctx := context.Background()
	db, db2 := testsvc.Postgres(t), testsvc.Postgres(t)
	app := testsvc.RoleName(t, "drain")
	pw := "drain-pw-" + testsvc.Suffix()
	v, err := scram.New(fingerprint.NewSecret([]byte(pw)), scram.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN PASSWORD "+v.SQLLiteral()); err != nil {
		t.Fatal(err)
	}
	b := testsvc.PgBouncer(t, testsvc.BouncerOptions{Users: map[string]string{app: string(v.Secret().Bytes())}})
	for _, d := range []string{db.Name, db2.Name} {
		c, err := pgx.Connect(ctx, b.URL(d, app, pw))
		if err != nil {
			t.Fatal(err)
		}
		c.Close(ctx) // the client leaves; PgBouncer keeps the server connection
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--timeout", "1s")
	if r.code != exitCheck || !strings.Contains(r.stderr, "--pgbouncer") {
		t.Fatalf("plain drain behind PgBouncer: %+v (want a timeout naming --pgbouncer)", r)
	}
	if r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--incident", "--dry-run"); r.code != exitOK || !strings.Contains(r.stdout, "would terminate 2 session(s)") {
		t.Fatalf("incident --dry-run: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--incident"); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("incident without --yes: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--pgbouncer", "--timeout", "5s"); r.code != exitUsage {
		t.Fatalf("--pgbouncer without an admin DSN: %+v", r)
	}
	vars["PGBOUNCER_ADMIN_URL"] = b.AdminURL()
	r = runCLI(t, vars, "", "pg", "drain", "--role", app, "--pgbouncer", "--timeout", "20s")
	if r.code != exitOK || !strings.Contains(r.stdout, "next: rotate pg retire") {
		t.Fatalf("drain --pgbouncer: %+v", r)
	}
	assertNoSecret(t, r, pw)
}
