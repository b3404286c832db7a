package pgrole_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// fixture is a schema an application role uses in every way pgrole must
// carry over.
type fixture struct {
	db       *testsvc.DB
	app      string // the application's login role (the base)
	owner    string // owns the schema objects
	reporter string // receives default privileges the app role defines
	password string
	lo       uint32 // a large object the app may read
}

func q(s string) string { return pgx.Identifier{s}.Sanitize() }

func mustExec(t *testing.T, c interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func verifierFor(t testing.TB, pw string) scram.Verifier {
	t.Helper()
	v, err := scram.New(fingerprint.NewSecret([]byte(pw)), scram.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: testsvc.Postgres(t), app: testsvc.RoleName(t, "app"), owner: testsvc.RoleName(t, "own"),
		reporter: testsvc.RoleName(t, "rep"), password: "pw-" + testsvc.Suffix() + testsvc.Suffix()}
	admin := testsvc.Admin(t)
	v := verifierFor(t, f.password)
	app, own, rep := q(f.app), q(f.owner), q(f.reporter)
	mustExec(t, admin,
		"CREATE ROLE "+own+" NOLOGIN",
		"CREATE ROLE "+rep+" NOLOGIN",
		"CREATE ROLE "+app+" LOGIN CONNECTION LIMIT 50 PASSWORD "+v.SQLLiteral(),
		"GRANT CONNECT ON DATABASE "+q(f.db.Name)+" TO "+app,
		"ALTER ROLE "+app+" SET search_path = app, public",
		"ALTER ROLE "+app+" SET statement_timeout = '5s'",
	)
	p := f.db.Pool
	mustExec(t, p,
		"CREATE SCHEMA app AUTHORIZATION "+own,
		"GRANT USAGE, CREATE ON SCHEMA app TO "+app,
		"SET ROLE "+own,
		"CREATE TABLE app.orders (id serial PRIMARY KEY, tenant text NOT NULL, amount int NOT NULL DEFAULT 0)",
		"CREATE TABLE app.events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text)",
		"CREATE SEQUENCE app.ticket_seq",
		"CREATE VIEW app.order_totals AS SELECT tenant, sum(amount) AS total FROM app.orders GROUP BY tenant",
		"CREATE FUNCTION app.next_ticket() RETURNS bigint LANGUAGE sql AS 'SELECT nextval(''app.ticket_seq'')'",
		"REVOKE EXECUTE ON FUNCTION app.next_ticket() FROM PUBLIC",
		"CREATE PROCEDURE app.touch() LANGUAGE sql AS 'UPDATE app.orders SET amount = amount WHERE false'",
		"REVOKE EXECUTE ON PROCEDURE app.touch() FROM PUBLIC",
		"CREATE TYPE app.mood AS ENUM ('ok', 'bad')",
		"REVOKE USAGE ON TYPE app.mood FROM PUBLIC",
		"CREATE TABLE app.secrets (id int, public_col text, private_col text)",
		"INSERT INTO app.secrets VALUES (1, 'visible', 'hidden')",
		"INSERT INTO app.orders (tenant, amount) VALUES ('a', 1), ('b', 2), ('b', 3)",
		"ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY",
		"CREATE POLICY tenant_a ON app.orders TO "+app+" USING (tenant = 'a') WITH CHECK (tenant = 'a')",
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+own+" IN SCHEMA app GRANT SELECT, INSERT ON TABLES TO "+app,
		"RESET ROLE",
		"GRANT SELECT, INSERT, UPDATE ON app.orders TO "+app,
		"GRANT USAGE ON SEQUENCE app.orders_id_seq TO "+app,
		"GRANT SELECT, INSERT ON app.events TO "+app,
		"GRANT USAGE ON SEQUENCE app.ticket_seq TO "+app,
		"GRANT SELECT ON app.order_totals TO "+app+" WITH GRANT OPTION",
		"GRANT EXECUTE ON FUNCTION app.next_ticket() TO "+app,
		"GRANT EXECUTE ON PROCEDURE app.touch() TO "+app,
		"GRANT USAGE ON TYPE app.mood TO "+app,
		"GRANT SELECT (id, public_col) ON app.secrets TO "+app,
		// The app role defines default privileges for what it creates, and owns a table.
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+app+" IN SCHEMA app GRANT SELECT ON TABLES TO "+rep,
		"SET ROLE "+app,
		"CREATE TABLE app.app_owned (x int)",
		"RESET ROLE",
	)
	if err := p.QueryRow(ctx, "SELECT lo_from_bytea(0, 'large')").Scan(&f.lo); err != nil {
		t.Fatal(err)
	}
	mustExec(t, p, fmt.Sprintf("ALTER LARGE OBJECT %d OWNER TO %s", f.lo, own), fmt.Sprintf("GRANT SELECT ON LARGE OBJECT %d TO %s", f.lo, app))
	return f
}

var laterTables int

// check runs the application's functional checks as role: settings, insert
// through the serial and the identity column, the function and procedure,
// reading through the RLS policy, the column grants, the view, the large
// object, a table the owner creates now, and default privileges for what
// role creates.
func (f *fixture) check(t *testing.T, role string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, role, ""))
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	defer c.Close(ctx)
	one := func(sql string, dst any) {
		t.Helper()
		if err := c.QueryRow(ctx, sql).Scan(dst); err != nil {
			t.Fatalf("as %s: %s: %v", role, sql, err)
		}
	}
	var s string
	one("SHOW search_path", &s)
	if s != "app, public" {
		t.Fatalf("as %s: search_path = %q", role, s)
	}
	one("SHOW statement_timeout", &s)
	if s != "5s" {
		t.Fatalf("as %s: statement_timeout = %q", role, s)
	}
	var id, n int64
	one("INSERT INTO orders (tenant, amount) VALUES ('a', 10) RETURNING id", &id)
	one("INSERT INTO events (body) VALUES ('e') RETURNING id", &id)
	one("SELECT next_ticket()", &id)
	if _, err := c.Exec(ctx, "CALL touch()"); err != nil {
		t.Fatalf("as %s: CALL touch(): %v", role, err)
	}
	if _, err := c.Exec(ctx, "UPDATE orders SET amount = amount + 1 WHERE tenant = 'a'"); err != nil {
		t.Fatalf("as %s: update: %v", role, err)
	}
	one("SELECT count(*) FROM orders WHERE tenant = 'b'", &n)
	if n != 0 {
		t.Fatalf("as %s: RLS let %d rows of tenant b through", role, n)
	}
	one("SELECT count(*) FROM orders", &n)
	if n == 0 {
		t.Fatalf("as %s: RLS policy no longer applies: no rows visible", role)
	}
	one("SELECT public_col FROM secrets", &s)
	if _, err := c.Exec(ctx, "SELECT private_col FROM secrets"); !isDenied(err) {
		t.Fatalf("as %s: reading a column without a grant: %v, want permission denied", role, err)
	}
	one("SELECT count(*) FROM order_totals", &n)
	var b []byte
	one(fmt.Sprintf("SELECT lo_get(%d)", f.lo), &b)
	one("SELECT 'ok'::mood::text", &s)
	one("SELECT count(*) FROM app_owned", &n)

	laterTables++
	later := fmt.Sprintf("later_%d_%s", laterTables, testsvc.Suffix())
	mustExec(t, f.db.Pool, "SET ROLE "+q(f.owner), "CREATE TABLE app."+later+" (x int)", "RESET ROLE")
	if _, err := c.Exec(ctx, "INSERT INTO "+later+" VALUES (1)"); err != nil {
		t.Fatalf("as %s: a table created later is not usable: %v", role, err)
	}
	one("SELECT count(*) FROM "+later, &n)

	mine := "made_by_" + testsvc.Suffix()
	if _, err := c.Exec(ctx, "CREATE TABLE app."+mine+" (x int)"); err != nil {
		t.Fatalf("as %s: create table: %v", role, err)
	}
	var ok bool
	if err := f.db.Pool.QueryRow(ctx, "SELECT has_table_privilege($1, 'app."+mine+"', 'SELECT')", f.reporter).Scan(&ok); err != nil || !ok {
		t.Fatalf("default privileges %s defines did not reach %s (%v)", role, f.reporter, err)
	}
}

func isDenied(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "42501"
}

func connectAdmin(t *testing.T, db string) *pgrole.Admin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm, err := pgrole.Connect(ctx, testsvc.URLAs(db, "postgres", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close(context.Background()) })
	return adm
}

func mustNotContain(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("secret #%d (%d bytes) appears in the output", i, len(s))
		}
	}
}

// detRand is a deterministic random source for plans.
func detRand(seed byte) *bytes.Reader {
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return bytes.NewReader(b)
}

// shareOwnership moves what the app role owns to a NOLOGIN owner role the
// app role is a member of, the remedy the diff's OWNER findings name: the
// mirror strategy copies that membership, so the new login role gets the
// owner rights too.
func (f *fixture) shareOwnership(t *testing.T) string {
	t.Helper()
	owners := testsvc.RoleName(t, "owners")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(owners)+" NOLOGIN", "GRANT "+q(owners)+" TO "+q(f.app))
	mustExec(t, f.db.Pool, "ALTER TABLE app.app_owned OWNER TO "+q(owners))
	return owners
}
