package jwtkeys

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/goodgo/rotation/secretenv"
)

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
	// Poll, when > 0, also re-reads the source at this interval. Polls
	// report only changes and failures. When file events are unavailable
	// (inotify limit reached, a filesystem without inotify) Watch polls
	// anyway, every Poll or DefaultFallbackPoll.
	Poll time.Duration
}

// DefaultFallbackPoll is how often Watch re-reads the source when it cannot
// get file events and WatchOptions.Poll is not set.
const DefaultFallbackPoll = 5 * time.Second

// WatchMode is how a running Watch learns about changes.
type WatchMode string

const (
	WatchStopped WatchMode = "stopped" // no Watch running: changes are never picked up
	WatchEvents  WatchMode = "events"  // file events (inotify), signals, and Poll if set
	WatchPolling WatchMode = "polling" // file events unavailable: polling and signals
	WatchSignals WatchMode = "signals" // no directory: signals, and Poll if set
)

// WatchHealth is what Watch is doing, for readiness checks, metrics and
// logs. It holds no secret.
type WatchHealth struct {
	Mode WatchMode
	Dir  string        // the watched directory, "" for none
	Poll time.Duration // polling interval, 0 when not polling
	// Degraded says why file events are not used (Mode WatchPolling), or
	// why Watch stopped with an error; nil otherwise.
	Degraded error
	Since    time.Time // when Watch entered this mode
}

// Running reports whether a Watch is following changes.
func (h WatchHealth) Running() bool { return h.Mode != WatchStopped && h.Mode != "" }

// WatchHealth returns the state of the last Watch on k; Mode is
// WatchStopped when none was started or it has ended.
func (k *LiveKeyring) WatchHealth() WatchHealth {
	if h := k.watch.Load(); h != nil {
		return *h
	}
	return WatchHealth{Mode: WatchStopped}
}

func (k *LiveKeyring) setWatch(h WatchHealth) {
	h.Since = time.Now()
	k.watch.Store(&h)
	k.opts.Observer.Watching(h)
}

// newFSWatcher is fsnotify.NewWatcher; tests replace it to simulate an
// exhausted inotify instance limit.
var newFSWatcher = fsnotify.NewWatcher

// Watch is StartWatch followed by waiting for it to end: it reloads until
// ctx is done and returns ctx.Err(). Run it in a goroutine only if a signal
// arriving before that goroutine runs may kill the process; otherwise use
// StartWatch, which installs the signal handler before it returns.
func (k *LiveKeyring) Watch(ctx context.Context, wo WatchOptions) error {
	return <-k.StartWatch(ctx, wo)
}

// StartWatch starts reloading the keyring when files change in the
// directory it was opened from (OpenDir, or Open with a secretenv.Dir
// source: the directory is never given twice) (including a Kubernetes "..data" symlink swap, which shows up as events on
// the directory) and on SIGHUP, until ctx is done. Before it returns, the
// signal handler is installed (so a SIGHUP right after start reloads rather
// than kills the process) and the file watcher is set up; when file events
// are unavailable (fsnotify cannot start, the inotify instance limit is
// reached, the directory cannot be watched) it polls instead and says why in
// WatchHealth and Observer.Watching. A keyring opened from another source
// (the environment, a map) reacts to signals and Poll only. Each reload is reported to Observer.Reloaded.
//
// The returned channel receives ctx.Err() once the watch has stopped; the
// watch never stops for another reason (a watcher that fails later falls
// back to polling).
func (k *LiveKeyring) StartWatch(ctx context.Context, wo WatchOptions) <-chan error {
	dir, _ := secretenv.DirOf(k.src)
	if wo.Debounce <= 0 {
		wo.Debounce = 100 * time.Millisecond
	}
	var sigs chan os.Signal
	if !wo.NoSignals {
		list := wo.Signals
		if len(list) == 0 {
			list = []os.Signal{syscall.SIGHUP}
		}
		sigs = make(chan os.Signal, 1)
		signal.Notify(sigs, list...)
	}
	w := &watchLoop{k: k, dir: dir, wo: wo, sigs: sigs}
	h := WatchHealth{Mode: WatchSignals, Poll: wo.Poll}
	if dir != "" {
		h.Dir = dir
		if err := w.startEvents(); err != nil {
			h.Mode, h.Degraded = WatchPolling, err
			h.Poll = w.startFallbackPoll()
		} else {
			h.Mode = WatchEvents
		}
	}
	if wo.Poll > 0 && w.ticker == nil {
		w.ticker = time.NewTicker(wo.Poll)
	}
	k.setWatch(h)
	done := make(chan error, 1)
	go func() {
		err := w.run(ctx, h)
		w.close()
		k.setWatch(WatchHealth{Mode: WatchStopped, Dir: dir})
		done <- err
	}()
	return done
}

type watchLoop struct {
	k      *LiveKeyring
	dir    string
	wo     WatchOptions
	sigs   chan os.Signal
	fsw    *fsnotify.Watcher
	ticker *time.Ticker
}

func (w *watchLoop) startEvents() error {
	fsw, err := newFSWatcher()
	if err != nil {
		return fmt.Errorf("jwtkeys: watch %s: file events unavailable: %w", w.dir, err)
	}
	// Watch the directory, not the files: a k8s update replaces the
	// "..data" link, and editors replace files by rename.
	if err := fsw.Add(filepath.Clean(w.dir)); err != nil {
		fsw.Close()
		return fmt.Errorf("jwtkeys: watch %s: %w", w.dir, err)
	}
	w.fsw = fsw
	return nil
}

func (w *watchLoop) startFallbackPoll() time.Duration {
	d := w.wo.Poll
	if d <= 0 {
		d = DefaultFallbackPoll
	}
	if w.ticker == nil {
		w.ticker = time.NewTicker(d)
	}
	return d
}

func (w *watchLoop) close() {
	if w.sigs != nil {
		signal.Stop(w.sigs)
	}
	if w.fsw != nil {
		w.fsw.Close()
	}
	if w.ticker != nil {
		w.ticker.Stop()
	}
}

func (w *watchLoop) run(ctx context.Context, h WatchHealth) error {
	k := w.k
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	var poll <-chan time.Time
	if w.ticker != nil {
		poll = w.ticker.C
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// A burst of events is grouped (Debounce), but a directory that never
	// stops changing must not put the reload off forever.
	maxWait := 10 * w.wo.Debounce
	var pendingSince time.Time
	degrade := func(why error) {
		// The file watcher died: poll from now on, and say so.
		w.fsw.Close()
		w.fsw, events, errs = nil, nil, nil
		h.Mode, h.Degraded = WatchPolling, why
		h.Poll = w.startFallbackPoll()
		poll = w.ticker.C
		k.setWatch(h)
		_ = k.Reload() // changes may have been missed
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-events:
			if !ok {
				degrade(fmt.Errorf("jwtkeys: watch %s: file watcher closed", w.dir))
				continue
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
			timer.Reset(w.wo.Debounce)
		case err, ok := <-errs:
			if !ok {
				degrade(fmt.Errorf("jwtkeys: watch %s: file watcher closed", w.dir))
				continue
			}
			if err != nil {
				// Events may have been lost (inotify queue overflow): say
				// so, then reload as if something changed.
				k.opts.Observer.Reloaded(fmt.Errorf("jwtkeys: watch %s: %w", w.dir, err))
				if pendingSince.IsZero() {
					pendingSince = time.Now()
				}
				timer.Reset(w.wo.Debounce)
			}
		case <-timer.C:
			pendingSince = time.Time{}
			_ = k.Reload()
		case <-w.sigs:
			_ = k.Reload()
		case <-poll:
			if changed, err := k.reload(); err != nil || changed {
				k.opts.Observer.Reloaded(err)
			}
		}
	}
}
