//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/secretenv"
	"github.com/jackc/pgx/v5"
)

// openPTY returns a pseudo-terminal pair: what the test types goes into
// master, the command reads the terminal side.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// runOnTerminal runs rotate with stdin a terminal on which answer is typed.
func runOnTerminal(t *testing.T, vars map[string]string, answer string, args ...string) result {
	t.Helper()
	master, tty := openPTY(t)
	if _, err := master.WriteString(answer + "\n"); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := &Env{Stdin: tty, Stdout: &out, Stderr: &errb, Vars: secretenv.Map(vars),
		Now: func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

// TestConfirmOnATerminal (issue 15 point 4): an irreversible step asks on a
// terminal; anything but "yes" changes nothing, "yes" goes on (no --yes
// needed), and off a terminal --yes is required (TestGoldenRevokeRefresh,
// jwt-retire-incident-no-yes).
func TestConfirmOnATerminal(t *testing.T) {
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	if r := runCLI(t, vars, goldenAccessNext+"\n"+goldenRefreshNext+"\n", "jwt", "stage", "--dir", dir, "--stdin"); r.code != exitOK {
		t.Fatalf("stage: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check"); r.code != exitOK {
		t.Fatalf("promote: %v", r)
	}
	r := runOnTerminal(t, vars, "no", "jwt", "retire", "--dir", dir, "--incident")
	if r.code == exitOK || !strings.Contains(r.stderr, "Type yes to go on") || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("answered no: %v", r)
	}
	if v, _ := secretsDir(dir).read(); v["JWT_SECRET_PREVIOUS"] != jwtB {
		t.Fatal("answered no, but JWT_SECRET_PREVIOUS changed")
	}
	if r := runOnTerminal(t, vars, "yes", "jwt", "retire", "--dir", dir, "--incident"); r.code != exitOK {
		t.Fatalf("answered yes: %v", r)
	}
	if v, _ := secretsDir(dir).read(); v["JWT_SECRET_PREVIOUS"] != "" || v["JWT_REFRESH_SECRET_PREVIOUS"] != "" {
		t.Fatal("answered yes, but the previous keys are still there")
	}

	// pg retire, irreversible: the same on a terminal.
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "tty")
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	pv := map[string]string{"DATABASE_URL": db.URL}
	canLogin := func() bool {
		var ok bool
		if err := db.Pool.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", app).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if r := runOnTerminal(t, pv, "y", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "nologin"); r.code != exitUsage || !canLogin() {
		t.Fatalf("answered y (not yes): %v, can login %v", r, canLogin())
	}
	if r := runOnTerminal(t, pv, "yes", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "nologin"); r.code != exitOK || canLogin() {
		t.Fatalf("answered yes: %v, can login %v", r, canLogin())
	}
}
