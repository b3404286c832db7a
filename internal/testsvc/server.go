package testsvc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerOptions configures a throwaway PostgreSQL cluster (StartPostgres).
type ServerOptions struct {
	// Settings are passed to the server as -c name=value, e.g.
	// "shared_preload_libraries": "pg_stat_statements" (settings that need
	// a restart, which the shared DATABASE_URL server cannot be given).
	Settings map[string]string
	// Libraries are shared libraries the test needs (without ".so"); when
	// the server build lacks one the test is skipped (failed under CI).
	Libraries []string
}

// Server is a PostgreSQL cluster of its own, started for one test: trust
// authentication on 127.0.0.1 for every role, superuser "postgres". It is
// stopped and its directory removed when the test ends.
type Server struct {
	URL   string // superuser DSN to its postgres database
	Port  int
	Major int    // major version, the same as DATABASE_URL's server
	Dir   string // holds db/ (the data directory) and server.log
	bin   string
}

// URLAs returns a DSN for database dbname on s as user (password-less:
// trust).
func (s *Server) URLAs(dbname, user string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, s.Port, dbname)
}

// Log returns the server log so far ("" when unreadable).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	return string(b)
}

// StartPostgres starts a fresh cluster for t with the binaries of the same
// major version as the DATABASE_URL server (so a PG_VERSIONS=16 run tests
// 16): the Debian build in /usr/lib/postgresql/MAJOR/bin or the one
// scripts/postgres-versions.sh unpacked under $ROTATION_CACHE (default
// /var/cache/rotation), or PG_BINDIR if set. As root the server runs as
// the postgres OS user (it refuses to run as root). Missing binaries or
// libraries skip the test (fail it under CI); a server that does not
// start fails it, with its log (only then: the log of a running server
// may hold what a test keeps secret, so it is never printed on its own).
func StartPostgres(t testing.TB, opt ServerOptions) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	major := baseMajor(t, ctx)
	bin, err := serverBinaries(major)
	if err != nil {
		unavailable(t, fmt.Sprintf("PostgreSQL %d server binaries", major), "install postgresql-"+strconv.Itoa(major)+", set PG_BINDIR, or run ./scripts/test.sh", err)
	}
	for _, lib := range opt.Libraries {
		if !hasLibrary(bin, lib) {
			unavailable(t, fmt.Sprintf("%s.so for PostgreSQL %d (%s)", lib, major, bin), "install the server's contrib modules", nil)
		}
	}
	dir, err := os.MkdirTemp("", "rotation-pgtest-")
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var owner []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "the postgres OS user (the server refuses to run as root)", "create it, or run the tests as another user", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("testsvc: %v", err)
		}
		owner = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(ctx context.Context, name string, args ...string) error {
		argv := append(append(append([]string(nil), owner...), filepath.Join(bin, name)), args...)
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "db")
	if err := run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	s := &Server{Port: port, Major: major, Dir: dir, bin: bin}
	s.URL = s.URLAs("postgres", "postgres")
	args := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", port, data)
	names := make([]string, 0, len(opt.Settings))
	for n := range opt.Settings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := opt.Settings[n]
		if strings.ContainsAny(n+v, " '\"\\") {
			t.Fatalf("testsvc: setting %s: spaces and quotes are not supported", n)
		}
		args += " -c " + n + "=" + v
	}
	t.Cleanup(func() {
		// Registered after the directory's removal, so it runs before it;
		// before the start, so a start that timed out is stopped too.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err != nil {
			return // not running
		}
		if err := run(ctx, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("testsvc: stop %s: %v", s.URL, err)
		}
	})
	if err := run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", args, "start"); err != nil {
		t.Fatalf("testsvc: start PostgreSQL %d: %v\nserver log:\n%s", major, err, s.Log())
	}
	c, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("testsvc: connect to the started server: %v", err)
	}
	defer c.Close(context.Background())
	checkServerVersion(t, c.PgConn().ParameterStatus("server_version"))
	return s
}

// baseMajor is the major version of the DATABASE_URL server.
func baseMajor(t testing.TB, ctx context.Context) int {
	t.Helper()
	c := adminConn(t, ctx)
	defer c.Close(context.Background())
	var num int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		t.Fatalf("testsvc: server version: %v", err)
	}
	return num / 10000
}

// serverBinaries finds the directory holding initdb, pg_ctl and postgres
// of the given major version.
func serverBinaries(major int) (string, error) {
	var cands []string
	if d := os.Getenv("PG_BINDIR"); d != "" {
		cands = append(cands, d)
	}
	cands = append(cands, fmt.Sprintf("/usr/lib/postgresql/%d/bin", major))
	cache := envOr("ROTATION_CACHE", "/var/cache/rotation")
	if m, _ := filepath.Glob(filepath.Join(cache, fmt.Sprintf("postgres-%d.*", major), "bin")); len(m) > 0 {
		sort.Strings(m)
		cands = append(cands, m[len(m)-1])
	}
	for _, d := range cands {
		ok := true
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, b)); err != nil || st.Mode()&0o111 == 0 {
				ok = false
			}
		}
		if ok && binaryMajor(d) == major {
			return d, nil
		}
	}
	return "", fmt.Errorf("none of %s holds initdb, pg_ctl and postgres of version %d", strings.Join(cands, ", "), major)
}

// binaryMajor runs postgres --version ("postgres (PostgreSQL) 16.4", or
// "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"); 0 when unknown.
func binaryMajor(bin string) int {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return 0
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return 0
	}
	v := f[2]
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// hasLibrary reports whether the build in bin has lib.so in its package
// library directory (Debian: ../lib; the embedded builds: ../lib/postgresql).
func hasLibrary(bin, lib string) bool {
	for _, d := range []string{"lib", "lib/postgresql"} {
		if _, err := os.Stat(filepath.Join(bin, "..", d, lib+".so")); err == nil {
			return true
		}
	}
	return false
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
