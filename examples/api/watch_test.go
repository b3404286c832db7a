package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/goodgo/rotation/keygen"
)

// TestReadinessReportsWatcher: /health/ready names how the keyring follows
// secret changes, and fails once the watcher has stopped; the start is
// logged.
func TestReadinessReportsWatcher(t *testing.T) {
	dir := t.TempDir()
	writeSecrets(t, dir, map[string]string{"JWT_SECRET": gen(t, keygen.JWT), "JWT_REFRESH_SECRET": gen(t, keygen.JWT)})
	var logs syncBuffer
	app, err := newApp(context.Background(), config{SecretsDir: dir, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	c := client{t, srv.URL}
	if resp, b := c.do("GET", "/health/ready", "", nil, ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"jwt_watch":"events"`) {
		t.Fatalf("ready: %d %s", resp.StatusCode, b)
	}
	app.Close()
	<-app.watchEnd
	if resp, b := c.do("GET", "/health/ready", "", nil, ""); resp.StatusCode != 503 || !strings.Contains(string(b), "stopped") {
		t.Fatalf("ready after the watcher stopped: %d %s", resp.StatusCode, b)
	}
	if _, b := c.do("GET", "/metrics", "", nil, ""); !strings.Contains(string(b), `auth_jwt_watch_mode{mode="stopped"} 1`) {
		t.Fatalf("metric: %s", b)
	}
	if !strings.Contains(logs.String(), "watching for secret changes") || !strings.Contains(logs.String(), "watch stopped") {
		t.Fatalf("log: %s", logs.String())
	}
}

// TestSIGHUPRightAfterStart: a SIGHUP the moment newApp returns reloads the
// keys (the log names the new fingerprints) instead of killing the process.
// In a child process, which the signal would kill.
func TestSIGHUPRightAfterStart(t *testing.T) {
	if os.Getenv("API_SIGHUP_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGHUPRightAfterStart$", "-test.count=1")
		cmd.Env = append(os.Environ(), "API_SIGHUP_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	a, r := gen(t, keygen.JWT), gen(t, keygen.JWT)
	t.Setenv("JWT_SECRET", a)
	t.Setenv("JWT_REFRESH_SECRET", r)
	var logs syncBuffer
	app, err := newApp(context.Background(), config{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	next := gen(t, keygen.JWT)
	t.Setenv("JWT_SECRET_NEXT", next)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reload on SIGHUP", func() bool { return app.keys.Slots()[0].State == "staged" })
	eventually(t, "reload log line", func() bool { return strings.Contains(logs.String(), "next="+app.keys.Slots()[0].Fingerprint) })
	if strings.Contains(logs.String(), next) || strings.Contains(logs.String(), a) {
		t.Fatal("a secret reached the log")
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
