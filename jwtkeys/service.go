package jwtkeys

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the registered claims plus token_use. Embed it in the
// application's own claims type:
//
//	type AppClaims struct {
//		jwtkeys.Claims
//		Role string `json:"role"`
//	}
//
// and use a Service[AppClaims]. Claims alone is a valid type argument too.
// If AppClaims has a Validate() error method (golang-jwt's
// ClaimsValidator), it runs after the standard checks on every verify.
type Claims struct {
	jwt.RegisteredClaims
	// Use is "access" or "refresh". Tokens minted here always carry it;
	// legacy tokens (no kid) without it take the use of the ring that
	// verified them.
	Use string `json:"token_use,omitempty"`
}

func (c *Claims) base() *Claims { return c }

type claimsCarrier interface{ base() *Claims }

// Pair is a freshly minted access and refresh token.
type Pair struct {
	Access, Refresh                   string
	AccessExpiresAt, RefreshExpiresAt time.Time
	// RefreshID is the refresh token's jti, the key a RefreshStore records.
	RefreshID string
}

// Service mints and verifies tokens with claims type C (a struct embedding
// Claims) on a LiveKeyring. Safe for concurrent use.
type Service[C any] struct {
	keys *LiveKeyring
	rand io.Reader
}

// NewService returns a token service on keys. C must embed Claims (or be
// Claims).
func NewService[C any](keys *LiveKeyring) (*Service[C], error) {
	var c C
	if _, ok := any(&c).(claimsCarrier); !ok {
		return nil, fmt.Errorf("%w: claims type %T must embed jwtkeys.Claims", ErrConfig, c)
	}
	return &Service[C]{keys: keys, rand: rand.Reader}, nil
}

// SetRand sets the source of jti values (default crypto/rand), for tests.
func (s *Service[C]) SetRand(r io.Reader) { s.rand = r }

// LiveKeyring returns the keyring holder the service uses.
func (s *Service[C]) LiveKeyring() *LiveKeyring { return s.keys }

// Issue mints an access token (Options.AccessTTL) and a refresh token
// (Options.RefreshTTL) for sub, signed with the current key of each ring and
// carrying kid, sub, iat, exp, jti, token_use, iss and aud (when configured)
// and the application's fields of app. The registered fields of app are
// overwritten.
//
// Issue records the refresh token nowhere. A service that refreshes through
// a Refresher logs users in with Refresher.Issue, which records it: a
// refresh token minted here is unknown to the store, and Refresher.Refresh
// refuses it (ErrRefreshUnknown) outside the legacy window (LegacyRefresh).
func (s *Service[C]) Issue(sub string, app C) (Pair, error) {
	kr := s.keys.Keyring()
	now := kr.opts.Now().Truncate(time.Second)
	var p Pair
	var err error
	p.AccessExpiresAt = now.Add(kr.opts.AccessTTL)
	p.RefreshExpiresAt = now.Add(kr.opts.RefreshTTL)
	if p.Access, _, err = s.mint(kr, Access, sub, now, p.AccessExpiresAt, app); err != nil {
		return Pair{}, err
	}
	if p.Refresh, p.RefreshID, err = s.mint(kr, Refresh, sub, now, p.RefreshExpiresAt, app); err != nil {
		return Pair{}, err
	}
	return p, nil
}

func (s *Service[C]) mint(kr *Keyring, r RingID, sub string, now, exp time.Time, app C) (tok, jti string, err error) {
	var id [16]byte
	if _, err := io.ReadFull(s.rand, id[:]); err != nil {
		return "", "", fmt.Errorf("jwtkeys: random jti: %w", err)
	}
	jti = hex.EncodeToString(id[:])
	c := app
	b := any(&c).(claimsCarrier).base()
	b.RegisteredClaims = jwt.RegisteredClaims{
		Issuer: kr.opts.Issuer, Subject: sub, Audience: kr.opts.Audience,
		ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), ID: jti,
	}
	b.Use = r.use()
	tok, err = kr.sign(r, &c)
	if err != nil {
		return "", "", fmt.Errorf("jwtkeys: sign %s token: %w", r, err)
	}
	return tok, jti, nil
}

// Verify checks token against ring r and returns its claims. A refusal is a
// *VerifyError (errors.Is with ErrExpired, ErrBadSignature, …). Both
// outcomes are reported to the Observer.
func (s *Service[C]) Verify(r RingID, token string) (*C, error) {
	kr := s.keys.Keyring()
	c := new(C)
	v, verr := kr.verifyInto(r, token, c, any(c).(claimsCarrier).base())
	if verr != nil {
		kr.opts.Observer.Refused(r, verr.Reason)
		return nil, verr
	}
	if lo, ok := kr.opts.Observer.(LegacyObserver); ok {
		lo.VerifiedToken(r, v.key.slot, v.legacy)
	} else {
		kr.opts.Observer.Verified(r, v.key.slot)
	}
	return c, nil
}

// VerifyAccess is Verify(Access, token).
func (s *Service[C]) VerifyAccess(token string) (*C, error) { return s.Verify(Access, token) }

// RefreshUnchecked verifies refreshToken on the refresh ring and mints a new
// pair for the same subject and application claims with the current keys,
// so every refresh moves a session onto the current key. An access token is
// refused (ErrWrongUse).
//
// It is unchecked, as its name says: no user status is checked, the claims
// are copied from the refresh token, and a refresh token can be used again
// until it expires (nothing records it). It is for tools and tests that
// exercise key rotation. A service's refresh endpoint uses
// Refresher.Refresh, which spends each refresh token once, refuses disabled
// users and loads the claims anew.
func (s *Service[C]) RefreshUnchecked(refreshToken string) (Pair, error) {
	c, err := s.Verify(Refresh, refreshToken)
	if err != nil {
		return Pair{}, err
	}
	sub := any(c).(claimsCarrier).base().Subject
	p, err := s.Issue(sub, *c)
	if err != nil {
		return Pair{}, err
	}
	s.keys.opts.Observer.Refreshed()
	return p, nil
}

// Subject returns c's sub claim (a helper for generic code).
func Subject[C any](c *C) string {
	if cc, ok := any(c).(claimsCarrier); ok && c != nil {
		return cc.base().Subject
	}
	return ""
}
