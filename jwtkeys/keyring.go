package jwtkeys

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

// RingID names a keyring: access or refresh tokens. The two rings never share
// a key.
type RingID uint8

const (
	Access  RingID = iota // JWT_SECRET*: access tokens
	Refresh               // JWT_REFRESH_SECRET*: refresh tokens
)

func (r RingID) String() string {
	if r == Refresh {
		return "refresh"
	}
	return "access"
}

// use is the token_use claim value of tokens minted on this ring.
func (r RingID) use() string { return r.String() }

// slotIndex is a slot's index in a ring's arrays: next 0, current 1,
// previous 2, and -1 for anything else.
func slotIndex(s secretenv.Slot) int {
	switch s {
	case secretenv.SlotNext:
		return 0
	case secretenv.SlotCurrent:
		return 1
	case secretenv.SlotPrevious:
		return 2
	}
	return -1
}

// Variable names per ring and slot. The same names are file names in a
// secrets directory. The *_SINCE variables hold an RFC 3339 time: when the
// key in *_PREVIOUS left current (see Options and the package doc).
var varNames = [2][3]string{
	Access:  {"JWT_SECRET_NEXT", "JWT_SECRET", "JWT_SECRET_PREVIOUS"},
	Refresh: {"JWT_REFRESH_SECRET_NEXT", "JWT_REFRESH_SECRET", "JWT_REFRESH_SECRET_PREVIOUS"},
}

// VarName returns the variable (or file) name for a ring's slot, e.g.
// VarName(Refresh, secretenv.SlotPrevious) = "JWT_REFRESH_SECRET_PREVIOUS".
func VarName(r RingID, s secretenv.Slot) string {
	i := slotIndex(s)
	if r > Refresh || i < 0 {
		return ""
	}
	return varNames[r][i]
}

// SinceVarName is the optional variable saying when the previous key of ring
// r left current: "JWT_SECRET_PREVIOUS_SINCE" or
// "JWT_REFRESH_SECRET_PREVIOUS_SINCE", an RFC 3339 time.
func SinceVarName(r RingID) string { return VarName(r, secretenv.SlotPrevious) + "_SINCE" }

// Defaults for Options.
const (
	DefaultAlgorithm    = "HS256"
	DefaultAccessTTL    = 15 * time.Minute
	DefaultRefreshTTL   = 30 * 24 * time.Hour
	DefaultRetireMargin = 24 * time.Hour
	DefaultLeeway       = 30 * time.Second
)

// Options configure a keyring and the tokens verified and minted with it. The
// zero value is valid: HS256, 15 min access, 30 day refresh, 30 s leeway, 24 h
// retire margin, the real clock, no iss/aud checks, no observer.
type Options struct {
	// Algorithm is the one accepted and used algorithm: "HS256" (default),
	// "HS384" or "HS512". A token with any other alg is refused. Secrets must
	// be at least as long as the hash output (32, 48 or 64 bytes).
	Algorithm string
	// AccessTTL and RefreshTTL are the lifetimes of minted tokens and the
	// "longest TTL" of each ring used for the previous key's retire time.
	AccessTTL, RefreshTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30 s;
	// set a negative value for none).
	Leeway time.Duration
	// Issuer, when set, is put in minted tokens and required in verified
	// ones. Audience likewise (one of them must match).
	Issuer   string
	Audience []string
	// RetireMargin is added to the ring's TTL to get the previous key's
	// retire time (default 24 h).
	RetireMargin time.Duration
	// Now is the clock (default time.Now). Tests inject a fake one.
	Now func() time.Time
	// Observer receives verification, refresh and reload events.
	Observer Observer
}

func (o Options) resolved() (Options, error) {
	if o.Algorithm == "" {
		o.Algorithm = DefaultAlgorithm
	}
	if _, ok := algHash[o.Algorithm]; !ok {
		return o, fmt.Errorf("%w: algorithm %q: use HS256, HS384 or HS512", ErrConfig, o.Algorithm)
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshTTL == 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	} else if o.Leeway < 0 {
		o.Leeway = 0
	}
	if o.RetireMargin == 0 {
		o.RetireMargin = DefaultRetireMargin
	}
	if o.AccessTTL < 0 || o.RefreshTTL < 0 || o.RetireMargin < 0 {
		return o, fmt.Errorf("%w: TTLs and RetireMargin must be positive", ErrConfig)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	return o, nil
}

var algHash = map[string]struct {
	h      func() hash.Hash
	size   int
	method jwt.SigningMethod
}{
	"HS256": {sha256.New, 32, jwt.SigningMethodHS256},
	"HS384": {sha512.New384, 48, jwt.SigningMethodHS384},
	"HS512": {sha512.New, 64, jwt.SigningMethodHS512},
}

// key is one secret in one slot.
type key struct {
	secret   fingerprint.Secret
	kid      string
	ring     RingID
	slot     secretenv.Slot
	since    time.Time // when it entered the slot (previous: when it left current)
	retireAt time.Time // previous only
	header   string    // base64url of the JOSE header used when signing
	macs     sync.Pool // of *macState (hmac with this key), reset before use
	newHash  func() hash.Hash
}

// macState is a pooled HMAC with a buffer for its sum, so verifying
// allocates nothing.
type macState struct {
	h   hash.Hash
	sum [64]byte
}

func (k *key) mac() *macState {
	if m, ok := k.macs.Get().(*macState); ok {
		m.h.Reset()
		return m
	}
	return &macState{h: hmac.New(k.newHash, k.secret.Bytes())}
}

// key returns the key in slot s, or nil.
func (rg *ring) key(s secretenv.Slot) *key {
	if i := slotIndex(s); i >= 0 {
		return rg.slots[i]
	}
	return nil
}

type ring struct {
	id    RingID
	slots [3]*key // next, current, previous (slotIndex); nil = empty
	ttl   time.Duration
}

// Keyring is an immutable snapshot of both rings, as loaded from one source
// at one time. A LiveKeyring holds the live one and reloads it.
type Keyring struct {
	rings    [2]ring
	byKid    map[string]*key
	opts     Options
	loadedAt time.Time
	alg      string
	algJSON  []byte // `"HS256"`, compared with the raw header value
	sigSize  int
	method   jwt.SigningMethod
	valid    *jwt.Validator
}

// LoadKeyring reads and validates both rings from src (secretenv.Env(),
// secretenv.Dir(path) or secretenv.Map(m)). JWT_SECRET and
// JWT_REFRESH_SECRET are required; the next and previous slots are optional
// and an empty value is an absent slot. Every secret must be at least as long
// as the hash output, and no secret may appear twice across the six slots.
// Errors are *secretenv.Error values naming the variable and the
// fingerprint, never the value.
//
// The previous key's "since" (when it left current) is read from
// JWT_SECRET_PREVIOUS_SINCE / JWT_REFRESH_SECRET_PREVIOUS_SINCE when set,
// else it is the load time: a restart without *_SINCE pushes the retire time
// later, never earlier.
func LoadKeyring(src secretenv.Source, opts Options) (*Keyring, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	return load(src, o, nil)
}

func load(src secretenv.Source, o Options, old *Keyring) (*Keyring, error) {
	// One version of a secret volume for all six slots and the *_SINCE
	// values, even if the kubelet swaps ..data while we read.
	src, err := secretenv.Snapshot(src)
	if err != nil {
		return nil, err
	}
	now := o.Now()
	rule := secretenv.HMACRule
	if size := algHash[o.Algorithm].size; size > rule.MinLen {
		rule.MinLen = size
	}
	kr := &Keyring{
		opts: o, loadedAt: now, alg: o.Algorithm, algJSON: []byte(`"` + o.Algorithm + `"`),
		sigSize: algHash[o.Algorithm].size, method: algHash[o.Algorithm].method,
		byKid: make(map[string]*key, 6),
	}
	vopts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(o.Leeway), jwt.WithTimeFunc(o.Now)}
	if o.Issuer != "" {
		vopts = append(vopts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audience) > 0 {
		vopts = append(vopts, jwt.WithAudience(o.Audience...))
	}
	kr.valid = jwt.NewValidator(vopts...)

	var named []secretenv.Named

	for _, r := range []RingID{Access, Refresh} {
		kr.rings[r] = ring{id: r, ttl: o.AccessTTL}
		if r == Refresh {
			kr.rings[r].ttl = o.RefreshTTL
		}
		for i, s := range secretenv.Slots {
			name := varNames[r][i]
			var sec fingerprint.Secret
			if s == secretenv.SlotCurrent {
				sec, err = secretenv.Require(src, name, rule)
			} else {
				sec, err = secretenv.Load(src, name, rule)
			}
			if err != nil {
				return nil, err
			}
			named = append(named, secretenv.Named{Var: name, Secret: sec})
			if sec.IsZero() {
				continue
			}
			k := &key{secret: sec, kid: sec.Fingerprint(), ring: r, slot: s, since: now, newHash: algHash[o.Algorithm].h}
			k.header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + o.Algorithm + `","kid":"` + k.kid + `","typ":"JWT"}`))
			kr.rings[r].slots[i] = k
		}
	}
	if err := secretenv.Distinct(named...); err != nil {
		return nil, err
	}
	for r := range kr.rings {
		rg := &kr.rings[r]
		for i, k := range rg.slots {
			if k == nil {
				continue
			}
			if _, dup := kr.byKid[k.kid]; dup {
				// Distinct secrets with one fingerprint: 2^-64, but never guess.
				return nil, &secretenv.Error{Var: varNames[r][i], Index: -1, Fingerprint: k.kid, Err: secretenv.ErrDuplicate, Detail: "fingerprint collision; generate a new key"}
			}
			kr.byKid[k.kid] = k
			k.since = carrySince(old, k, now)
		}
		if prev := rg.key(secretenv.SlotPrevious); prev != nil {
			name := SinceVarName(rg.id)
			raw, ok, err := src.Lookup(name)
			if err != nil {
				return nil, fmt.Errorf("jwtkeys: read %s: %w", name, err)
			}
			if ok && raw != "" {
				t, perr := time.Parse(time.RFC3339, raw)
				if perr != nil {
					// Never echo the value: it may be a secret pasted into the
					// wrong file. Its length and fingerprint identify it.
					return nil, fmt.Errorf("%w: %s (%d bytes, fp=%s) is not an RFC 3339 time (e.g. 2026-05-01T10:00:00Z)",
						ErrConfig, name, len(raw), fingerprint.OfString(raw))
				}
				if t.After(now.Add(o.Leeway)) {
					return nil, fmt.Errorf("%w: %s=%s is in the future", ErrConfig, name, t.UTC().Format(time.RFC3339))
				}
				prev.since = t
			}
			prev.retireAt = prev.since.Add(rg.ttl + o.RetireMargin)
		}
	}
	return kr, nil
}

// carrySince keeps "since" across reloads in one process: a key already in
// the same slot keeps its time; a key that moved (e.g. current → previous)
// entered its new slot now.
func carrySince(old *Keyring, k *key, now time.Time) time.Time {
	if old == nil {
		return now
	}
	if ok := old.byKid[k.kid]; ok != nil && ok.ring == k.ring && ok.slot == k.slot {
		return ok.since
	}
	return now
}

// State is what a slot does now.
type State string

const (
	StateEmpty     State = "empty"     // no key in the slot
	StateStaged    State = "staged"    // next: verifies, does not sign
	StateSigning   State = "signing"   // current: signs and verifies
	StateVerifying State = "verifying" // previous before its retire time
	StateRetired   State = "retired"   // previous after its retire time: refused; remove it
)

// SlotInfo describes one slot of one ring. It holds no secret.
type SlotInfo struct {
	Ring        RingID
	Slot        secretenv.Slot
	Var         string // the variable or file it is loaded from
	Fingerprint string // = the kid of tokens signed with it; "" when empty
	State       State
	Since       time.Time // when the key entered the slot (previous: left current); zero when empty
	RetireAt    time.Time // previous only: when it stops verifying
}

// Slots lists all six slots (access next, current, previous, then refresh),
// evaluated at the keyring's clock.
func (kr *Keyring) Slots() []SlotInfo {
	now := kr.opts.Now()
	out := make([]SlotInfo, 0, 6)
	for _, rg := range kr.rings {
		for i, k := range rg.slots {
			s := secretenv.Slots[i]
			st := SlotInfo{Ring: rg.id, Slot: s, Var: varNames[rg.id][i], State: StateEmpty}
			if k != nil {
				st.Fingerprint, st.Since, st.RetireAt = k.kid, k.since, k.retireAt
				switch s {
				case secretenv.SlotNext:
					st.State = StateStaged
				case secretenv.SlotCurrent:
					st.State = StateSigning
				case secretenv.SlotPrevious:
					st.State = StateVerifying
					if !now.Before(k.retireAt) {
						st.State = StateRetired
					}
				}
			}
			out = append(out, st)
		}
	}
	return out
}

// CurrentKid returns the kid (fingerprint) that new tokens of ring r carry.
func (kr *Keyring) CurrentKid(r RingID) string {
	if k := kr.rings[r].key(secretenv.SlotCurrent); k != nil {
		return k.kid
	}
	return ""
}

// Algorithm returns the pinned algorithm.
func (kr *Keyring) Algorithm() string { return kr.alg }

// LoadedAt is when this keyring was loaded.
func (kr *Keyring) LoadedAt() time.Time { return kr.loadedAt }

var errNoKey = errors.New("jwtkeys: ring has no current key")

// String summarizes the keyring by fingerprint, e.g.
// "jwtkeys.Keyring{HS256 access: next=- current=3f2a… previous=- refresh: …}".
// It never prints a secret.
func (kr *Keyring) String() string {
	b := []byte("jwtkeys.Keyring{" + kr.alg)
	for _, rg := range kr.rings {
		b = append(b, ' ')
		b = append(b, rg.id.String()...)
		b = append(b, ':')
		for i, k := range rg.slots {
			fp := "-"
			if k != nil {
				fp = k.kid
			}
			b = append(b, ' ')
			b = append(b, secretenv.Slots[i].String()...)
			b = append(b, '=')
			b = append(b, fp...)
		}
	}
	return string(append(b, '}'))
}

// GoString is String, so %#v never walks into the key material.
func (kr *Keyring) GoString() string { return kr.String() }
