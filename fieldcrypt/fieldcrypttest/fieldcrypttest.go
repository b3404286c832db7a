// Package fieldcrypttest is a test kit for code that stores values sealed
// with fieldcrypt: generated keys for a rotation in progress, keyrings for each
// of its stages, envelopes under each key, and damaged values a repository
// layer must refuse without losing anything.
//
// The common path, in a consumer's _test.go:
//
//	rot := fieldcrypttest.NewRotation(t)
//	repo := NewUserRepo(db, rot.Promoted(t))     // the service mid-rotation
//	b := fieldcrypt.Binding{Table: "users", Column: "phone", Row: "42"}
//	old := rot.Seal(t, rot.Old, []byte("0901234567"), fieldcrypt.Text, b) // a row not yet re-encrypted
//	// … store old in row 42, read it through repo: it must decrypt.
//	for _, d := range rot.Damaged(t, []byte("0901234567"), fieldcrypt.Text, b) {
//		t.Run(d.Name, func(t *testing.T) {
//			// … store d.Value, read through repo: it must fail with d.Err, loudly.
//		})
//	}
//
// The keys are generated per Rotation and exist only in the test process.
// Nonces are random unless a test asks for UnsafeDeterministic, which is for
// golden files only.
package fieldcrypttest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"sync"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
)

// Rotation is a field-key rotation: Old is the key values are sealed under
// before it, New the key that replaces it. Unknown is a third key no keyring
// of the rotation holds (a value from another environment). All three are
// standard base64 of 32 random bytes, as "rotate keygen field" prints.
type Rotation struct {
	Old, New, Unknown string
}

// NewRotation generates the keys of a rotation.
func NewRotation(t testing.TB) *Rotation {
	t.Helper()
	return &Rotation{Old: NewKey(t), New: NewKey(t), Unknown: NewKey(t)}
}

// NewKey returns a new random key in the form FIELD_ENCRYPTION_KEY holds.
func NewKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("fieldcrypttest: random: %v", err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Before is the keyring before the rotation: Old is the primary key.
func (r *Rotation) Before(t testing.TB) *fieldcrypt.Keyring {
	return ring(t, r.Old, "")
}

// Staged is the first stage: Old still encrypts, New is staged as next
// (FIELD_ENCRYPTION_KEY_NEXT) and already decrypts.
func (r *Rotation) Staged(t testing.TB) *fieldcrypt.Keyring {
	return ring(t, r.Old, r.New)
}

// Promoted is the stage the re-encrypt job runs in: New encrypts, Old is
// previous and only decrypts.
func (r *Rotation) Promoted(t testing.TB) *fieldcrypt.Keyring {
	return ring(t, r.New, "", r.Old)
}

// After is the keyring once Old is retired: New alone.
func (r *Rotation) After(t testing.TB) *fieldcrypt.Keyring {
	return ring(t, r.New, "")
}

// Env returns the variables of stage ("before", "staged", "promoted" or
// "after") as a service reads them (FIELD_ENCRYPTION_KEY, _NEXT, _PREVIOUS),
// for a subprocess or a secretenv.Map.
func (r *Rotation) Env(stage string) map[string]string {
	switch stage {
	case "before":
		return map[string]string{fieldcrypt.EnvKey: r.Old}
	case "staged":
		return map[string]string{fieldcrypt.EnvKey: r.Old, fieldcrypt.EnvKeyNext: r.New}
	case "promoted":
		return map[string]string{fieldcrypt.EnvKey: r.New, fieldcrypt.EnvKeyPrevious: r.Old}
	case "after":
		return map[string]string{fieldcrypt.EnvKey: r.New}
	}
	return nil
}

// ID returns the key id (the fingerprint) of key.
func ID(t testing.TB, key string) fieldcrypt.KeyID {
	t.Helper()
	return ring(t, key, "").Primary()
}

func ring(t testing.TB, primary, next string, previous ...string) *fieldcrypt.Keyring {
	t.Helper()
	kr, err := fieldcrypt.NewStagedKeyring(primary, next, previous...)
	if err != nil {
		t.Fatalf("fieldcrypttest: keyring: %v", err)
	}
	return kr
}

// Seal returns plaintext sealed under key (one of r's keys, or any other) in
// form f with binding b: what a service holding that key as primary stores.
func (r *Rotation) Seal(t testing.TB, key string, plaintext []byte, f fieldcrypt.Form, b fieldcrypt.Binding) []byte {
	t.Helper()
	return Seal(t, ring(t, key, ""), plaintext, f, b)
}

// Seal encrypts plaintext with kr's primary key in form f with binding b.
func Seal(t testing.TB, kr *fieldcrypt.Keyring, plaintext []byte, f fieldcrypt.Form, b fieldcrypt.Binding) []byte {
	t.Helper()
	var v []byte
	var err error
	if f == fieldcrypt.Text {
		v, err = kr.EncryptText(nil, plaintext, b)
	} else {
		v, err = kr.Encrypt(nil, plaintext, b)
	}
	if err != nil {
		t.Fatalf("fieldcrypttest: seal: %v", err)
	}
	return v
}

// Damaged is a stored value that must not decrypt, and the error
// (errors.Is) a decryption with the intended binding returns.
type Damaged struct {
	Name  string
	Value []byte
	Err   error
}

// Damaged returns values a repository must refuse when it reads them back at
// binding b with the Promoted keyring: the value of another row moved here,
// of another column, a flipped byte in each part of the envelope (format,
// key id, algorithm, nonce, ciphertext, tag), a truncated and an extended
// one, a value under a key no keyring holds, the plaintext itself, a
// non-canonical text form. plaintext is what the damaged values would
// decrypt to; b must bind a row (b.Row != "").
func (r *Rotation) Damaged(t testing.TB, plaintext []byte, f fieldcrypt.Form, b fieldcrypt.Binding) []Damaged {
	t.Helper()
	if b.Row == "" {
		t.Fatal("fieldcrypttest: Damaged needs a binding with a row")
	}
	kr := ring(t, r.New, "")
	moved := b
	moved.Row = b.Row + "0"
	otherCol := b
	otherCol.Column = b.Column + "_copy"
	good := Seal(t, kr, plaintext, fieldcrypt.Binary, b)
	out := []Damaged{
		{"row moved from another row", Seal(t, kr, plaintext, f, moved), fieldcrypt.ErrAuthentication},
		{"value of another column", Seal(t, kr, plaintext, f, otherCol), fieldcrypt.ErrAuthentication},
		{"sealed without a binding", Seal(t, kr, plaintext, f, fieldcrypt.Binding{}), fieldcrypt.ErrAuthentication},
		{"unknown key", r.Seal(t, r.Unknown, plaintext, f, b), fieldcrypt.ErrUnknownKey},
		{"plaintext", append([]byte(nil), plaintext...), fieldcrypt.ErrNotEnvelope},
		{"empty", []byte{}, fieldcrypt.ErrNotEnvelope},
	}
	// Byte flips in each region of the binary envelope: 1 format byte,
	// 8 key id, 1 algorithm, then nonce, ciphertext and the 16-byte tag.
	flip := func(name string, i int, want error) {
		v := append([]byte(nil), good...)
		v[i] ^= 0x01
		out = append(out, Damaged{name, inForm(v, f), want})
	}
	nonceLen := 24
	// In the text form the "fc1:" prefix is intact, so a wrong decoded
	// format byte is a malformed envelope; in bytes it is no envelope.
	formatErr := fieldcrypt.ErrNotEnvelope
	if f == fieldcrypt.Text {
		formatErr = fieldcrypt.ErrMalformed
	}
	flip("format byte flipped", 0, formatErr)
	flip("key id flipped", 1, fieldcrypt.ErrUnknownKey)
	flip("algorithm flipped", 9, fieldcrypt.ErrMalformed)
	flip("nonce flipped", 10, fieldcrypt.ErrAuthentication)
	if len(plaintext) > 0 {
		flip("ciphertext flipped", 10+nonceLen, fieldcrypt.ErrAuthentication)
	}
	flip("tag flipped", len(good)-1, fieldcrypt.ErrAuthentication)
	truncated := fieldcrypt.ErrAuthentication
	if len(plaintext) == 0 {
		truncated = fieldcrypt.ErrMalformed // shorter than header, nonce and tag
	}
	out = append(out,
		Damaged{"truncated tag", inForm(good[:len(good)-1], f), truncated},
		Damaged{"extended", inForm(append(append([]byte(nil), good...), 0), f), fieldcrypt.ErrAuthentication},
		Damaged{"header only", inForm(good[:10], f), fieldcrypt.ErrMalformed},
	)
	if f == fieldcrypt.Text {
		txt := inForm(good, f)
		out = append(out,
			Damaged{"text form with a line break", append(append(append([]byte(nil), txt[:20]...), '\n'), txt[20:]...), fieldcrypt.ErrMalformed},
			Damaged{"text form with a trailing newline", append(append([]byte(nil), txt...), '\n'), fieldcrypt.ErrMalformed},
		)
		if bytes.HasSuffix(txt, []byte("=")) {
			out = append(out, Damaged{"text form without padding", bytes.TrimRight(txt, "="), fieldcrypt.ErrMalformed})
		}
	}
	return out
}

func inForm(bin []byte, f fieldcrypt.Form) []byte {
	if f != fieldcrypt.Text {
		return bin
	}
	return append([]byte(fieldcrypt.TextPrefix), base64.StdEncoding.EncodeToString(bin)...)
}

// UnsafeDeterministic returns a nonce source that yields the same bytes for
// the same seed, for golden files that must not change between runs. It
// destroys the encryption's security (the same nonce under one key reveals
// plaintexts): use it only in tests, with keys generated for the test, via
// Keyring.WithRand. It is safe for concurrent use.
func UnsafeDeterministic(seed string) io.Reader {
	return &counterRand{seed: sha256.Sum256([]byte(seed))}
}

type counterRand struct {
	mu   sync.Mutex
	seed [32]byte
	n    uint64
	buf  []byte
}

func (c *counterRand) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) < len(p) {
		var blk [40]byte
		copy(blk[:], c.seed[:])
		binary.BigEndian.PutUint64(blk[32:], c.n)
		c.n++
		h := sha256.Sum256(blk[:])
		c.buf = append(c.buf, h[:]...)
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}
