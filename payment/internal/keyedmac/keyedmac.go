// Package keyedmac keeps HMACs keyed once per secret, so that a verifier
// does not key a new HMAC for every notification.
//
// hmac.New copies the key into its inner and outer pads and hashes them
// when the message is written and summed: two compression-function calls
// and three allocations per MAC, a quarter of the whole HMAC of a typical
// 300-byte notification. A keyed HMAC that has been Reset once keeps the
// hash states after the pads (FIPS 198-1 §6 allows precomputing them), so
// a reused one starts from there. MAC holds such HMACs in a sync.Pool:
// each call takes one for itself, so a MAC is safe for concurrent use and
// no two goroutines ever share a hash state.
//
// The pooled states are derived from the secret and are as sensitive as
// it (FIPS 198-1 asks that they be protected like the key): they live only
// in the MAC of the verifier that holds the secret anyway, and MAC and Set
// print as "[keyed MAC]" whatever the verb, never as their contents.
package keyedmac

import (
	"crypto/hmac"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// errNoCurrent is the very error payment.SecretSet returns without a current
// secret (it wraps payment.ErrNoSecret, which is secretenv.ErrMissing), so
// the two verifiers stay interchangeable down to errors.Is on the value.
var errNoCurrent = payment.SecretSet{}.Validate()

// MAC computes and checks HMACs under one secret with one hash function.
// It is safe for concurrent use. The zero MAC is not usable: use New.
type MAC struct {
	pool sync.Pool // of *state
}

type state struct {
	h   hash.Hash
	sum [64]byte // room for the largest MAC (SHA-512's)
}

// New returns the MAC of the secret key under newHash (sha256.New,
// sha512.New), or nil for the empty secret.
func New(newHash func() hash.Hash, key fingerprint.Secret) *MAC {
	if key.IsZero() {
		return nil
	}
	b := key.Bytes()
	m := &MAC{}
	m.pool.New = func() any { return &state{h: hmac.New(newHash, b)} }
	return m
}

// Equal reports, in constant time, whether sig is the HMAC of msg. It
// allocates nothing once the pool is warm.
func (m *MAC) Equal(msg, sig []byte) bool {
	s := m.pool.Get().(*state)
	s.h.Reset() // the keyed state: after the first Reset, a copy, not a hash of the pad
	s.h.Write(msg)
	ok := hmac.Equal(s.h.Sum(s.sum[:0]), sig)
	m.pool.Put(s)
	return ok
}

// Sum appends the HMAC of msg to dst.
func (m *MAC) Sum(dst, msg []byte) []byte {
	s := m.pool.Get().(*state)
	s.h.Reset()
	s.h.Write(msg)
	dst = append(dst, s.h.Sum(s.sum[:0])...)
	m.pool.Put(s)
	return dst
}

// Format prints "[keyed MAC]" for every verb: a MAC's contents are derived
// from its secret.
func (m *MAC) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[keyed MAC]")) }

// Set is a payment.SecretSet with its secrets keyed once: VerifyMAC and
// VerifyHex return what the SecretSet's methods of the same name return
// for the same hash function, error for error. It is safe for concurrent
// use.
type Set struct {
	set       payment.SecretSet
	size      int // the MAC's length in bytes
	cur, prev *MAC
}

// NewSet keys set's secrets under newHash.
func NewSet(newHash func() hash.Hash, set payment.SecretSet) *Set {
	return &Set{set: set, size: newHash().Size(), cur: New(newHash, set.Current), prev: New(newHash, set.Previous)}
}

// Format prints "[keyed MAC]" for every verb.
func (Set) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[keyed MAC]")) }

// VerifyMAC is payment.SecretSet.VerifyMAC: Current, then Previous, each
// compared in constant time; a match with Previous outside its window is
// payment.ErrRetiredKey.
func (s *Set) VerifyMAC(msg, sig []byte, now time.Time) (secretenv.Slot, error) {
	if len(sig) == 0 {
		return "", payment.ErrMissingSignature
	}
	if s.cur == nil {
		return "", errNoCurrent
	}
	if s.cur.Equal(msg, sig) {
		return secretenv.SlotCurrent, nil
	}
	if s.prev != nil && s.prev.Equal(msg, sig) {
		if s.set.PreviousLive(now) {
			return secretenv.SlotPrevious, nil
		}
		return "", payment.ErrRetiredKey
	}
	return "", payment.ErrBadSignature
}

// VerifyHex is payment.SecretSet.VerifyHex: a hex signature (either case)
// decoded into a stack array, then VerifyMAC.
func (s *Set) VerifyHex(msg []byte, sigHex string, now time.Time) (secretenv.Slot, error) {
	return verifyHex(s, msg, sigHex, now)
}

// VerifyHexBytes is VerifyHex for a signature held in bytes.
func (s *Set) VerifyHexBytes(msg, sigHex []byte, now time.Time) (secretenv.Slot, error) {
	return verifyHex(s, msg, sigHex, now)
}

func verifyHex[T string | []byte](s *Set, msg []byte, sigHex T, now time.Time) (secretenv.Slot, error) {
	if len(sigHex) == 0 {
		return "", payment.ErrMissingSignature
	}
	var buf [64]byte
	if len(sigHex) > 2*len(buf) || len(sigHex)%2 != 0 {
		return "", fmt.Errorf("%w: signature is %d characters, want the %d hex digits of the MAC", payment.ErrMalformed, len(sigHex), 2*s.size)
	}
	n, ok := decodeHex(buf[:], sigHex)
	if !ok {
		return "", fmt.Errorf("%w: signature is not hex", payment.ErrMalformed)
	}
	return s.VerifyMAC(msg, buf[:n], now)
}

// decodeHex decodes the even-length src into dst (long enough) as
// hex.Decode does, without converting src to bytes.
func decodeHex[T string | []byte](dst []byte, src T) (int, bool) {
	for i := 0; i+1 < len(src); i += 2 {
		a, b := unhex[src[i]], unhex[src[i+1]]
		if a|b > 0x0f {
			return 0, false
		}
		dst[i/2] = a<<4 | b
	}
	return len(src) / 2, true
}

// unhex maps a hex digit (either case) to its value, anything else to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("0123456789abcdef") {
		t[c] = byte(i)
	}
	for i, c := range []byte("ABCDEF") {
		t[c] = byte(10 + i)
	}
	return t
}()
