package testsvc

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ScramDatabase is the database that scripts/test.sh puts behind a
// scram-sha-256 pg_hba rule (before the trust rules), so tests can prove that
// a password works and that a retired one does not.
const ScramDatabase = "rotation_scram"

// DB is an isolated database created for one test and dropped at its end.
type DB struct {
	Name string        // database name, "rt_<test>_<random>"
	URL  string        // superuser DSN to this database
	Pool *pgxpool.Pool // superuser pool on this database
}

// Postgres creates a fresh database for t and drops it (WITH FORCE) when t
// ends.
func Postgres(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := adminConn(t, ctx)
	defer admin.Close(context.Background())

	name := "rt_" + slug(t.Name(), 30) + "_" + Suffix()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testsvc: create database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, name) })

	u, err := url.Parse(DatabaseURL())
	if err != nil {
		t.Fatalf("testsvc: DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	db := &DB{Name: name, URL: u.String()}
	db.Pool, err = pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatalf("testsvc: connect %s: %v", name, err)
	}
	t.Cleanup(db.Pool.Close)
	return db
}

// Admin opens a superuser connection to the DATABASE_URL database, closed
// when t ends.
func Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := adminConn(t, ctx)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func adminConn(t testing.TB, ctx context.Context) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, DatabaseURL())
	if err != nil {
		unavailable(t, "Postgres", "set DATABASE_URL to a superuser DSN, or run ./scripts/test.sh", err)
	}
	checkServerVersion(t, c.PgConn().ParameterStatus("server_version"))
	return c
}

// checkServerVersion logs the server version a test runs on and, when
// PG_EXPECT_MAJOR is set (scripts/test.sh sets it for each version it runs),
// fails the test if the server is another major version: a run that claims
// to test PostgreSQL 16 really ran on 16.
func checkServerVersion(t testing.TB, version string) {
	t.Helper()
	t.Logf("testsvc: PostgreSQL %s", version)
	if err := versionMismatch(version, os.Getenv("PG_EXPECT_MAJOR")); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
}

// versionMismatch says why a server_version does not have the wanted major
// version ("16" for "16.14", "16beta1", "16.2 (Debian 16.2-1)"); "" wants any.
func versionMismatch(version, want string) error {
	if want == "" {
		return nil
	}
	major := version
	if i := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		major = version[:i]
	}
	if major != want {
		return fmt.Errorf("PG_EXPECT_MAJOR=%s but DATABASE_URL's server is PostgreSQL %q", want, version)
	}
	return nil
}

func dropDatabase(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, DatabaseURL())
	if err != nil {
		t.Errorf("testsvc: drop database %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("testsvc: drop database %s: %v", name, err)
	}
}

// RoleName returns a unique role name "rt_<base>_<random>" (lowercase, at
// most 40 bytes, so suffixes like "_v2" still fit in 63) and drops that role,
// and any role whose name starts with it, when t ends: their sessions are
// terminated, what they own or were granted is dropped in every database, then
// the roles are dropped.
func RoleName(t testing.TB, base string) string {
	t.Helper()
	name := "rt_" + slug(base, 20) + "_" + Suffix()
	t.Cleanup(func() { dropRoles(t, name) })
	return name
}

func dropRoles(t testing.TB, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, DatabaseURL())
	if err != nil {
		t.Errorf("testsvc: drop roles %s*: %v", prefix, err)
		return
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY length(rolname) DESC`, prefix)
	if err != nil {
		t.Errorf("testsvc: list roles: %v", err)
		return
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(roles) == 0 {
		return
	}
	_, _ = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1)`, roles)
	rows, err = admin.Query(ctx, `SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
		JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = ANY($1) AND d.datallowconn`, roles)
	if err != nil {
		t.Errorf("testsvc: role dependencies: %v", err)
		return
	}
	dbs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	quoted := ""
	for i, r := range roles {
		if i > 0 {
			quoted += ", "
		}
		quoted += pgx.Identifier{r}.Sanitize()
	}
	for _, d := range dbs {
		if err := execIn(ctx, d, "DROP OWNED BY "+quoted+" CASCADE"); err != nil {
			t.Logf("testsvc: drop owned in %s: %v", d, err)
		}
	}
	// Shared dependencies (database privileges) are cleared from any database.
	if _, err := admin.Exec(ctx, "DROP OWNED BY "+quoted+" CASCADE"); err != nil {
		t.Logf("testsvc: drop owned: %v", err)
	}
	for _, r := range roles {
		if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
			t.Errorf("testsvc: drop role %s: %v", r, err)
		}
	}
}

func execIn(ctx context.Context, dbname, sql string) error {
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		return err
	}
	u.Path = "/" + dbname
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

// URLAs returns a DSN for database dbname on the DATABASE_URL server as user
// with password (empty for none).
func URLAs(dbname, user, password string) string {
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		return ""
	}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	u.Path = "/" + dbname
	return u.String()
}

// RequireScram checks that ScramDatabase exists and really demands a
// password (the pg_hba rule that scripts/test.sh adds): a connection with no
// password must be refused. Otherwise the test is skipped (failed in CI).
func RequireScram(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := adminConn(t, ctx)
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, ScramDatabase).Scan(&exists); err != nil || !exists {
		unavailable(t, "database "+ScramDatabase, "run ./scripts/test.sh to create it and its scram-sha-256 pg_hba rule", err)
	}
	c, err := pgx.Connect(ctx, URLAs(ScramDatabase, "postgres", ""))
	if err == nil {
		c.Close(ctx)
		unavailable(t, "scram-sha-256 rule for "+ScramDatabase, "run ./scripts/test.sh to add it to pg_hba.conf", fmt.Errorf("a password-less connection was accepted"))
	}
}
