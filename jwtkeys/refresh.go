package jwtkeys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// Refresh-token store errors. Each refuses the refresh (examples/api answers
// 401 to all of them).
var (
	// ErrRefreshReused: the refresh token was already spent. Its whole
	// family (every token rotated from the same login) is revoked, per the
	// OAuth 2.0 Security BCP (RFC 9700 §4.14): a replayed refresh token means
	// it was stolen, and the store cannot tell the thief from the user.
	ErrRefreshReused = errors.New("jwtkeys: refresh token already used; its session is revoked")
	// ErrRefreshRevoked: the token's family was revoked (per user, for
	// everyone, or after a reuse).
	ErrRefreshRevoked = errors.New("jwtkeys: refresh token revoked")
	// ErrRefreshUnknown: the token verifies but the store has no record of
	// it, and legacy tokens are not accepted.
	ErrRefreshUnknown = errors.New("jwtkeys: refresh token not in the store")
)

// RefreshRecord is one refresh token as the store knows it.
type RefreshRecord struct {
	ID        string    // the token's jti, or LegacyRefreshID for a token without one
	Subject   string    // sub
	ExpiresAt time.Time // exp
}

// RefreshStore records refresh tokens so that each is used once. Package
// jwtkeys/refreshpg implements it on PostgreSQL.
type RefreshStore interface {
	// Record stores a freshly issued refresh token as the first of a new
	// family (a login).
	Record(ctx context.Context, rec RefreshRecord) error
	// Rotate spends old and records next in old's family, atomically: of
	// two concurrent Rotate calls for one old token exactly one succeeds.
	// It returns ErrRefreshReused (after revoking the family) when old was
	// already spent, ErrRefreshRevoked when its family is revoked, and
	// ErrRefreshUnknown when old is not in the store, unless adoptLegacy:
	// then old is recorded as spent (once: a second use is a reuse) and
	// next starts a new family.
	Rotate(ctx context.Context, old, next RefreshRecord, adoptLegacy bool) error
}

// LegacyRefreshID is the store ID of a refresh token without a jti (minted
// by the Node service): a hash of the whole token, never the token.
func LegacyRefreshID(token string) string {
	h := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(h[:16])
}

// LegacyRefresh says whether refresh tokens unknown to the store (minted
// before it was deployed) are accepted once and rotated into it.
type LegacyRefresh int

const (
	// LegacyAuto (the default) accepts them while the refresh ring has a
	// previous key (JWT_REFRESH_SECRET_PREVIOUS): the migration window in
	// which tokens minted before the store still verify. Once the previous
	// refresh key is removed, tokens unknown to the store are refused.
	LegacyAuto LegacyRefresh = iota
	// LegacyAccept always accepts them once.
	LegacyAccept
	// LegacyRefuse never does.
	LegacyRefuse
)

// RefresherConfig configures a Refresher.
type RefresherConfig[C any] struct {
	// Store records every refresh token (required).
	Store RefreshStore
	// Status refuses disabled users before anything is minted (required
	// unless NoStatusCheck).
	Status *StatusCache
	// NoStatusCheck refreshes without a status check; it must be said.
	NoStatusCheck bool
	// Claims loads the application claims of the new access token for sub
	// at refresh time (role, tenant …): they are never copied from the
	// refresh token. An error refuses the refresh and is returned wrapped
	// (return ErrUserDisabled for a user who may no longer log in).
	// Required.
	Claims func(ctx context.Context, sub string) (C, error)
	// Legacy: see LegacyRefresh (default LegacyAuto).
	Legacy LegacyRefresh
}

// Refresher is the refresh path: it issues pairs at login and refreshes
// them with one-time refresh tokens recorded in a RefreshStore, the user's
// status checked and the new claims loaded. Safe for concurrent use.
type Refresher[C any] struct {
	svc *Service[C]
	cfg RefresherConfig[C]
}

// NewRefresher returns the refresh path on svc.
func NewRefresher[C any](svc *Service[C], cfg RefresherConfig[C]) (*Refresher[C], error) {
	switch {
	case svc == nil || cfg.Store == nil:
		return nil, fmt.Errorf("%w: a Refresher needs a service and a RefreshStore", ErrConfig)
	case cfg.Claims == nil:
		return nil, fmt.Errorf("%w: a Refresher needs a Claims loader (claims are never copied from the refresh token)", ErrConfig)
	case cfg.Status == nil && !cfg.NoStatusCheck:
		return nil, fmt.Errorf("%w: a Refresher needs a StatusCache (or NoStatusCheck)", ErrConfig)
	}
	return &Refresher[C]{svc: svc, cfg: cfg}, nil
}

// Issue mints a pair for sub with app claims (a login) and records the
// refresh token as a new family.
func (r *Refresher[C]) Issue(ctx context.Context, sub string, app C) (Pair, error) {
	p, err := r.svc.Issue(sub, app)
	if err != nil {
		return Pair{}, err
	}
	if err := r.cfg.Store.Record(ctx, RefreshRecord{ID: p.RefreshID, Subject: sub, ExpiresAt: p.RefreshExpiresAt}); err != nil {
		return Pair{}, fmt.Errorf("jwtkeys: record refresh token: %w", err)
	}
	return p, nil
}

// Refresh verifies refreshToken, checks the user's status, loads the
// claims, spends the token and records its successor, and returns the new
// pair. The old refresh token can never be used again; using it again
// revokes the session (ErrRefreshReused).
func (r *Refresher[C]) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	c, err := r.svc.Verify(Refresh, refreshToken)
	if err != nil {
		return Pair{}, err
	}
	base := any(c).(claimsCarrier).base()
	sub := base.Subject
	if sub == "" {
		return Pair{}, &VerifyError{Ring: Refresh, Reason: ReasonInvalidClaims, Err: ErrInvalidClaims, Cause: errors.New("refresh token without sub")}
	}
	if r.cfg.Status != nil {
		if err := r.cfg.Status.Check(ctx, sub); err != nil {
			return Pair{}, err
		}
	}
	app, err := r.cfg.Claims(ctx, sub)
	if err != nil {
		return Pair{}, fmt.Errorf("jwtkeys: load claims: %w", err)
	}
	p, err := r.svc.Issue(sub, app)
	if err != nil {
		return Pair{}, err
	}
	old := RefreshRecord{ID: base.ID, Subject: sub}
	if base.ID == "" {
		old.ID = LegacyRefreshID(refreshToken)
	}
	if base.ExpiresAt != nil {
		old.ExpiresAt = base.ExpiresAt.Time
	}
	next := RefreshRecord{ID: p.RefreshID, Subject: sub, ExpiresAt: p.RefreshExpiresAt}
	if err := r.cfg.Store.Rotate(ctx, old, next, r.adoptLegacy()); err != nil {
		return Pair{}, err
	}
	r.svc.keys.opts.Observer.Refreshed()
	return p, nil
}

func (r *Refresher[C]) adoptLegacy() bool {
	switch r.cfg.Legacy {
	case LegacyAccept:
		return true
	case LegacyRefuse:
		return false
	}
	return r.svc.keys.Keyring().rings[Refresh].key(secretenv.SlotPrevious) != nil
}
