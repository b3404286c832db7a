// Package pgbouncer keeps PgBouncer in step with a Postgres role rotation:
// it rewrites userlist.txt atomically with the same SCRAM verifiers Postgres
// stores (so SCRAM pass-through keeps working), reloads PgBouncer through its
// admin console, and confirms the result with SHOW USERS.
//
//	ul, _ := pgbouncer.ReadUserlist(path)
//	ul.Set("app_v2", verifier.Secret())           // keep "app" until it is retired
//	_ = pgbouncer.WriteUserlist(path, ul)         // temp file + fsync + rename, mode and owner kept
//	adm, _ := pgbouncer.Connect(ctx, adminDSN)    // simple protocol only
//	_ = adm.Reload(ctx)
//	users, _ := adm.ShowUsers(ctx)                // confirm app_v2 is known
//
// PgBouncer (1.17+) re-reads auth_file only on RELOAD, and skips it when
// stat() reports the same inode, mode, owner, size and mtime (seconds):
// WriteUserlist always produces a new inode and an mtime in a later second
// than the file it replaces, so a RELOAD after it always reloads.
package pgbouncer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrMalformed is returned by ParseUserlist for a line that is not
	// `"name" "secret"`. The error names the line number, never its content.
	ErrMalformed = errors.New("pgbouncer: malformed userlist line")
	// ErrInvalidName is returned for a user name that cannot be written
	// on a userlist line (empty, longer than 63 bytes, or holding a NUL or
	// a newline), as pgrole.ErrInvalidName is for a role name.
	ErrInvalidName = errors.New("pgbouncer: invalid user name")
	// ErrBadSecret is returned for a secret that cannot be written on one
	// userlist line (it holds a NUL or a newline). The error never
	// contains the secret.
	ErrBadSecret = errors.New("pgbouncer: invalid secret")
	// ErrNotConfirmed is returned by Confirm when SHOW USERS lacks a user.
	ErrNotConfirmed = errors.New("pgbouncer: user not listed by SHOW USERS after RELOAD")
)

// Userlist is the content of a PgBouncer auth_file: user name → secret
// (SCRAM verifier, md5 hash or plaintext). Comments are not preserved.
type Userlist struct {
	m map[string]fingerprint.Secret
}

// NewUserlist returns an empty Userlist.
func NewUserlist() *Userlist { return &Userlist{m: map[string]fingerprint.Secret{}} }

// Set adds or replaces name's secret. A secret holding a NUL or a newline
// is refused (ErrBadSecret): written out, it would end its line and could
// add a user of its own choosing to the file.
func (u *Userlist) Set(name string, secret fingerprint.Secret) error {
	if err := checkName(name); err != nil {
		return err
	}
	if bytes.ContainsAny(secret.Bytes(), "\x00\n") {
		return fmt.Errorf("%w for %q (fp=%s): it holds a NUL or a newline, which a userlist line cannot carry", ErrBadSecret, name, secret.Fingerprint())
	}
	if u.m == nil {
		u.m = map[string]fingerprint.Secret{}
	}
	u.m[name] = secret
	return nil
}

// Delete removes name. PgBouncer keeps a removed user with an empty password
// after RELOAD, so it can no longer log in.
func (u *Userlist) Delete(name string) { delete(u.m, name) }

// Get returns name's secret.
func (u *Userlist) Get(name string) (fingerprint.Secret, bool) {
	s, ok := u.m[name]
	return s, ok
}

// Names returns the user names, sorted.
func (u *Userlist) Names() []string {
	out := make([]string, 0, len(u.m))
	for k := range u.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkName(name string) error {
	if name == "" || len(name) > 63 || strings.ContainsAny(name, "\x00\n\r") {
		return fmt.Errorf("%w: must be 1..63 bytes without NUL or newline", ErrInvalidName)
	}
	return nil
}

// Marshal renders the userlist, one `"name" "secret"` line per user sorted
// by name, doubling double quotes as PgBouncer expects.
func (u *Userlist) Marshal() []byte {
	var b bytes.Buffer
	for _, n := range u.Names() {
		b.WriteString(quote(n))
		b.WriteByte(' ')
		b.WriteString(quote(string(u.m[n].Bytes())))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ParseUserlist parses auth_file content: lines of at least two
// double-quoted fields ("" escapes a quote; the rest of the line is ignored),
// blank lines and lines starting with ';' (comments).
func ParseUserlist(data []byte) (*Userlist, error) {
	u := NewUserlist()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, ";") {
			continue
		}
		name, rest, ok := field(text)
		if !ok {
			return nil, fmt.Errorf("%w %d: want \"name\" \"secret\"", ErrMalformed, line)
		}
		secret, _, ok := field(strings.TrimLeft(rest, " \t"))
		if !ok {
			return nil, fmt.Errorf("%w %d: want a second quoted field", ErrMalformed, line)
		}
		if err := u.Set(name, fingerprint.NewSecret([]byte(secret))); err != nil {
			return nil, fmt.Errorf("%w %d: %w", ErrMalformed, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return u, nil
}

// field reads one double-quoted field at the start of s.
func field(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

// ReadUserlist reads and parses the file at path. A missing file is an
// empty Userlist.
func ReadUserlist(path string) (*Userlist, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewUserlist(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: read userlist: %w", err)
	}
	u, err := ParseUserlist(data)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %s: %w", path, err)
	}
	return u, nil
}

// WriteUserlist replaces the file at path with u atomically: a temp file in
// the same directory is written, fsynced, given the old file's mode and owner
// (0600 and the current user for a new file), renamed over path, and the
// directory is fsynced. Its mtime is set to a later second than the replaced
// file's, so PgBouncer's stat() comparison always sees a change. Readers see
// the old or the new file, never a mix.
func WriteUserlist(path string, u *Userlist) error {
	dir := filepath.Dir(path)
	mode := os.FileMode(0o600)
	uid, gid := -1, -1
	var oldMtime time.Time
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		oldMtime = fi.ModTime()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pgbouncer: stat userlist: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".userlist-*.tmp")
	if err != nil {
		return fmt.Errorf("pgbouncer: create temp userlist in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(u.Marshal()); err != nil {
		return fmt.Errorf("pgbouncer: write temp userlist: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("pgbouncer: fsync temp userlist: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("pgbouncer: chmod temp userlist: %w", err)
	}
	if uid >= 0 && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err := tmp.Chown(uid, gid); err != nil {
			return fmt.Errorf("pgbouncer: keep the userlist owner %d:%d (run as that user or root): %w", uid, gid, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pgbouncer: close temp userlist: %w", err)
	}
	mtime := time.Now()
	if !oldMtime.IsZero() && mtime.Unix() <= oldMtime.Unix() {
		mtime = time.Unix(oldMtime.Unix()+1, 0)
	}
	if err := os.Chtimes(tmpName, mtime, mtime); err != nil {
		return fmt.Errorf("pgbouncer: set userlist mtime: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("pgbouncer: rename userlist into place: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Admin is a connection to PgBouncer's admin console (database "pgbouncer").
// The console speaks only the simple query protocol; every command goes
// through pgconn's Exec.
type Admin struct {
	conn *pgconn.PgConn
}

// Connect opens the admin console at dsn (a user in admin_users).
func Connect(ctx context.Context, dsn string) (*Admin, error) {
	c, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: connect to the admin console: %w", err)
	}
	return &Admin{conn: c}, nil
}

// Close closes the admin connection.
func (a *Admin) Close(ctx context.Context) error { return a.conn.Close(ctx) }

// Exec runs one admin command and returns its rows, each a map from column
// name to text value (columns differ between PgBouncer versions, so they are
// read by name).
func (a *Admin) Exec(ctx context.Context, cmd string) ([]map[string]string, error) {
	results, err := a.conn.Exec(ctx, cmd).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %s: %w", firstWord(cmd), err)
	}
	var rows []map[string]string
	for _, r := range results {
		for _, row := range r.Rows {
			m := make(map[string]string, len(r.FieldDescriptions))
			for i, fd := range r.FieldDescriptions {
				if i < len(row) {
					m[fd.Name] = string(row[i])
				}
			}
			rows = append(rows, m)
		}
	}
	return rows, nil
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}

// Reload runs RELOAD: PgBouncer re-reads its config and auth_file.
func (a *Admin) Reload(ctx context.Context) error {
	_, err := a.Exec(ctx, "RELOAD")
	return err
}

// User is one row of SHOW USERS.
type User struct {
	Name string
	// Columns holds every column by name (pool_mode, current_connections…,
	// depending on the version).
	Columns map[string]string
}

// ShowUsers runs SHOW USERS.
func (a *Admin) ShowUsers(ctx context.Context) ([]User, error) {
	rows, err := a.Exec(ctx, "SHOW USERS")
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(rows))
	for _, r := range rows {
		out = append(out, User{Name: r["name"], Columns: r})
	}
	return out, nil
}

// Confirm checks that every name is listed by SHOW USERS. PgBouncer also
// lists users it knew before with an empty password, so a listed user is
// not proof that an absent one is gone; log in to prove a password works.
func (a *Admin) Confirm(ctx context.Context, names ...string) error {
	users, err := a.ShowUsers(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, u := range users {
		seen[u.Name] = true
	}
	for _, n := range names {
		if !seen[n] {
			return fmt.Errorf("%w: %q", ErrNotConfirmed, n)
		}
	}
	return nil
}

// Reconnect runs RECONNECT for database db (all databases when db is ""):
// server connections are closed once released, so connections logged in as
// a retired role go away. PgBouncer has no per-user RECONNECT.
func (a *Admin) Reconnect(ctx context.Context, db string) error {
	_, err := a.Exec(ctx, withDB("RECONNECT", db))
	return err
}

// WaitClose runs WAIT_CLOSE for db (all when ""): it returns once the server
// connections marked by RECONNECT are closed, or ctx ends.
func (a *Admin) WaitClose(ctx context.Context, db string) error {
	_, err := a.Exec(ctx, withDB("WAIT_CLOSE", db))
	return err
}

// Clients returns how many client connections of user PgBouncer has (SHOW
// CLIENTS): active, idle or waiting, with or without a server connection.
// pg_stat_activity sees only server connections: in transaction pooling an
// idle client holds none, and a client waiting for a server login (after a
// failed one PgBouncer waits server_login_retry) none yet; dropping the
// role then fails them.
func (a *Admin) Clients(ctx context.Context, user string) (int, error) {
	rows, err := a.Exec(ctx, "SHOW CLIENTS")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if r["user"] == user {
			n++
		}
	}
	return n, nil
}

// ReconnectNeeded returns the databases where PgBouncer holds a server
// connection of user that is not yet marked to close (SHOW SERVERS), less
// those where a server login is in progress (SHOW POOLS sv_login > 0, any
// user): a RECONNECT there would abort that login, which PgBouncer counts
// as a failed one (its pool's new clients are then refused for
// server_login_retry). Call it again later for those.
func (a *Admin) ReconnectNeeded(ctx context.Context, user string) ([]string, error) {
	servers, err := a.Exec(ctx, "SHOW SERVERS")
	if err != nil {
		return nil, err
	}
	need := map[string]bool{}
	for _, r := range servers {
		if r["user"] == user && r["close_needed"] != "1" {
			need[r["database"]] = true
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	pools, err := a.Exec(ctx, "SHOW POOLS")
	if err != nil {
		return nil, err
	}
	for _, r := range pools {
		if n, err := strconv.Atoi(r["sv_login"]); err == nil && n > 0 {
			delete(need, r["database"])
		}
	}
	out := make([]string, 0, len(need))
	for db := range need {
		out = append(out, db)
	}
	sort.Strings(out)
	return out, nil
}

func withDB(cmd, db string) string {
	if db == "" {
		return cmd
	}
	// The admin console parses its own grammar: a database name is a word,
	// or a double-quoted identifier.
	return cmd + " " + quote(db)
}

// Update is the cutover and retire step in one call: it sets the given
// users' secrets and removes others in the userlist at path (atomically),
// runs RELOAD on the admin console at adminDSN, and confirms with SHOW
// USERS that every set user is listed. An error after the file was replaced
// says that it was (the new userlist is in place, the reload unconfirmed).
func Update(ctx context.Context, path, adminDSN string, set map[string]fingerprint.Secret, remove ...string) error {
	ul, err := ReadUserlist(path)
	if err != nil {
		return err
	}
	for _, name := range sortedNames(set) {
		if err := ul.Set(name, set[name]); err != nil {
			return err
		}
	}
	for _, name := range remove {
		ul.Delete(name)
	}
	if err := WriteUserlist(path, ul); err != nil {
		return err
	}
	// The new file is in place from here on: every error says so.
	applied := func(err error) error {
		return fmt.Errorf("pgbouncer: %s was rewritten (set %q, removed %q) but the reload was not confirmed; run RELOAD and SHOW USERS: %w",
			path, sortedNames(set), remove, err)
	}
	adm, err := Connect(ctx, adminDSN)
	if err != nil {
		return applied(err)
	}
	defer adm.Close(ctx)
	if err := adm.Reload(ctx); err != nil {
		return applied(err)
	}
	if err := adm.Confirm(ctx, sortedNames(set)...); err != nil {
		return applied(err)
	}
	return nil
}

func sortedNames(m map[string]fingerprint.Secret) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
