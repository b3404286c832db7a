package fieldcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

// The environment variables a keyring is loaded from.
const (
	EnvKey         = "FIELD_ENCRYPTION_KEY"          // the primary key: standard base64 of exactly 32 bytes
	EnvKeyPrevious = "FIELD_ENCRYPTION_KEY_PREVIOUS" // decrypt-only keys that left primary, comma-separated
	// EnvKeyNext is the staged key: decrypt-only, deployed everywhere before
	// any writer encrypts with it (it then becomes FIELD_ENCRYPTION_KEY).
	// It is never retirable.
	EnvKeyNext = "FIELD_ENCRYPTION_KEY_NEXT"
)

// key is one field key with its AEADs, built once and reused for every value.
type key struct {
	id     KeyID
	secret fingerprint.Secret
	xc     cipher.AEAD // XChaCha20-Poly1305
	gcm    cipher.AEAD // AES-256-GCM
}

func newKey(s fingerprint.Secret) (*key, error) {
	fp := secretenv.TextFingerprint(s, secretenv.FieldKeyRule)
	k := &key{secret: s}
	if _, err := hex.Decode(k.id[:], []byte(fp)); err != nil {
		return nil, fmt.Errorf("fieldcrypt: key fingerprint: %w", err)
	}
	var err error
	if k.xc, err = chacha20poly1305.NewX(s.Bytes()); err != nil {
		return nil, fmt.Errorf("fieldcrypt: key %s: %w", k.id, err)
	}
	block, err := aes.NewCipher(s.Bytes())
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: key %s: %w", k.id, err)
	}
	if k.gcm, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("fieldcrypt: key %s: %w", k.id, err)
	}
	return k, nil
}

func (k *key) aead(a Algorithm) cipher.AEAD {
	if a == AES256GCM {
		return k.gcm
	}
	return k.xc
}

// Keyring holds the field keys of a service, as read once: the primary key
// (the key in secretenv.SlotCurrent), which encrypts, and the staged next key
// and previous keys, which only decrypt. Envelopes name their key, so
// decryption never tries keys in turn.
//
// Its keys never change: a service that follows a changed source loads a new
// Keyring (LoadKeyring) and swaps it in. A Keyring never changes:
// WithAlgorithm, WithRand and WithLegacy return configured copies. It is
// safe for concurrent use.
type Keyring struct {
	keys    []*key // keys[0] is the primary, then previous keys, then the next key if hasNext
	hasNext bool
	alg     Algorithm
	rand    io.Reader // nil: crypto/rand
	legacy  LegacyDecoder
}

// NewKeyring returns a keyring whose primary key is primary and whose
// decrypt-only keys are previous. Keys are given as their base64 text (the
// form "rotate keygen field" prints): standard base64 of exactly 32 bytes.
// The same key twice is an error, as is a key id collision. Errors name the
// key by its place ("primary key", "previous key 2") and fingerprint, never
// by an environment variable it did not come from, and never show it.
func NewKeyring(primary string, previous ...string) (*Keyring, error) {
	return NewStagedKeyring(primary, "", previous...)
}

// NewStagedKeyring is NewKeyring with a staged next key (decrypt only, see
// EnvKeyNext); next may be empty for none.
func NewStagedKeyring(primary, next string, previous ...string) (*Keyring, error) {
	p, err := decodeKey("primary key", -1, primary)
	if err != nil {
		return nil, err
	}
	prev := make([]fingerprint.Secret, 0, len(previous))
	for i, t := range previous {
		s, err := decodeKey("previous key", i, t)
		if err != nil {
			return nil, err
		}
		prev = append(prev, s)
	}
	var n fingerprint.Secret
	if next != "" {
		if n, err = decodeKey("next key", -1, next); err != nil {
			return nil, err
		}
	}
	return newKeyring(p, prev, n, argNames)
}

// decodeKey decodes one key given to NewKeyring.
func decodeKey(name string, i int, text string) (fingerprint.Secret, error) {
	if i >= 0 {
		name = fmt.Sprintf("%s %d", name, i+1)
	}
	if err := noSpace(name, text); err != nil {
		return fingerprint.Secret{}, err
	}
	return secretenv.Decode(name, text, secretenv.FieldKeyRule)
}

// noSpace refuses whitespace in key text with an error that says so (base64
// never holds any; a list is separated by commas only).
func noSpace(name, text string) error {
	if strings.ContainsAny(strings.TrimRight(text, "\r\n"), " \t") {
		return &secretenv.Error{Var: name, Index: -1, Err: secretenv.ErrNotBase64,
			Detail: "contains a space or tab: key text has none, and previous keys are separated by commas only (k1,k2)"}
	}
	return nil
}

// LoadKeyringEnv loads the keyring from FIELD_ENCRYPTION_KEY (required),
// FIELD_ENCRYPTION_KEY_NEXT (optional) and FIELD_ENCRYPTION_KEY_PREVIOUS
// (optional, comma-separated) in the process environment.
func LoadKeyringEnv() (*Keyring, error) { return LoadKeyring(secretenv.Env()) }

// LoadKeyring is LoadKeyringEnv reading from src (a secret volume, a map in
// tests). Errors name the variable and the fingerprint, never the key.
func LoadKeyring(src secretenv.Source) (*Keyring, error) {
	src, err := secretenv.Snapshot(src) // one version of a secret volume
	if err != nil {
		return nil, err
	}
	for _, name := range []string{EnvKey, EnvKeyNext, EnvKeyPrevious} {
		raw, _, err := src.Lookup(name)
		if err != nil {
			return nil, err
		}
		if err := noSpace(name, raw); err != nil {
			return nil, err
		}
	}
	p, err := secretenv.Require(src, EnvKey, secretenv.FieldKeyRule)
	if err != nil {
		return nil, err
	}
	prev, err := secretenv.LoadList(src, EnvKeyPrevious, secretenv.FieldKeyListRule)
	if err != nil {
		return nil, err
	}
	next, err := secretenv.Load(src, EnvKeyNext, secretenv.FieldKeyRule)
	if err != nil {
		return nil, err
	}
	return newKeyring(p, prev, next, envNames)
}

// keyNames labels the keys of a keyring in errors: by variable when they
// came from the environment, by place when they were arguments.
type keyNames struct {
	primary, next string
	previous      func(i int) string
}

var (
	envNames = keyNames{EnvKey, EnvKeyNext, func(i int) string { return fmt.Sprintf("%s[%d]", EnvKeyPrevious, i) }}
	argNames = keyNames{"primary key", "next key", func(i int) string { return fmt.Sprintf("previous key %d", i+1) }}
)

func newKeyring(primary fingerprint.Secret, previous []fingerprint.Secret, next fingerprint.Secret, names keyNames) (*Keyring, error) {
	named := []secretenv.Named{{Var: names.primary, Secret: primary}}
	for i, s := range previous {
		named = append(named, secretenv.Named{Var: names.previous(i), Secret: s})
	}
	hasNext := len(next.Bytes()) > 0
	if hasNext {
		named = append(named, secretenv.Named{Var: names.next, Secret: next})
	}
	if err := secretenv.Distinct(named...); err != nil {
		return nil, err
	}
	r := &Keyring{alg: XChaCha20Poly1305, hasNext: hasNext}
	for _, n := range named {
		k, err := newKey(n.Secret)
		if err != nil {
			return nil, err
		}
		for _, o := range r.keys {
			if o.id == k.id {
				return nil, fmt.Errorf("fieldcrypt: %s: key id %s collides with another key: generate a new key", n.Var, k.id)
			}
		}
		r.keys = append(r.keys, k)
	}
	return r, nil
}

// WithAlgorithm returns a keyring sharing r's keys whose Encrypt uses a:
// XChaCha20Poly1305 (the default) or AES256GCM. Envelopes of either
// algorithm always decrypt. r is unchanged.
func (r *Keyring) WithAlgorithm(a Algorithm) (*Keyring, error) {
	if a.nonceLen() == 0 {
		return nil, fmt.Errorf("fieldcrypt: unknown algorithm %v", a)
	}
	c := *r
	c.alg = a
	return &c, nil
}

// WithRand returns a keyring sharing r's keys that draws nonces from rand
// instead of crypto/rand. Only tests and known-answer vectors need this: a
// predictable source destroys security. r is unchanged.
func (r *Keyring) WithRand(rand io.Reader) *Keyring {
	c := *r
	c.rand = rand
	return &c
}

// Primary returns the id of the key that encrypts.
func (r *Keyring) Primary() KeyID { return r.keys[0].id }

// Previous returns the ids of the keys that left primary (decrypt only), in
// configuration order. The staged next key is not among them.
func (r *Keyring) Previous() []KeyID {
	prev := r.keys[1:]
	if r.hasNext {
		prev = prev[:len(prev)-1]
	}
	ids := make([]KeyID, 0, len(prev))
	for _, k := range prev {
		ids = append(ids, k.id)
	}
	return ids
}

// Next returns the id of the staged next key (decrypt only), if any. A next
// key is never retirable: it is about to become the primary.
func (r *Keyring) Next() (KeyID, bool) {
	if !r.hasNext {
		return KeyID{}, false
	}
	return r.keys[len(r.keys)-1].id, true
}

// Slot names what key id is to this keyring: "primary", "next", "previous"
// or "unknown".
func (r *Keyring) Slot(id KeyID) string {
	switch {
	case id == r.keys[0].id:
		return "primary"
	case r.hasNext && id == r.keys[len(r.keys)-1].id:
		return "next"
	case r.Has(id):
		return "previous"
	}
	return "unknown"
}

// Has reports whether the keyring holds the key with id.
func (r *Keyring) Has(id KeyID) bool { return r.lookup(id) != nil }

func (r *Keyring) lookup(id KeyID) *key {
	for _, k := range r.keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

// String describes the keyring by fingerprints only.
func (r *Keyring) String() string {
	s := "fieldcrypt.Keyring{primary=" + r.keys[0].id.String()
	if id, ok := r.Next(); ok {
		s += " next=" + id.String()
	}
	for i, id := range r.Previous() {
		if i == 0 {
			s += " previous="
		} else {
			s += ","
		}
		s += id.String()
	}
	return s + " alg=" + r.alg.String() + "}"
}

// LegacyDecoder turns a stored value that is not an envelope (one without the
// 0xFC / "fc1:" marker) into its plaintext, appended to dst: a decryptor for
// the scheme a column used before, or Plaintext for a column that was never
// encrypted.
type LegacyDecoder func(dst, value []byte) ([]byte, error)

// Plaintext is the LegacyDecoder for columns that held plaintext: the stored
// value is the plaintext.
func Plaintext(dst, value []byte) ([]byte, error) { return append(dst, value...), nil }

// WithLegacy returns a keyring sharing r's keys whose Decrypt and Rewrap
// accept values that are not envelopes, decoding them with d. It is the
// explicit migration option that brings an existing column under the
// envelope; use it in the migration job and during the migration window
// only. Values carrying the envelope marker are still parsed strictly: a
// damaged envelope is never handed to d.
func (r *Keyring) WithLegacy(d LegacyDecoder) *Keyring {
	c := *r
	c.legacy = d
	return &c
}
