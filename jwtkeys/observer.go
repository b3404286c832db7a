package jwtkeys

import "github.com/goodgo/rotation/secretenv"

// Observer receives what the keyring, the token service, the middleware and
// the status cache did. Implementations must be safe for concurrent use and
// fast: they run on the request path. Embed NopObserver to implement only
// some methods (new methods may be added to this interface; NopObserver keeps
// embedders compiling).
type Observer interface {
	// Verified: a token verified on ring with the key in slot. A token
	// without kid (legacy) is reported with the slot of the key that
	// verified it; an Observer that also implements LegacyObserver is told
	// which tokens were legacy through VerifiedToken instead.
	Verified(ring RingID, slot secretenv.Slot)
	// Refused: a token (or, for user_disabled and status_unavailable, a
	// request) was refused.
	Refused(ring RingID, reason Reason)
	// Refreshed: a refresh token was exchanged for a new pair.
	Refreshed()
	// Reloaded: a reload attempt finished; err is nil when the new keyring
	// is in use, else why the old one was kept.
	Reloaded(err error)
	// StatusCacheError: Redis failed for the user-status cache and the
	// loader was called directly.
	StatusCacheError(err error)
	// Watching: Watch started, changed how it follows changes (file events
	// unavailable or lost: polling) or stopped. h.Degraded says why it is
	// not using file events.
	Watching(h WatchHealth)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Verified(RingID, secretenv.Slot) {}
func (NopObserver) Refused(RingID, Reason)          {}
func (NopObserver) Refreshed()                      {}
func (NopObserver) Reloaded(error)                  {}
func (NopObserver) StatusCacheError(error)          {}
func (NopObserver) Watching(WatchHealth)            {}

// LegacyObserver is an optional Observer extension: when the Observer
// implements it, VerifiedToken is called instead of Verified, with legacy
// true for a token without kid. jwtprom uses it for the legacy label.
type LegacyObserver interface {
	VerifiedToken(ring RingID, slot secretenv.Slot, legacy bool)
}
