// Package pgroletest is a test kit for applications whose database role is
// rotated with pgrole: it creates a throwaway database and a login role with
// the privileges the application needs, gives the application a DSN file to
// read for every new connection (pgrole.DSNFile), and rotates the role as
// production does, so an integration test proves the application follows a
// rotation with no failed query.
//
// The common path, in a consumer's _test.go:
//
//	db := pgroletest.New(t, pgroletest.Options{
//		Setup: func(ctx context.Context, c *pgx.Conn, role string) error {
//			_, err := c.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY);
//				GRANT SELECT, INSERT ON orders TO `+pgx.Identifier{role}.Sanitize())
//			return err
//		},
//	})
//	pool, _ := pgxpool.NewWithConfig(ctx, db.PoolConfig(t)) // BeforeConnect reads db.DSNFile
//	// … start the application's load on pool …
//	r := db.Rotate(t, pgroletest.RotateOptions{})  // app → app_v2, DSN file rewritten at cutover
//	// … the load must have seen no error; r.Old no longer logs in once retired.
//
// It needs a PostgreSQL 13+ server and a superuser DSN: Options.AdminDSN, else
// $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres. Everything
// it creates is dropped when the test ends.
package pgroletest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/scram"
)

// DefaultAdminDSN is used when neither Options.AdminDSN nor $DATABASE_URL is set.
const DefaultAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Options say what database and role New creates.
type Options struct {
	// AdminDSN is a superuser connection to the cluster (default
	// $DATABASE_URL, then DefaultAdminDSN).
	AdminDSN string
	// Role is the base name of the login role (default "app_" + 8 random
	// hex characters). Rotations create Role_v2, Role_v3 …
	Role string
	// Setup runs once in the new database as the admin, after the role is
	// created: create the schema and grant the role what the application
	// needs. role is the login role's name, unquoted.
	Setup func(ctx context.Context, c *pgx.Conn, role string) error
	// SkipUnavailable skips the test (instead of failing it) when the server
	// cannot be reached.
	SkipUnavailable bool
}

// DB is a throwaway database with an application login role.
type DB struct {
	// AdminDSN is the superuser DSN of the cluster.
	AdminDSN string
	// Name is the database's name.
	Name string
	// Role is the login role the application uses now, and Password its
	// password; Rotate moves both on.
	Role     string
	Password fingerprint.Secret
	// DSNFile holds the application's DSN (role and password), written
	// atomically with mode 0600; Rotate rewrites it at cutover.
	DSNFile string
	// Stable is the stable role of the alternate strategy, as in
	// pgrole.Plan.Stable: the role New created (Options.Role).
	Stable string
}

// New creates the database and the role, runs Setup and writes DSNFile.
func New(t testing.TB, o Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := o.AdminDSN
	if admin == "" {
		admin = os.Getenv("DATABASE_URL")
	}
	if admin == "" {
		admin = DefaultAdminDSN
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if o.SkipUnavailable {
			t.Skipf("pgroletest: PostgreSQL unavailable: %v", err)
		}
		t.Fatalf("pgroletest: connect to the admin DSN: %v", err)
	}
	defer conn.Close(ctx)
	suffix := randomHex(t, 4)
	base := o.Role
	if base == "" {
		base = "app_" + suffix
	}
	if err := pgrole.ValidateName(base); err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	db := &DB{AdminDSN: admin, Name: "pgroletest_" + suffix, Role: base, Stable: base}
	pw, err := keygen.New(keygen.DB)
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	db.Password = fingerprint.NewSecret([]byte(pw))
	v, err := scram.New(db.Password, scram.Options{})
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(db.Name)); err != nil {
		t.Fatalf("pgroletest: create database: %v", err)
	}
	t.Cleanup(func() { db.drop(t) })
	if _, err := conn.Exec(ctx, "CREATE ROLE "+ident(base)+" LOGIN PASSWORD "+v.SQLLiteral()); err != nil {
		t.Fatalf("pgroletest: create role %s: %v", base, err)
	}
	if _, err := conn.Exec(ctx, "GRANT CONNECT, TEMPORARY ON DATABASE "+ident(db.Name)+" TO "+ident(base)); err != nil {
		t.Fatalf("pgroletest: grant connect: %v", err)
	}
	if o.Setup != nil {
		c, err := pgx.Connect(ctx, db.URL(db.Name, "", nil))
		if err != nil {
			t.Fatalf("pgroletest: connect to %s: %v", db.Name, err)
		}
		err = o.Setup(ctx, c, base)
		c.Close(ctx)
		if err != nil {
			t.Fatalf("pgroletest: Setup: %v", err)
		}
	}
	db.DSNFile = filepath.Join(t.TempDir(), "dsn")
	db.writeDSN(t)
	return db
}

// URL returns a DSN for database dbname on the admin DSN's host, as user
// with password; user "" keeps the admin's credentials.
func (db *DB) URL(dbname, user string, password *fingerprint.Secret) string {
	u, err := url.Parse(db.AdminDSN)
	if err != nil || u.Scheme == "" {
		// A key=value DSN: append the overrides (later keys win in libpq and pgx).
		s := db.AdminDSN + " dbname=" + quoteKV(dbname)
		if user != "" {
			s += " user=" + quoteKV(user)
			if password != nil {
				s += " password=" + quoteKV(string(password.Bytes()))
			}
		}
		return s
	}
	u.Path = "/" + dbname
	if user != "" {
		if password != nil {
			u.User = url.UserPassword(user, string(password.Bytes()))
		} else {
			u.User = url.User(user)
		}
	}
	return u.String()
}

// AppURL is the DSN of the application's current role and password on the
// test database.
func (db *DB) AppURL() string { return db.URL(db.Name, db.Role, &db.Password) }

// BeforeConnect is the pgxpool hook the application uses: it reads DSNFile
// for every new connection (pgrole.DSNFile).
func (db *DB) BeforeConnect() func(context.Context, *pgx.ConnConfig) error {
	return pgrole.DSNFile(db.DSNFile)
}

// PoolConfig returns a pgxpool configuration for the test database whose
// connections read DSNFile (BeforeConnect) and recycle quickly (lifetime
// 300 ms), so a pool follows a rotation within a second, as production pools
// do over their MaxConnLifetime.
func (db *DB) PoolConfig(t testing.TB) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL(db.Name, "", nil))
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	cfg.BeforeConnect = db.BeforeConnect()
	cfg.MaxConns = 4
	cfg.MaxConnLifetime = 300 * time.Millisecond
	cfg.MaxConnLifetimeJitter = 100 * time.Millisecond
	cfg.HealthCheckPeriod = 100 * time.Millisecond
	return cfg
}

// RotateOptions tune Rotate. The zero value rotates with the alternate
// strategy and retires the old login role once its sessions are gone.
type RotateOptions struct {
	// Strategy defaults to pgrole.Alternate.
	Strategy pgrole.Strategy
	// DrainTimeout bounds the wait for the old role's sessions (default 30 s).
	DrainTimeout time.Duration
	// Cutover, when set, runs after the DSN file is rewritten (e.g. to
	// reset a pool so it moves at once).
	Cutover func(ctx context.Context) error
}

// Rotation is what Rotate did.
type Rotation struct {
	Old, New string
	Applied  []pgrole.Applied
}

// Rotate rotates the application's role with pgrole as production does:
// plan, create and grant, verify, cutover (DSNFile rewritten atomically),
// drain, retire. Afterwards db.Role and db.Password are the new ones.
func (db *DB) Rotate(t testing.TB, o RotateOptions) Rotation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if o.Strategy == "" {
		o.Strategy = pgrole.Alternate
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	adm, err := pgrole.Connect(ctx, db.URL(db.Name, "", nil))
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	defer adm.Close(ctx)
	pw, err := keygen.New(keygen.DB)
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	secret := fingerprint.NewSecret([]byte(pw))
	v, err := scram.New(secret, scram.Options{})
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	po := pgrole.PlanOptions{Role: db.Role, Strategy: o.Strategy, Verifier: v}
	if o.Strategy == pgrole.Mirror {
		// What the old role owns goes to the new one.
		base, gen := pgrole.SplitLoginName(db.Role)
		if po.New, err = pgrole.LoginName(base, max(gen, 1)+1); err != nil {
			t.Fatalf("pgroletest: %v", err)
		}
		po.ReassignTo = po.New
	}
	plan, err := adm.Plan(ctx, po)
	if err != nil {
		t.Fatalf("pgroletest: plan: %v", err)
	}
	old := db.Role
	applied, err := adm.Rotate(ctx, plan, pgrole.Hooks{
		Cutover: func(ctx context.Context, p *pgrole.Plan) error {
			db.Role, db.Password = p.New, secret
			db.writeDSN(t)
			if o.Cutover != nil {
				return o.Cutover(ctx)
			}
			return nil
		},
		Drain: pgrole.DrainOptions{Timeout: o.DrainTimeout, Poll: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("pgroletest: rotate %s: %v", old, err)
	}
	return Rotation{Old: old, New: plan.New, Applied: applied}
}

func (db *DB) writeDSN(t testing.TB) {
	t.Helper()
	tmp := db.DSNFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(db.AppURL()), 0o600); err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	if err := os.Rename(tmp, db.DSNFile); err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
}

// drop removes the database and every role of the base name.
func (db *DB) drop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminDSN)
	if err != nil {
		t.Errorf("pgroletest: cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(db.Name)+" WITH (FORCE)"); err != nil {
		t.Errorf("pgroletest: drop database %s: %v", db.Name, err)
	}
	rows, err := conn.Query(ctx, `SELECT rolname FROM pg_roles WHERE rolname = $1 OR rolname ~ ('^' || $2 || '_v[0-9]+$') ORDER BY length(rolname) DESC`, db.Stable, regexpQuote(db.Stable))
	if err != nil {
		t.Errorf("pgroletest: list roles: %v", err)
		return
	}
	roles, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	var errs []error
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+ident(r)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("pgroletest: drop roles: %v", err)
	}
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteKV(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// regexpQuote escapes s for a POSIX regular expression; role names
// ValidateName accepts need it only for safety.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.^$|?*+()[]{}`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgroletest: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// PasswordValid reports whether role can log in with password: it exists,
// has LOGIN, has not expired (VALID UNTIL) and its stored SCRAM verifier
// matches password. It reads the catalog instead of logging in, so it gives
// the right answer on a test cluster whose pg_hba.conf trusts every local
// connection.
func (db *DB) PasswordValid(t testing.TB, role string, password fingerprint.Secret) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminDSN)
	if err != nil {
		t.Fatalf("pgroletest: %v", err)
	}
	defer conn.Close(ctx)
	var stored *string
	var login, valid bool
	err = conn.QueryRow(ctx, `SELECT rolpassword, rolcanlogin, coalesce(rolvaliduntil > now(), true)
		FROM pg_authid WHERE rolname = $1`, role).Scan(&stored, &login, &valid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	if err != nil {
		t.Fatalf("pgroletest: read %s from pg_authid: %v", role, err)
	}
	if !login || !valid || stored == nil {
		return false
	}
	v, err := scram.Parse(*stored)
	if err != nil {
		return false // md5 or plaintext: not what pgrole writes
	}
	return v.Matches(password)
}
