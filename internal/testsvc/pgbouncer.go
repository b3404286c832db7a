package testsvc

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// BouncerOptions configures PgBouncer.
type BouncerOptions struct {
	// PoolMode is "session" (default) or "transaction". pgx's default
	// statement cache needs session mode on PgBouncer 1.18.
	PoolMode string
	// Users are the userlist.txt entries to start with: role name → SCRAM
	// verifier (or plain password). The admin user is added on its own.
	Users map[string]string
	// Extra lines for the [pgbouncer] section, e.g. "server_lifetime = 5".
	Extra []string
}

// Bouncer is a PgBouncer started for one test and stopped when it ends. Any
// database name is forwarded to the same name on the DATABASE_URL server,
// without a user= setting, so SCRAM pass-through works with the verifiers in
// userlist.txt.
type Bouncer struct {
	Dir           string // config, userlist, log and pid file; owned by the postgres user when run as root
	ConfigPath    string
	UserlistPath  string
	LogPath       string
	Host          string
	Port          int
	AdminUser     string
	AdminPassword string
	pidPath       string
}

// PgBouncer starts a PgBouncer for t with client auth scram-sha-256. It
// refuses to run as root, so as root it is started as the postgres user
// (runuser -u postgres -- pgbouncer -d). Missing pgbouncer skips the test, or
// fails it under CI.
func PgBouncer(t testing.TB, opt BouncerOptions) *Bouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/pgbouncer"); statErr == nil {
			bin = "/usr/sbin/pgbouncer"
		} else {
			unavailable(t, "PgBouncer", "install it: apt-get install -y pgbouncer, or run ./scripts/test.sh", err)
		}
	}
	server, err := url.Parse(DatabaseURL())
	if err != nil {
		t.Fatalf("testsvc: DATABASE_URL: %v", err)
	}
	dir, err := os.MkdirTemp("", "rt-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bouncer{
		Dir: dir, ConfigPath: filepath.Join(dir, "pgbouncer.ini"), UserlistPath: filepath.Join(dir, "userlist.txt"),
		LogPath: filepath.Join(dir, "pgbouncer.log"), pidPath: filepath.Join(dir, "pgbouncer.pid"),
		Host: "127.0.0.1", Port: freePort(t), AdminUser: "rt_bouncer_admin", AdminPassword: "admin-" + Suffix() + Suffix(),
	}
	mode := opt.PoolMode
	if mode == "" {
		mode = "session"
	}
	serverPort := server.Port()
	if serverPort == "" {
		serverPort = "5432"
	}
	ini := []string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%s", server.Hostname(), serverPort),
		"[pgbouncer]",
		"listen_addr = " + b.Host,
		"listen_port = " + strconv.Itoa(b.Port),
		"unix_socket_dir =",
		"auth_type = scram-sha-256",
		"auth_file = " + b.UserlistPath,
		"admin_users = " + b.AdminUser,
		"pool_mode = " + mode,
		"logfile = " + b.LogPath,
		"pidfile = " + b.pidPath,
		"max_client_conn = 500",
		"default_pool_size = 40",
		"ignore_startup_parameters = extra_float_digits,search_path",
	}
	ini = append(ini, opt.Extra...)
	users := map[string]string{b.AdminUser: b.AdminPassword}
	for k, v := range opt.Users {
		users[k] = v
	}
	writeFile(t, b.ConfigPath, strings.Join(ini, "\n")+"\n")
	writeFile(t, b.UserlistPath, Userlist(users))

	cmd := exec.Command(bin, "-d", b.ConfigPath)
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "PgBouncer", "running as root needs a postgres user to run it as", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		for _, p := range []string{dir, b.ConfigPath, b.UserlistPath} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		cmd = exec.Command("runuser", "-u", "postgres", "--", bin, "-d", b.ConfigPath)
	}
	t.Cleanup(func() { b.stop(t) })
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testsvc: start pgbouncer: %v: %s\n%s", err, out, b.log())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("testsvc: pgbouncer did not listen on %d: %v\n%s", b.Port, err, b.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Userlist renders userlist.txt lines ("name" "secret") for users, sorted by
// name. Double quotes in values are doubled, as PgBouncer expects.
func Userlist(users map[string]string) string {
	names := make([]string, 0, len(users))
	for k := range users {
		names = append(names, k)
	}
	sort.Strings(names)
	var sb strings.Builder
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	for _, n := range names {
		sb.WriteString(q(n) + " " + q(users[n]) + "\n")
	}
	return sb.String()
}

// URL returns a DSN through PgBouncer to dbname as user with password.
func (b *Bouncer) URL(dbname, user, password string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(b.Host, strconv.Itoa(b.Port)),
		Path: "/" + dbname, RawQuery: "sslmode=disable"}
	return u.String()
}

// AdminURL returns a DSN for the admin console (database "pgbouncer").
func (b *Bouncer) AdminURL() string { return b.URL("pgbouncer", b.AdminUser, b.AdminPassword) }

// Admin runs one command on the admin console (simple protocol) and returns
// its result.
func (b *Bouncer) Admin(ctx context.Context, sql string) (*pgconn.Result, error) {
	c, err := pgconn.Connect(ctx, b.AdminURL())
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	res := c.Exec(ctx, sql)
	all, err := res.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return &pgconn.Result{}, nil
	}
	return all[len(all)-1], nil
}

func (b *Bouncer) log() string {
	out, _ := os.ReadFile(b.LogPath)
	return string(out)
}

func (b *Bouncer) stop(t testing.TB) {
	if raw, err := os.ReadFile(b.pidPath); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGINT)
			for i := 0; i < 100; i++ {
				if syscall.Kill(pid, 0) != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if t.Failed() {
		t.Logf("pgbouncer log:\n%s", b.log())
	}
	_ = os.RemoveAll(b.Dir)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
