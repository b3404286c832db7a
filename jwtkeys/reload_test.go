package jwtkeys

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

func waitReload(t *testing.T, obs *recObserver) error {
	t.Helper()
	select {
	case err := <-obs.reloadCh:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no reload reported")
		return nil
	}
}

func TestWatchK8sSwapAndBadConfig(t *testing.T) {
	d := newK8sDir(t, map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA})
	obs := newRec()
	keys, err := OpenDir(d.dir, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- keys.Watch(ctx, WatchOptions{NoSignals: true, Debounce: 20 * time.Millisecond}) }()
	time.Sleep(100 * time.Millisecond) // watcher registered

	d.update(map[string]string{"JWT_SECRET": sB, "JWT_SECRET_NEXT": sC, "JWT_REFRESH_SECRET": sRA}, false)
	if err := waitReload(t, obs); err != nil {
		t.Fatalf("reload after ..data swap: %v", err)
	}
	if got := keys.Keyring().CurrentKid(Access); got != fingerprintOf(sB) {
		t.Fatalf("current kid after swap %s", got)
	}
	// A bad new config (short secret) keeps the old keyring and is reported.
	before := keys.Keyring()
	d.update(map[string]string{"JWT_SECRET": "short", "JWT_REFRESH_SECRET": sRA}, false)
	err = waitReload(t, obs)
	if !errors.Is(err, secretenv.ErrTooShort) || !strings.Contains(err.Error(), "JWT_SECRET") || strings.Contains(err.Error(), "short\"") {
		t.Fatalf("bad config reload: %v", err)
	}
	if keys.Keyring() != before {
		t.Fatal("bad config replaced the keyring")
	}
	// Duplicate across rings is refused too.
	d.update(map[string]string{"JWT_SECRET": sB, "JWT_REFRESH_SECRET": sB}, false)
	if err := waitReload(t, obs); !errors.Is(err, secretenv.ErrDuplicate) {
		t.Fatalf("duplicate reload: %v", err)
	}
	if keys.Keyring() != before {
		t.Fatal("duplicate config replaced the keyring")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
}

func TestWatchPlainFileRewrite(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("JWT_SECRET", sA)
	write("JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, err := OpenDir(dir, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go keys.Watch(ctx, WatchOptions{NoSignals: true, Debounce: 20 * time.Millisecond})
	time.Sleep(100 * time.Millisecond)
	write("JWT_SECRET_PREVIOUS", sB)
	if err := waitReload(t, obs); err != nil {
		t.Fatal(err)
	}
	if st := keys.Slots()[2]; st.Fingerprint != fingerprintOf(sB) {
		t.Fatalf("previous after write: %+v", st)
	}
}

func TestWatchSIGHUP(t *testing.T) {
	src := newSource("JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, err := Open(src, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	// A SIGHUP that arrives before Watch has called signal.Notify must not
	// kill the test binary (the default action): listen here too.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- keys.Watch(ctx, WatchOptions{}) }()
	defer func() { cancel(); <-done }()
	src.set("JWT_SECRET", sB)
	// Signal until Watch reacts: on a loaded machine it may not be listening yet.
	deadline := time.After(10 * time.Second)
	for reloaded := false; !reloaded; {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-obs.reloadCh:
			if err != nil {
				t.Fatal(err)
			}
			reloaded = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("SIGHUP never caused a reload")
		}
	}
	if keys.Keyring().CurrentKid(Access) != fingerprintOf(sB) {
		t.Fatal("SIGHUP did not reload")
	}
}

func TestWatchPoll(t *testing.T) {
	src := newSource("JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, _ := Open(src, Options{Observer: obs})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go keys.Watch(ctx, WatchOptions{NoSignals: true, Poll: 10 * time.Millisecond})
	src.set("JWT_SECRET_NEXT", sB)
	if err := waitReload(t, obs); err != nil {
		t.Fatal(err)
	}
	if keys.Slots()[0].Fingerprint != fingerprintOf(sB) {
		t.Fatal("poll did not pick up the change")
	}
}

// TestConcurrentVerifyDuringReload runs verification, issuing and reloads
// at once; -race proves the swap is safe, and no valid token is refused.
func TestConcurrentVerifyDuringReload(t *testing.T) {
	clk := newClock()
	_, svc, src := fixture(t, clk, nil, "JWT_SECRET_NEXT", sB)
	p, _ := svc.Issue("u", appClaims{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var failures sync.Map
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := svc.VerifyAccess(p.Access); err != nil {
					failures.Store(err.Error(), true)
				}
				q, err := svc.Issue("u", appClaims{})
				if err != nil {
					failures.Store(err.Error(), true)
					continue
				}
				if _, err := svc.VerifyAccess(q.Access); err != nil {
					failures.Store(err.Error(), true)
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			src.set("JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_SECRET_NEXT", "")
		} else {
			src.set("JWT_SECRET", sA, "JWT_SECRET_PREVIOUS", "", "JWT_SECRET_NEXT", sB)
		}
		if err := svc.LiveKeyring().Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	failures.Range(func(k, _ any) bool { t.Errorf("refused during reload: %v", k); return true })
}

// TestWatchReloadsDespiteConstantChanges: a file in the directory that never
// stops changing (a log, a sidecar's heartbeat) must not put the reload off
// forever; it happens within 10 × Debounce.
func TestWatchReloadsDespiteConstantChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("JWT_SECRET", sA)
	write("JWT_REFRESH_SECRET", sRA)
	obs := newRec()
	keys, err := OpenDir(dir, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- keys.Watch(ctx, WatchOptions{NoSignals: true, Debounce: 50 * time.Millisecond}) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // watcher registered
	write("JWT_SECRET_NEXT", sB)
	// Keep touching another file every 10 ms, far more often than the
	// debounce, for 5 s: without a maximum wait the reload never comes.
	stop := time.After(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-obs.reloadCh:
			if err != nil {
				t.Fatal(err)
			}
			if keys.Keyring().CurrentKid(Access) == "" || keys.Slots()[0].Fingerprint != fingerprintOf(sB) {
				t.Fatalf("reloaded, but next is %+v", keys.Slots()[0])
			}
			return
		case <-tick.C:
			write("heartbeat", strconv.Itoa(i))
		case <-stop:
			t.Fatal("no reload while another file kept changing")
		}
	}
}
