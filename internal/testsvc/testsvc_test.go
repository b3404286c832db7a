package testsvc

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgresIsolatedDatabase(t *testing.T) {
	db := Postgres(t)
	var name string
	if err := db.Pool.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != db.Name {
		t.Fatalf("connected to %q, want %q", name, db.Name)
	}
}

func TestRedisPrefixCleanedUp(t *testing.T) {
	var key string
	var outer *Redis
	t.Run("inner", func(t *testing.T) {
		r := NewRedis(t)
		outer = r
		key = r.Prefix + "k"
		if err := r.Client.Set(context.Background(), key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	// The inner test's cleanup closed its client: check with a new one.
	r := NewRedis(t)
	if outer.Prefix == r.Prefix {
		t.Fatal("two tests got the same prefix")
	}
	if n, err := r.Client.Exists(context.Background(), key).Result(); err != nil || n != 0 {
		t.Fatalf("key under a finished test's prefix survived: n=%d err=%v", n, err)
	}
}

func TestPgBouncerScramAndRoleCleanup(t *testing.T) {
	db := Postgres(t)
	ctx := context.Background()
	role := RoleName(t, "bouncer")
	password := "pw-" + Suffix() + Suffix()
	if _, err := db.Pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Fatal(err)
	}
	b := PgBouncer(t, BouncerOptions{Users: map[string]string{role: password}})

	c, err := pgx.Connect(ctx, b.URL(db.Name, role, password))
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v", err)
	}
	var user string
	if err := c.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != role {
		t.Fatalf("current_user = %q, %v; want %q", user, err, role)
	}
	c.Close(ctx)

	if c, err := pgx.Connect(ctx, b.URL(db.Name, role, "wrong-password")); err == nil {
		c.Close(ctx)
		t.Fatal("pgbouncer accepted a wrong password")
	}
	res, err := b.Admin(ctx, "SHOW USERS")
	if err != nil {
		t.Fatalf("admin console: %v", err)
	}
	if len(res.Rows) == 0 {
		t.Fatal("SHOW USERS returned no rows")
	}
}

func TestScramDatabaseChecksPasswords(t *testing.T) {
	RequireScram(t)
	ctx := context.Background()
	admin := Admin(t)
	role := RoleName(t, "scram")
	password := "pw-" + Suffix() + Suffix()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, URLAs(ScramDatabase, role, password))
	if err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	c.Close(ctx)
	if c, err := pgx.Connect(ctx, URLAs(ScramDatabase, role, password+"x")); err == nil {
		c.Close(ctx)
		t.Fatal("wrong password accepted")
	}
}

func TestRoleNameDroppedAtCleanup(t *testing.T) {
	var role string
	t.Run("inner", func(t *testing.T) {
		db := Postgres(t)
		role = RoleName(t, "owner")
		ctx := context.Background()
		if _, err := db.Pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, "CREATE TABLE t (id int); ALTER TABLE t OWNER TO "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	})
	var exists bool
	if err := Admin(t).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil || exists {
		t.Fatalf("role %s still exists after cleanup (err=%v)", role, err)
	}
}

func TestVersionMismatch(t *testing.T) {
	for _, c := range []struct {
		version, want string
		ok            bool
	}{
		{"16.14", "16", true}, {"17.10 (Debian 17.10-1)", "17", true}, {"18beta1", "18", true},
		{"15.19 (Debian 15.19-0+deb12u1)", "16", false}, {"160.1", "16", false}, {"16.1", "", true}, {"", "15", false},
	} {
		if err := versionMismatch(c.version, c.want); (err == nil) != c.ok {
			t.Errorf("versionMismatch(%q, %q) = %v, want ok=%v", c.version, c.want, err, c.ok)
		}
	}
}

// TestServerIsTheExpectedVersion fails when scripts/test.sh says it runs the
// suite on one PostgreSQL major version and DATABASE_URL reaches another.
func TestServerIsTheExpectedVersion(t *testing.T) {
	Admin(t)
}

// TestClockShiftReachesTests proves that a run with ROTATION_CLOCK_SHIFT set
// (scripts/test.sh's build overlay) really moves time.Now in test binaries,
// compared with date(1), which reads the real clock: otherwise the shifted CI
// run would pass without testing anything.
func TestClockShiftReachesTests(t *testing.T) {
	v := os.Getenv("ROTATION_CLOCK_SHIFT")
	if v == "" {
		t.Skip("ROTATION_CLOCK_SHIFT is not set: the clock is not shifted in this run")
	}
	shift, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("ROTATION_CLOCK_SHIFT=%q: %v", v, err)
	}
	out, err := exec.Command("date", "+%s").Output()
	if err != nil {
		t.Fatal(err)
	}
	real, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Now().Unix() - real; got < int64(shift/time.Second)-60 || got > int64(shift/time.Second)+60 {
		t.Fatalf("time.Now is %ds away from date(1), want %s: the overlay did not apply", got, shift)
	}
}

// A server of its own runs the DATABASE_URL server's major version with the
// settings given (one that needs a restart here), and is stopped and
// removed when its test ends.
func TestStartPostgresSettingsAndCleanup(t *testing.T) {
	var url, dir string
	t.Run("inner", func(t *testing.T) {
		s := StartPostgres(t, ServerOptions{Settings: map[string]string{"max_connections": "37", "shared_preload_libraries": "pg_stat_statements"},
			Libraries: []string{"pg_stat_statements"}})
		url, dir = s.URL, s.Dir
		ctx := context.Background()
		c, err := pgx.Connect(ctx, s.URLAs("postgres", "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var maxConn, preload string
		var num int
		if err := c.QueryRow(ctx, "SELECT current_setting('max_connections'), current_setting('shared_preload_libraries'), current_setting('server_version_num')::int").Scan(&maxConn, &preload, &num); err != nil {
			t.Fatal(err)
		}
		if maxConn != "37" || preload != "pg_stat_statements" || num/10000 != s.Major || s.Major != baseMajor(t, ctx) {
			t.Fatalf("max_connections %s, shared_preload_libraries %q, version %d (Major %d): not as asked", maxConn, preload, num, s.Major)
		}
	})
	if url == "" {
		return // skipped
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, url); err == nil {
		c.Close(ctx)
		t.Fatal("the server still runs after its test ended")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("its directory %s survived (%v)", dir, err)
	}
}
