package jwtkeys

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/goodgo/rotation/secretenv"
)

// LiveKeyring holds the live Keyring and reloads it. Readers get the current
// snapshot with one atomic load; a reload builds and validates a complete new
// keyring before swapping it in, so a bad new config keeps the old keyring
// (and is reported to the Observer). Safe for concurrent use.
type LiveKeyring struct {
	src  secretenv.Source
	opts Options
	cur  atomic.Pointer[Keyring]
	mu   sync.Mutex // serializes reloads

	watch atomic.Pointer[WatchHealth] // nil until StartWatch
}

// Open loads both rings from src and returns the holder. It fails if the
// initial load fails.
func Open(src secretenv.Source, opts Options) (*LiveKeyring, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	kr, err := load(src, o, nil)
	if err != nil {
		return nil, err
	}
	k := &LiveKeyring{src: src, opts: o}
	k.cur.Store(kr)
	return k, nil
}

// OpenEnv is Open(secretenv.Env(), opts): JWT_SECRET, JWT_SECRET_PREVIOUS,
// JWT_SECRET_NEXT, JWT_REFRESH_SECRET and its _PREVIOUS and _NEXT.
func OpenEnv(opts Options) (*LiveKeyring, error) { return Open(secretenv.Env(), opts) }

// OpenDir is Open(secretenv.Dir(dir), opts): one file per variable, as a
// Kubernetes secret volume mounts them. StartWatch follows
// changes in dir.
func OpenDir(dir string, opts Options) (*LiveKeyring, error) { return Open(secretenv.Dir(dir), opts) }

// Keyring returns the live snapshot.
func (k *LiveKeyring) Keyring() *Keyring { return k.cur.Load() }

// Slots is Keyring().Slots().
func (k *LiveKeyring) Slots() []SlotInfo { return k.Keyring().Slots() }

// Options returns the resolved options (defaults filled in).
func (k *LiveKeyring) Options() Options { return k.opts }

// Reload re-reads the source. On success the new keyring replaces the old
// one atomically; on failure the old one stays in use and the error says why
// (naming variables and fingerprints, never values). Both outcomes are
// reported to Observer.Reloaded.
func (k *LiveKeyring) Reload() error {
	_, err := k.reload()
	k.opts.Observer.Reloaded(err)
	return err
}

func (k *LiveKeyring) reload() (changed bool, err error) {
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
