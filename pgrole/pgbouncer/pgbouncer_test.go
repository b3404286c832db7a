package pgbouncer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/pgbouncer"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

func sec(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

func TestParseAndMarshalRoundTrip(t *testing.T) {
	in := "; comment\n\n\"alice\" \"SCRAM-SHA-256$4096:abc$def:ghi\"\n\"bo\"\"b\" \"pw with \"\" quote\" trailing stuff\n"
	u, err := pgbouncer.ParseUserlist([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Names(); len(got) != 2 || got[0] != "alice" || got[1] != `bo"b` {
		t.Fatalf("names %q", got)
	}
	if s, _ := u.Get(`bo"b`); string(s.Bytes()) != `pw with " quote` {
		t.Fatal("quote unescaping")
	}
	again, err := pgbouncer.ParseUserlist(u.Marshal())
	if err != nil || strings.Join(again.Names(), ",") != strings.Join(u.Names(), ",") {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"alice pw\n", "\"alice\"\n", "\"unterminated \"x\"\n", "\"\" \"pw\"\n"} {
		_, err := pgbouncer.ParseUserlist([]byte(bad))
		if !errors.Is(err, pgbouncer.ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the error echoes the password (message withheld)", bad[:2])
		}
	}
}

func FuzzParseUserlist(f *testing.F) {
	f.Add([]byte("\"a\" \"b\"\n;c\n\"x\"\"y\" \"z\" rest\n"))
	f.Add([]byte("\"a\"\"\" \"\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := pgbouncer.ParseUserlist(data)
		if err != nil {
			return
		}
		again, err := pgbouncer.ParseUserlist(u.Marshal())
		if err != nil {
			t.Fatalf("marshalled userlist does not parse: %v", err)
		}
		for _, n := range u.Names() {
			a, _ := u.Get(n)
			b, ok := again.Get(n)
			if !ok || !a.Equal(b) {
				t.Fatalf("user %q changed in round trip", n)
			}
		}
	})
}

func TestWriteUserlistAtomicKeepsModeOwnerAndBumpsMtime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "userlist.txt")
	if err := os.WriteFile(path, []byte("\"a\" \"1\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 70, 70 // some other owner; root may set it
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.Stat(path)
	u := pgbouncer.NewUserlist()
	_ = u.Set("a", sec("2")) // same size as before
	if err := pgbouncer.WriteUserlist(path, u); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	bs, as := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
	if after.Mode().Perm() != 0o640 || int(as.Uid) != uid || int(as.Gid) != gid {
		t.Fatalf("mode %v owner %d:%d, want 0640 %d:%d", after.Mode().Perm(), as.Uid, as.Gid, uid, gid)
	}
	if as.Ino == bs.Ino || after.ModTime().Unix() <= before.ModTime().Unix() || after.Size() != before.Size() {
		t.Fatalf("PgBouncer would not see the change: inode %d→%d mtime %v→%v", bs.Ino, as.Ino, before.ModTime(), after.ModTime())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp file left behind: %v", entries)
	}
}

// A same-size rewrite within one second is picked up by RELOAD, the file
// stays readable by PgBouncer (running as postgres), SHOW USERS confirms, and
// RECONNECT/WAIT_CLOSE work on the admin console.
func TestReloadPicksUpRewrite(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	role := testsvc.RoleName(t, "bnc")
	pw1, pw2 := "first-"+testsvc.Suffix(), "secnd-"+testsvc.Suffix()
	v1, _ := scram.New(sec(pw1), scram.Options{})
	v2, _ := scram.New(sec(pw2), scram.Options{})
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD "+v1.SQLLiteral()); err != nil {
		t.Fatal(err)
	}
	b := testsvc.PgBouncer(t, testsvc.BouncerOptions{})
	startStat, err := os.Stat(b.UserlistPath)
	if err != nil {
		t.Fatal(err)
	}
	login := func(pw string) error {
		c, err := pgx.Connect(ctx, b.URL(db.Name, role, pw))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	if err := pgbouncer.Update(ctx, b.UserlistPath, b.AdminURL(), map[string]fingerprint.Secret{role: v1.Secret()}); err != nil {
		t.Fatal(err)
	}
	if err := login(pw1); err != nil {
		t.Fatalf("first password via PgBouncer: %v", err)
	}
	// Same length verifier, same second: still reloaded.
	if _, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD "+v2.SQLLiteral()); err != nil {
		t.Fatal(err)
	}
	if err := pgbouncer.Update(ctx, b.UserlistPath, b.AdminURL(), map[string]fingerprint.Secret{role: v2.Secret()}); err != nil {
		t.Fatal(err)
	}
	if err := login(pw2); err != nil {
		t.Fatalf("rewritten password not picked up: %v", err)
	}
	if login(pw1) == nil {
		t.Fatal("old password still accepted by PgBouncer")
	}
	var adm *pgbouncer.Admin
	adm, err = pgbouncer.Connect(ctx, b.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close(ctx)
	if err := adm.Confirm(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := adm.Confirm(ctx, "no_such_user"); !errors.Is(err, pgbouncer.ErrNotConfirmed) {
		t.Fatalf("confirm of an unknown user: %v", err)
	}
	users, _ := adm.ShowUsers(ctx)
	for _, u := range users {
		if _, ok := u.Columns["pool_mode"]; !ok {
			t.Fatalf("columns not read by name: %v", u.Columns)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := adm.Reconnect(wctx, db.Name); err != nil {
		t.Fatal(err)
	}
	if err := adm.WaitClose(wctx, db.Name); err != nil {
		t.Fatal(err)
	}
	// Removing the user refuses it after RELOAD.
	if err := pgbouncer.Update(ctx, b.UserlistPath, b.AdminURL(), nil, role); err != nil {
		t.Fatal(err)
	}
	if login(pw2) == nil {
		t.Fatal("removed user still logs in")
	}
	fi, _ := os.Stat(b.UserlistPath)
	if fi.Mode().Perm() != startStat.Mode().Perm() || fi.Sys().(*syscall.Stat_t).Uid != startStat.Sys().(*syscall.Stat_t).Uid {
		t.Fatalf("userlist mode/owner changed: %v uid %d", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid)
	}
}

// A user name that a userlist line cannot carry is ErrInvalidName, the
// name every package gives a refused name, and nothing is added.
func TestSetRefusesInvalidName(t *testing.T) {
	u := pgbouncer.NewUserlist()
	for _, bad := range []string{"", strings.Repeat("a", 64), "app\n\"postgres", "a\x00b"} {
		if err := u.Set(bad, sec("SCRAM-SHA-256$4096:ok")); !errors.Is(err, pgbouncer.ErrInvalidName) {
			t.Fatalf("Set(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if names := u.Names(); len(names) != 0 {
		t.Fatalf("userlist holds %q after refused names", names)
	}
}

// A secret with a newline would end its line in userlist.txt and smuggle
// in a user of its own: Set refuses it, without echoing it, and the file
// written afterwards holds only the legitimate user.
func TestSetRefusesSecretThatWouldAddALine(t *testing.T) {
	u := pgbouncer.NewUserlist()
	if err := u.Set("app", sec("SCRAM-SHA-256$4096:ok")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x\"\n\"postgres\" \"hunter2-injected", "x\x00y"} {
		err := u.Set("app_v2", sec(bad))
		if !errors.Is(err, pgbouncer.ErrBadSecret) {
			t.Fatalf("Set accepted a secret with NUL or newline: %v", err)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "x\x00y") {
			t.Fatal("the error echoes the secret")
		}
	}
	again, err := pgbouncer.ParseUserlist(u.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if names := again.Names(); len(names) != 1 || names[0] != "app" {
		t.Fatalf("userlist users %q, want only app", names)
	}
}

// When the admin console cannot be reached after the file was replaced, the
// error says the new userlist is in place (nothing half-applied silently),
// and it does not carry the secret.
func TestUpdateSaysWhatWasWrittenWhenReloadFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "userlist.txt")
	v, _ := scram.New(sec("update-pw"), scram.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := pgbouncer.Update(ctx, path, "postgres://admin@127.0.0.1:1/pgbouncer?connect_timeout=2",
		map[string]fingerprint.Secret{"app_v2": v.Secret()}, "app")
	if err == nil || !strings.Contains(err.Error(), "was rewritten") || !strings.Contains(err.Error(), `"app_v2"`) {
		t.Fatalf("reload failure after the write: %v", err)
	}
	if strings.Contains(err.Error(), string(v.Secret().Bytes())) {
		t.Fatal("the error carries the verifier")
	}
	u, rerr := pgbouncer.ReadUserlist(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got, ok := u.Get("app_v2"); !ok || !got.Equal(v.Secret()) {
		t.Fatal("the userlist the error reports as written lacks app_v2")
	}
}
