package fingerprint

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Secret holds secret bytes and keeps them out of output. However a Secret
// reaches fmt (any verb, including %v, %+v, %#v, %s, %q and %x), log/slog,
// encoding/json or encoding/text, it prints as "[secret fp=<fingerprint>]".
// Only Bytes reveals it: call Bytes where the key is really used.
//
// The zero Secret is empty and prints as "[secret empty]". A Secret is
// immutable after creation; it is safe to copy and to share between
// goroutines.
//
// The bytes sit behind a function, not in a field: when fmt prints a value
// holding a Secret in an unexported field, or re-prints a pointee with
// methods off (%s or %q on a pointer it cannot format), it cannot call the
// Secret's methods, and what it then shows of the Secret is the function's
// address, never the bytes.
type Secret struct {
	b  func() []byte
	n  int
	fp string
}

// NewSecret returns a Secret holding a copy of b.
func NewSecret(b []byte) Secret {
	if len(b) == 0 {
		return Secret{}
	}
	c := make([]byte, len(b))
	copy(c, b)
	return Secret{b: func() []byte { return c }, n: len(c), fp: Of(c)}
}

// Bytes returns the secret bytes. The caller must not modify them and must not
// log them.
func (s Secret) Bytes() []byte {
	if s.b == nil {
		return nil
	}
	return s.b()
}

// Len returns the length of the secret in bytes.
func (s Secret) Len() int { return s.n }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.n == 0 }

// Fingerprint returns Of(s.Bytes()), or "" for the empty secret.
func (s Secret) Fingerprint() string { return s.fp }

// Equal reports whether s and o hold the same bytes, in time that depends only
// on their lengths.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.Bytes(), o.Bytes()) == 1
}

// Redacted returns the text every output path shows instead of the secret.
func (s Secret) Redacted() string {
	if s.n == 0 {
		return "[secret empty]"
	}
	return "[secret fp=" + s.fp + "]"
}

// String returns the redacted form, never the secret.
func (s Secret) String() string { return s.Redacted() }

// GoString returns the redacted form, so %#v does not print the bytes.
func (s Secret) GoString() string { return s.Redacted() }

// Format prints the redacted form for every fmt verb and flag.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.Redacted())) }

// LogValue makes log/slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Redacted()) }

// MarshalText makes encoders (encoding/json among them) print the redacted
// form. A Secret cannot be decoded back: there is no UnmarshalText.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Redacted()), nil }
