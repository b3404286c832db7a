package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/goodgo/rotation/secretenv"
)

// Keys holds the live Keyring and reloads it. Readers get the current
// snapshot with one atomic load; a reload builds and validates a complete new
// keyring before swapping it in, so a bad new config keeps the old keyring
// (and is reported to the Observer). Safe for concurrent use.
type Keys struct {
	src  secretenv.Source
	opts Options
	cur  atomic.Pointer[Keyring]
	mu   sync.Mutex // serializes reloads
}

// Open loads both rings from src and returns the holder. It fails if the
// initial load fails.
func Open(src secretenv.Source, opts Options) (*Keys, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	kr, err := load(src, o, nil)
	if err != nil {
		return nil, err
	}
	k := &Keys{src: src, opts: o}
	k.cur.Store(kr)
	return k, nil
}

// FromEnv is Open(secretenv.Env(), opts): JWT_SECRET, JWT_SECRET_PREVIOUS,
// JWT_SECRET_NEXT, JWT_REFRESH_SECRET and its _PREVIOUS and _NEXT.
func FromEnv(opts Options) (*Keys, error) { return Open(secretenv.Env(), opts) }

// FromDir is Open(secretenv.Dir(dir), opts): one file per variable, as a
// Kubernetes secret volume mounts them. Use Watch(ctx, dir) to follow
// changes.
func FromDir(dir string, opts Options) (*Keys, error) { return Open(secretenv.Dir(dir), opts) }

// Keyring returns the live snapshot.
func (k *Keys) Keyring() *Keyring { return k.cur.Load() }

// Status is Keyring().Status().
func (k *Keys) Status() []SlotStatus { return k.Keyring().Status() }

// Options returns the resolved options (defaults filled in).
func (k *Keys) Options() Options { return k.opts }

// Reload re-reads the source. On success the new keyring replaces the old
// one atomically; on failure the old one stays in use and the error says why
// (naming variables and fingerprints, never values). Both outcomes are
// reported to Observer.Reloaded.
func (k *Keys) Reload() error {
	_, err := k.reload()
	k.opts.Observer.Reloaded(err)
	return err
}

func (k *Keys) reload() (changed bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.cur.Load()
	kr, err := load(k.src, k.opts, old)
	if err != nil {
		return false, fmt.Errorf("jwtkeys: reload from %s failed, keeping the previous keyring: %w", k.src, err)
	}
	changed = !sameKeys(old, kr)
	k.cur.Store(kr)
	return changed, nil
}

func sameKeys(a, b *Keyring) bool {
	for r := range a.rings {
		for s := range a.rings[r].slots {
			ka, kb := a.rings[r].slots[s], b.rings[r].slots[s]
			if (ka == nil) != (kb == nil) || (ka != nil && (ka.kid != kb.kid || !ka.retireAt.Equal(kb.retireAt))) {
				return false
			}
		}
	}
	return true
}

// WatchOptions tune Watch. The zero value watches with fsnotify and SIGHUP.
type WatchOptions struct {
	// Signals that trigger a reload (default SIGHUP). Set NoSignals to
	// listen to none.
	Signals   []os.Signal
	NoSignals bool
	// Debounce groups the burst of events of one secret update (default
	// 100 ms). A directory that keeps changing is still reloaded at least
	// every 10 × Debounce.
	Debounce time.Duration
	// Poll, when > 0, also re-reads the source at this interval (for
	// filesystems without inotify). Polls report only changes and failures.
	Poll time.Duration
}

// Watch reloads the keyring when files in dir change (including a
// Kubernetes "..data" symlink swap, which shows up as events on the
// directory) and on SIGHUP, until ctx is done. It returns ctx.Err(), or an
// error if dir cannot be watched. Each reload is reported to the Observer.
// dir may be "" to react to signals (and Poll) only.
func (k *Keys) Watch(ctx context.Context, dir string, wo WatchOptions) error {
	if wo.Debounce <= 0 {
		wo.Debounce = 100 * time.Millisecond
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if dir != "" {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("jwtkeys: watch %s: %w", dir, err)
		}
		defer w.Close()
		// Watch the directory, not the files: a k8s update replaces the
		// "..data" link, and editors replace files by rename.
		if err := w.Add(filepath.Clean(dir)); err != nil {
			return fmt.Errorf("jwtkeys: watch %s: %w", dir, err)
		}
		events, errs = w.Events, w.Errors
	}
	var sigs chan os.Signal
	if !wo.NoSignals {
		list := wo.Signals
		if len(list) == 0 {
			list = []os.Signal{syscall.SIGHUP}
		}
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, list...)
		defer signal.Stop(sigs)
	}
	var poll <-chan time.Time
	if wo.Poll > 0 {
		t := time.NewTicker(wo.Poll)
		defer t.Stop()
		poll = t.C
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// A burst of events is grouped (Debounce), but a directory that never
	// stops changing must not put the reload off forever.
	maxWait := 10 * wo.Debounce
	var pendingSince time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-events:
			if !ok {
				return errors.New("jwtkeys: file watcher closed")
			}
			if pendingSince.IsZero() {
				pendingSince = time.Now()
			}
			if time.Since(pendingSince) >= maxWait {
				timer.Stop()
				pendingSince = time.Time{}
				_ = k.Reload()
				continue
			}
			timer.Reset(wo.Debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil // closed: stop selecting on it
				continue
			}
			if err != nil {
				// Events may have been lost (inotify queue overflow): say
				// so, then reload as if something changed.
				k.opts.Observer.Reloaded(fmt.Errorf("jwtkeys: watch %s: %w", dir, err))
				if pendingSince.IsZero() {
					pendingSince = time.Now()
				}
				timer.Reset(wo.Debounce)
			}
		case <-timer.C:
			pendingSince = time.Time{}
			_ = k.Reload()
		case <-sigs:
			_ = k.Reload()
		case <-poll:
			if changed, err := k.reload(); err != nil || changed {
				k.opts.Observer.Reloaded(err)
			}
		}
	}
}
