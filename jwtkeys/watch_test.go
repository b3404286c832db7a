package jwtkeys

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/goodgo/rotation/secretenv"
)

// noInotify makes fsnotify fail as it does when the inotify instance limit
// (fs.inotify.max_user_instances) is reached.
func noInotify(t *testing.T) {
	t.Helper()
	old := newFSWatcher
	newFSWatcher = func() (*fsnotify.Watcher, error) { return nil, syscall.EMFILE }
	t.Cleanup(func() { newFSWatcher = old })
}

func writeFile(t *testing.T, dir, name, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWatchFallsBackToPolling: with inotify unavailable, Watch does not
// return: it polls, says so (WatchHealth, Observer.Watching) and picks up a
// file change.
func TestWatchFallsBackToPolling(t *testing.T) {
	noInotify(t)
	dir := t.TempDir()
	writeFile(t, dir, "JWT_SECRET", sA)
	writeFile(t, dir, "JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, err := OpenDir(dir, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if h := keys.WatchHealth(); h.Running() || h.Mode != WatchStopped {
		t.Fatalf("health before Watch: %+v", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := keys.StartWatch(ctx, WatchOptions{NoSignals: true, Poll: 20 * time.Millisecond})
	h := keys.WatchHealth()
	if h.Mode != WatchPolling || !errors.Is(h.Degraded, syscall.EMFILE) || h.Poll != 20*time.Millisecond || !h.Running() {
		t.Fatalf("health with inotify unavailable: %+v", h)
	}
	obs.mu.Lock()
	told := len(obs.watching) == 1 && obs.watching[0].Mode == WatchPolling
	obs.mu.Unlock()
	if !told {
		t.Fatalf("observer not told: %+v", obs.watching)
	}
	writeFile(t, dir, "JWT_SECRET_NEXT", sB)
	if err := waitReload(t, obs); err != nil {
		t.Fatal(err)
	}
	if keys.Slots()[0].Fingerprint != fingerprintOf(sB) {
		t.Fatal("polling did not pick up the change")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}
	if h := keys.WatchHealth(); h.Running() {
		t.Fatalf("health after stop: %+v", h)
	}
}

// TestWatchModes: without Poll, the fallback polls every
// DefaultFallbackPoll; with inotify working, the mode is events.
func TestWatchModes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "JWT_SECRET", sA)
	writeFile(t, dir, "JWT_REFRESH_SECRET", sRA)
	keys, err := OpenDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := keys.StartWatch(ctx, WatchOptions{NoSignals: true})
	if h := keys.WatchHealth(); h.Mode != WatchEvents || h.Degraded != nil || h.Poll != 0 {
		t.Fatalf("events health: %+v", h)
	}
	cancel()
	<-done

	noInotify(t)
	ctx, cancel = context.WithCancel(context.Background())
	done = keys.StartWatch(ctx, WatchOptions{NoSignals: true})
	if h := keys.WatchHealth(); h.Mode != WatchPolling || h.Poll != DefaultFallbackPoll {
		t.Fatalf("fallback health: %+v", h)
	}
	cancel()
	<-done

	// A keyring from a source other than a directory has no files to
	// follow: signals (and Poll) only.
	keys, err = Open(secretenv.Map(map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done = keys.StartWatch(ctx, WatchOptions{NoSignals: true})
	if h := keys.WatchHealth(); h.Mode != WatchSignals {
		t.Fatalf("signals-only health: %+v", h)
	}
	cancel()
	<-done
}

// TestSIGHUPRightAfterStartWatch: a SIGHUP sent the moment StartWatch
// returns reloads instead of killing the process (exit 129), also when
// inotify is unavailable. It runs in a child process, which the signal
// would kill.
func TestSIGHUPRightAfterStartWatch(t *testing.T) {
	if os.Getenv("JWTKEYS_SIGHUP_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGHUPRightAfterStartWatch$", "-test.count=1")
		cmd.Env = append(os.Environ(), "JWTKEYS_SIGHUP_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	noInotify(t)
	dir := t.TempDir()
	writeFile(t, dir, "JWT_SECRET", sA)
	writeFile(t, dir, "JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, err := OpenDir(dir, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := keys.StartWatch(ctx, WatchOptions{})
	writeFile(t, dir, "JWT_SECRET_NEXT", sB)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := waitReload(t, obs); err != nil {
		t.Fatal(err)
	}
	if keys.Slots()[0].Fingerprint != fingerprintOf(sB) {
		t.Fatal("SIGHUP did not reload")
	}
	cancel()
	<-done
}

// TestBadSinceNeverEchoed: a secret pasted into JWT_SECRET_PREVIOUS_SINCE is
// named by variable and fingerprint in the error, never shown.
func TestBadSinceNeverEchoed(t *testing.T) {
	src := newSource("JWT_SECRET", sA, "JWT_SECRET_PREVIOUS", sB, "JWT_SECRET_PREVIOUS_SINCE", sC, "JWT_REFRESH_SECRET", sRA)
	_, err := Open(src, Options{})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "JWT_SECRET_PREVIOUS_SINCE") || !strings.Contains(err.Error(), fingerprintOf(sC)) {
		t.Fatalf("error: %v", err)
	}
	if strings.Contains(err.Error(), sC) || strings.Contains(err.Error(), sC[:12]) {
		t.Fatal("the value reached the error")
	}
}
