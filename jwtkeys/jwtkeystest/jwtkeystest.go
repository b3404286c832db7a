// Package jwtkeystest is a test kit for services that use jwtkeys: a keyring
// with generated keys in every slot of both rings, a clock the test controls,
// tokens minted exactly as production mints them (and the ones production must
// refuse), the middleware in front of a handler in one line, and a staged
// rotation run against the service's own handler.
//
// The common path, in a consumer's _test.go:
//
//	kit := jwtkeystest.New[AppClaims](t, jwtkeys.Options{})
//	h := kit.Protect(myHandler)             // or build the router from kit.Service / kit.LiveKeyring
//	req := httptest.NewRequest("GET", "/me", nil)
//	kit.Authorize(req, kit.Token(jwtkeystest.Previous, "user-1", AppClaims{Role: "admin"}))
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, req)                   // 200: a token on the previous key is still accepted
//
//	report := kit.Rotate(t, h, jwtkeystest.RotateOptions[AppClaims]{})
//	if !report.OK() { t.Fatal(report) }     // a 401 to a valid token, or a refused one admitted
//
// Everything here is for tests only: keys are generated per Kit and never
// leave it, except through Secret for a test that must configure another
// component (a Node service, a second instance) with the same key.
package jwtkeystest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

// Clock is a clock a test sets and advances, safe for concurrent use. Pass
// Clock.Now as jwtkeys.Options.Now (New does).
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.Set(start)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward by d (backward when d < 0).
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Kind names a token shape that Kit.Token mints.
type Kind int

const (
	// Current is an access token from Service.Issue: the current access key,
	// with kid, token_use, jti, iat and exp as production mints it.
	Current Kind = iota
	// Previous is an access token signed with the previous access key, as an
	// instance that has not yet seen the promotion mints it. Accepted until
	// the previous key's retire time (see Kit.PassRetireTime).
	Previous
	// Next is an access token signed with the staged next key, as the first
	// promoted instance mints it while the others still have it staged.
	Next
	// Legacy is an access token without kid or token_use, HS256 over
	// {sub, iat, exp} and the application's claims, as a Node service using
	// jsonwebtoken mints it; signed with the current access key.
	Legacy
	// LegacyPrevious is Legacy signed with the previous access key.
	LegacyPrevious
	// Expired is Current whose exp passed an hour ago (beyond any leeway).
	Expired
	// WrongRing is an access-shaped token signed with the current refresh
	// key: a key of the other ring.
	WrongRing
	// WrongUse is a valid refresh token presented as an access token.
	WrongUse
	// UnknownKid is an access token signed with a key the keyring has never
	// held, under its own kid.
	UnknownKid
)

var kindNames = [...]string{"current", "previous", "next", "legacy", "legacy-previous", "expired", "wrong-ring", "wrong-use", "unknown-kid"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Accepted reports whether a service must accept a token of kind k while the
// kit's previous key is still inside its window.
func (k Kind) Accepted() bool {
	switch k {
	case Current, Previous, Next, Legacy, LegacyPrevious:
		return true
	}
	return false
}

// Kit is a jwtkeys keyring for tests: both rings with a key in the next,
// current and previous slots (previous since the kit's start), the clock,
// the LiveKeyring and a Service on it. Create it with New; its methods are
// safe for concurrent use.
type Kit[C any] struct {
	// Clock drives the keyring, the service and every token the kit mints.
	Clock *Clock
	// LiveKeyring holds the live keyring; Stage, Promote and Retire reload it.
	LiveKeyring *jwtkeys.LiveKeyring
	// Service mints and verifies with claims type C.
	Service *jwtkeys.Service[C]

	t       testing.TB
	src     *source
	unknown string
}

// Start is the time a new Kit's clock reads unless Options.Now is set: fixed,
// so golden outputs are stable, and far from any real date on purpose.
var Start = time.Date(2030, 1, 15, 9, 0, 0, 0, time.UTC)

// New returns a kit with generated keys for claims type C (a struct embedding
// jwtkeys.Claims, or jwtkeys.Claims itself). opts are the service's own
// options (TTLs, leeway, issuer, audience, margin, observer); New sets
// opts.Now to the kit's clock unless it is set, in which case the clock
// starts at opts.Now() and opts.Now is replaced by the kit's clock.
func New[C any](t testing.TB, opts jwtkeys.Options) *Kit[C] {
	t.Helper()
	start := Start
	if opts.Now != nil {
		start = opts.Now()
	}
	clk := NewClock(start)
	opts.Now = clk.Now
	k := &Kit[C]{Clock: clk, t: t, src: newSource(), unknown: newSecret(t)}
	for _, r := range []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh} {
		for _, s := range []secretenv.Slot{secretenv.SlotNext, secretenv.SlotCurrent, secretenv.SlotPrevious} {
			k.src.set(jwtkeys.VarName(r, s), newSecret(t))
		}
		k.src.set(jwtkeys.SinceVarName(r), start.Format(time.RFC3339))
	}
	keys, err := jwtkeys.Open(k.src, opts)
	if err != nil {
		t.Fatalf("jwtkeystest: open keyring: %v", err)
	}
	svc, err := jwtkeys.NewService[C](keys)
	if err != nil {
		t.Fatalf("jwtkeystest: %v", err)
	}
	k.LiveKeyring, k.Service = keys, svc
	return k
}

// Secret returns the secret in ring r, slot s ("" when the slot is empty),
// for a test that configures another component with the same key (a second
// instance, a Node service). Never log it.
func (k *Kit[C]) Secret(r jwtkeys.RingID, s secretenv.Slot) string {
	v, _, _ := k.src.Lookup(jwtkeys.VarName(r, s))
	return v
}

// Vars returns the kit's configuration as the variables a service reads
// (JWT_SECRET, …_NEXT, …_PREVIOUS, …_PREVIOUS_SINCE), a copy taken now:
// secretenv.Map(kit.Vars()) for a second instance, or a subprocess's
// environment. Empty slots are absent. (It reads no environment: Env in
// this module is secretenv.Env, the process environment.)
func (k *Kit[C]) Vars() map[string]string { return k.src.snapshot() }

// Fingerprint returns the kid of tokens signed with the key in ring r, slot s
// ("" when the slot is empty).
func (k *Kit[C]) Fingerprint(r jwtkeys.RingID, s secretenv.Slot) string {
	sec := k.Secret(r, s)
	if sec == "" {
		return ""
	}
	return fingerprint.OfString(sec)
}

// Token mints an access token of kind for sub, with the application claims of
// app (its registered claims are overwritten, as Service.Issue does). It
// fails the test when kind needs a slot that is empty (Next after Promote).
func (k *Kit[C]) Token(kind Kind, sub string, app C) string {
	k.t.Helper()
	switch kind {
	case Current:
		return k.issue(sub, app).Access
	case WrongUse:
		return k.issue(sub, app).Refresh
	case Expired:
		return k.sign(k.need(jwtkeys.Access, secretenv.SlotCurrent), true, sub, app, "access", -time.Hour)
	case Previous:
		return k.sign(k.need(jwtkeys.Access, secretenv.SlotPrevious), true, sub, app, "access", k.accessTTL())
	case Next:
		return k.sign(k.need(jwtkeys.Access, secretenv.SlotNext), true, sub, app, "access", k.accessTTL())
	case Legacy:
		return k.sign(k.need(jwtkeys.Access, secretenv.SlotCurrent), false, sub, app, "", k.accessTTL())
	case LegacyPrevious:
		return k.sign(k.need(jwtkeys.Access, secretenv.SlotPrevious), false, sub, app, "", k.accessTTL())
	case WrongRing:
		return k.sign(k.need(jwtkeys.Refresh, secretenv.SlotCurrent), true, sub, app, "access", k.accessTTL())
	case UnknownKid:
		return k.sign(k.unknown, true, sub, app, "access", k.accessTTL())
	}
	k.t.Fatalf("jwtkeystest: unknown token kind %v", kind)
	return ""
}

// Pair mints an access and refresh pair for sub exactly as Service.Issue does.
func (k *Kit[C]) Pair(sub string, app C) jwtkeys.Pair {
	k.t.Helper()
	return k.issue(sub, app)
}

func (k *Kit[C]) issue(sub string, app C) jwtkeys.Pair {
	k.t.Helper()
	p, err := k.Service.Issue(sub, app)
	if err != nil {
		k.t.Fatalf("jwtkeystest: Issue: %v", err)
	}
	return p
}

func (k *Kit[C]) need(r jwtkeys.RingID, s secretenv.Slot) string {
	k.t.Helper()
	sec := k.Secret(r, s)
	if sec == "" {
		k.t.Fatalf("jwtkeystest: %s is empty at this stage of the rotation: Promote empties the next slots (Stage puts new keys there) and Retire the previous ones", jwtkeys.VarName(r, s))
	}
	return sec
}

func (k *Kit[C]) accessTTL() time.Duration { return k.LiveKeyring.Options().AccessTTL }

// sign mints a token outside the service: the application claims of app plus
// sub, iat, exp (now+ttl), jti, iss/aud as configured, token_use unless use
// is "", and kid unless !withKid.
func (k *Kit[C]) sign(secret string, withKid bool, sub string, app C, use string, ttl time.Duration) string {
	k.t.Helper()
	claims, err := appClaimsMap(app)
	if err != nil {
		k.t.Fatalf("jwtkeystest: claims: %v", err)
	}
	now := k.Clock.Now()
	o := k.LiveKeyring.Options()
	claims["sub"] = sub
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	if use != "" {
		claims["token_use"] = use
		claims["jti"] = newJTI(k.t)
	} else {
		delete(claims, "token_use")
		delete(claims, "jti")
	}
	if o.Issuer != "" {
		claims["iss"] = o.Issuer
	}
	if len(o.Audience) > 0 {
		claims["aud"] = o.Audience
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(o.Algorithm), jwt.MapClaims(claims))
	if withKid {
		tok.Header["kid"] = fingerprint.OfString(secret)
	}
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		k.t.Fatalf("jwtkeystest: sign: %v", err)
	}
	return s
}

// Authorize sets r's Authorization header to "Bearer " + token.
func (k *Kit[C]) Authorize(r *http.Request, token string) {
	r.Header.Set("Authorization", "Bearer "+token)
}

// Protect puts the kit's middleware (jwtkeys.MiddlewareOptions{}: bearer
// tokens, the default error answers) in front of h.
func (k *Kit[C]) Protect(h http.Handler) http.Handler {
	return k.Service.Middleware(jwtkeys.MiddlewareOptions{})(h)
}

// Stage puts a new generated key in the next slot of both rings and reloads:
// every instance must have it staged before any signs with it.
func (k *Kit[C]) Stage() {
	k.t.Helper()
	for _, r := range rings {
		k.src.set(jwtkeys.VarName(r, secretenv.SlotNext), newSecret(k.t))
	}
	k.reload("stage")
}

// Promote moves next to current and current to previous in both rings, with
// *_PREVIOUS_SINCE at the kit's clock, and reloads. The next slots are empty
// afterwards.
func (k *Kit[C]) Promote() {
	k.t.Helper()
	now := k.Clock.Now().Format(time.RFC3339)
	for _, r := range rings {
		next := k.need(r, secretenv.SlotNext)
		cur := k.need(r, secretenv.SlotCurrent)
		k.src.set(jwtkeys.VarName(r, secretenv.SlotPrevious), cur)
		k.src.set(jwtkeys.VarName(r, secretenv.SlotCurrent), next)
		k.src.set(jwtkeys.VarName(r, secretenv.SlotNext), "")
		k.src.set(jwtkeys.SinceVarName(r), now)
	}
	k.reload("promote")
}

// Retire removes the previous key (and its *_SINCE) of both rings and
// reloads. It does not look at the retire time: RetireAt says when that is
// safe, and a test that retires early sees the 401s a real fleet would.
func (k *Kit[C]) Retire() {
	k.t.Helper()
	for _, r := range rings {
		k.src.set(jwtkeys.VarName(r, secretenv.SlotPrevious), "")
		k.src.set(jwtkeys.SinceVarName(r), "")
	}
	k.reload("retire")
}

// PassRetireTime back-dates both rings' *_PREVIOUS_SINCE so the previous keys
// are past their retire time now, and reloads: tokens of kind Previous and
// LegacyPrevious are then refused with jwtkeys.ReasonRetiredKey, while the
// keys stay configured (the state of a fleet that forgot to remove them;
// their slots are jwtkeys.StateRetired). Retire is the step that removes
// them.
func (k *Kit[C]) PassRetireTime() {
	k.t.Helper()
	o := k.LiveKeyring.Options()
	for _, r := range rings {
		ttl := o.AccessTTL
		if r == jwtkeys.Refresh {
			ttl = o.RefreshTTL
		}
		k.need(r, secretenv.SlotPrevious)
		since := k.Clock.Now().Add(-ttl - o.RetireMargin - time.Second)
		k.src.set(jwtkeys.SinceVarName(r), since.Format(time.RFC3339))
	}
	k.reload("retire-previous")
}

// RetireAt returns when the previous key of ring r stops verifying (zero when
// the slot is empty).
func (k *Kit[C]) RetireAt(r jwtkeys.RingID) time.Time {
	for _, st := range k.LiveKeyring.Slots() {
		if st.Ring == r && st.Slot == secretenv.SlotPrevious {
			return st.RetireAt
		}
	}
	return time.Time{}
}

func (k *Kit[C]) reload(step string) {
	k.t.Helper()
	if err := k.LiveKeyring.Reload(); err != nil {
		k.t.Fatalf("jwtkeystest: %s: reload: %v", step, err)
	}
}

var rings = []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh}

// source is the kit's mutable secretenv.Source.
type source struct {
	mu sync.Mutex
	m  map[string]string
}

func newSource() *source { return &source{m: map[string]string{}} }

func (s *source) set(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == "" {
		delete(s.m, name)
		return
	}
	s.m[name] = v
}

func (s *source) Lookup(name string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	return v, ok, nil
}

func (s *source) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func (s *source) String() string { return "jwtkeystest keyring" }

// newSecret returns 48 random bytes in standard base64, as "rotate keygen jwt".
func newSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("jwtkeystest: random: %v", err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func newJTI(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("jwtkeystest: random: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
