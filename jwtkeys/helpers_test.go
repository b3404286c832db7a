package jwtkeys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/secretenv"
)

// fakeClock is a race-safe settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// secret returns a distinct 48-byte test secret per name.
func secret(name string) string {
	s := "test-secret-" + name + "-"
	return s + strings.Repeat("x", 48-len(s))
}

var (
	sA  = secret("access-A")
	sB  = secret("access-B")
	sC  = secret("access-C")
	sRA = secret("refresh-A")
	sRB = secret("refresh-B")
	sRC = secret("refresh-C")
)

// recObserver records events.
type recObserver struct {
	mu       sync.Mutex
	verified map[string]int
	refused  map[Reason]int
	refresh  int
	reloads  []error
	cacheErr []error
	watching []WatchHealth
	reloadCh chan error
}

func newRec() *recObserver {
	return &recObserver{verified: map[string]int{}, refused: map[Reason]int{}, reloadCh: make(chan error, 100)}
}
func (o *recObserver) Verified(r RingID, s secretenv.Slot) {
	o.mu.Lock()
	o.verified[r.String()+"/"+s.String()]++
	o.mu.Unlock()
}
func (o *recObserver) Refused(_ RingID, r Reason) { o.mu.Lock(); o.refused[r]++; o.mu.Unlock() }
func (o *recObserver) Refreshed()                 { o.mu.Lock(); o.refresh++; o.mu.Unlock() }
func (o *recObserver) Reloaded(err error) {
	o.mu.Lock()
	o.reloads = append(o.reloads, err)
	o.mu.Unlock()
	select {
	case o.reloadCh <- err:
	default:
	}
}
func (o *recObserver) StatusCacheError(err error) {
	o.mu.Lock()
	o.cacheErr = append(o.cacheErr, err)
	o.mu.Unlock()
}
func (o *recObserver) Watching(h WatchHealth) {
	o.mu.Lock()
	o.watching = append(o.watching, h)
	o.mu.Unlock()
}
func (o *recObserver) count(k string) int    { o.mu.Lock(); defer o.mu.Unlock(); return o.verified[k] }
func (o *recObserver) refusedN(r Reason) int { o.mu.Lock(); defer o.mu.Unlock(); return o.refused[r] }

// mutableSource is a secretenv.Source whose values a test changes.
type mutableSource struct {
	mu sync.Mutex
	m  map[string]string
}

func newSource(kv ...string) *mutableSource {
	s := &mutableSource{m: map[string]string{}}
	s.set(kv...)
	return s
}
func (s *mutableSource) set(kv ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(s.m, kv[i])
		} else {
			s.m[kv[i]] = kv[i+1]
		}
	}
}
func (s *mutableSource) Lookup(name string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	return v, ok, nil
}
func (s *mutableSource) String() string { return "test map" }

var _ secretenv.Source = (*mutableSource)(nil)

type appClaims struct {
	Claims
	Role string `json:"role,omitempty"`
}

// fixture: Keys on a mutable source with access A, refresh RA, plus extras.
func fixture(t testing.TB, clk *fakeClock, obs Observer, kv ...string) (*LiveKeyring, *Service[appClaims], *mutableSource) {
	t.Helper()
	src := newSource(append([]string{"JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA}, kv...)...)
	opts := Options{Now: clk.Now, Observer: obs}
	keys, err := Open(src, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	svc, err := NewService[appClaims](keys)
	if err != nil {
		t.Fatal(err)
	}
	return keys, svc, src
}

// forge signs claims with an arbitrary header using golang-jwt.
func forge(t testing.TB, m jwt.SigningMethod, key any, hdr map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	return s
}

// legacyClaims mimics the Node service: sub, iat, exp, no token_use.
func legacyClaims(clk *fakeClock, ttl time.Duration) jwt.MapClaims {
	now := clk.Now()
	return jwt.MapClaims{"sub": "user-1", "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "role": "admin"}
}

// signWith mints a token of ring r signed with secret sec (kid = its
// fingerprint) and the given lifetime, outside the service.
func signWith(t testing.TB, svc *Service[appClaims], sec string, r RingID, ttl time.Duration, clk *fakeClock) string {
	t.Helper()
	now := clk.Now()
	c := appClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "user-1", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: "x"}, Use: r.use()}}
	return forge(t, jwt.SigningMethodHS256, []byte(sec), map[string]any{"kid": fingerprintOf(sec)}, c)
}

func fingerprintOf(s string) string { return fingerprint.OfString(s) }

// signRaw HMAC-SHA256-signs a raw header and payload JSON with sec.
func signRaw(sec, hdr, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(sec))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}
