// Package bouncer starts and stops a private PgBouncer process for tests and
// for the rotation drill: a config, userlist, log and pid file in a fresh
// directory, client auth scram-sha-256, every database forwarded to the same
// name on one Postgres server without a user= setting (so SCRAM pass-through
// works with the verifiers in userlist.txt). PgBouncer refuses to run as root;
// as root it is started as the postgres user.
package bouncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotInstalled is returned by Start when no pgbouncer binary is found.
var ErrNotInstalled = errors.New("bouncer: pgbouncer is not installed (apt-get install -y pgbouncer)")

// Config says how to start PgBouncer.
type Config struct {
	// Server is a DSN of the Postgres server to forward to; only its host and
	// port are used.
	Server string
	// PoolMode is "session" (default) or "transaction".
	PoolMode string
	// Users are the initial userlist.txt entries: role → SCRAM verifier or
	// plain password. The admin user is added on its own.
	Users map[string]string
	// Extra lines for the [pgbouncer] section.
	Extra []string
}

// Process is a running PgBouncer.
type Process struct {
	Dir           string // owned by the postgres user when started as root
	ConfigPath    string
	UserlistPath  string
	LogPath       string
	Host          string
	Port          int
	AdminUser     string
	AdminPassword string
	pidPath       string
}

// Binary returns the path of the pgbouncer binary, or ErrNotInstalled.
func Binary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", ErrNotInstalled
}

// Start writes the configuration into a new temporary directory, starts
// PgBouncer (daemonized) and waits until it accepts connections. Call Stop
// to end it and remove the directory.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	server, err := url.Parse(cfg.Server)
	if err != nil || server.Hostname() == "" {
		return nil, errors.New("bouncer: the server DSN must be a URL with a host")
	}
	dir, err := os.MkdirTemp("", "rotation-pgbouncer-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Process{
		Dir: dir, ConfigPath: filepath.Join(dir, "pgbouncer.ini"), UserlistPath: filepath.Join(dir, "userlist.txt"),
		LogPath: filepath.Join(dir, "pgbouncer.log"), pidPath: filepath.Join(dir, "pgbouncer.pid"),
		Host: "127.0.0.1", Port: port, AdminUser: "rotation_bouncer_admin", AdminPassword: "admin-" + randomHex(16),
	}
	mode := cfg.PoolMode
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
		"listen_addr = " + p.Host,
		"listen_port = " + strconv.Itoa(p.Port),
		"unix_socket_dir =",
		"auth_type = scram-sha-256",
		"auth_file = " + p.UserlistPath,
		"admin_users = " + p.AdminUser,
		"pool_mode = " + mode,
		"logfile = " + p.LogPath,
		"pidfile = " + p.pidPath,
		"max_client_conn = 500",
		"default_pool_size = 40",
		"ignore_startup_parameters = extra_float_digits,search_path",
	}
	ini = append(ini, cfg.Extra...)
	users := map[string]string{p.AdminUser: p.AdminPassword}
	for k, v := range cfg.Users {
		users[k] = v
	}
	if err := os.WriteFile(p.ConfigPath, []byte(strings.Join(ini, "\n")+"\n"), 0o644); err != nil {
		p.Stop()
		return nil, err
	}
	if err := os.WriteFile(p.UserlistPath, []byte(Userlist(users)), 0o644); err != nil {
		p.Stop()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-d", p.ConfigPath)
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			p.Stop()
			return nil, fmt.Errorf("bouncer: running as root needs a postgres user to run pgbouncer as: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		for _, f := range []string{dir, p.ConfigPath, p.UserlistPath} {
			if err := os.Chown(f, uid, gid); err != nil {
				p.Stop()
				return nil, err
			}
		}
		cmd = exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", bin, "-d", p.ConfigPath)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		log := p.Log()
		p.Stop()
		return nil, fmt.Errorf("bouncer: start: %w: %s %s", err, out, log)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log := p.Log()
			p.Stop()
			return nil, fmt.Errorf("bouncer: not listening on %s: %w\n%s", p.Addr(), err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addr is host:port.
func (p *Process) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// URL returns a DSN through PgBouncer to dbname as user with password.
func (p *Process) URL(dbname, user, password string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: p.Addr(),
		Path: "/" + dbname, RawQuery: "sslmode=disable"}
	return u.String()
}

// AdminURL returns a DSN for the admin console (database "pgbouncer").
func (p *Process) AdminURL() string { return p.URL("pgbouncer", p.AdminUser, p.AdminPassword) }

// Admin runs one command on the admin console (simple protocol) and returns
// the last result.
func (p *Process) Admin(ctx context.Context, sql string) (*pgconn.Result, error) {
	c, err := pgconn.Connect(ctx, p.AdminURL())
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	all, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return &pgconn.Result{}, nil
	}
	return all[len(all)-1], nil
}

// Log returns the PgBouncer log so far.
func (p *Process) Log() string {
	out, _ := os.ReadFile(p.LogPath)
	return string(out)
}

// Stop ends the process (SIGINT, then SIGKILL after 5 s) and removes its
// directory.
func (p *Process) Stop() {
	if raw, err := os.ReadFile(p.pidPath); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGINT)
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.RemoveAll(p.Dir)
}

// Userlist renders userlist.txt lines ("name" "secret") sorted by name, with
// double quotes doubled as PgBouncer expects.
func Userlist(users map[string]string) string {
	names := make([]string, 0, len(users))
	for k := range users {
		names = append(names, k)
	}
	sort.Strings(names)
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	var sb strings.Builder
	for _, n := range names {
		sb.WriteString(q(n) + " " + q(users[n]) + "\n")
	}
	return sb.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Go 1.24+
	return hex.EncodeToString(b)
}
