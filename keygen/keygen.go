// Package keygen generates new secrets for each class of the runbook's §2,
// from crypto/rand only.
package keygen

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Class names a kind of secret, as "rotate keygen <class>" spells it.
type Class string

// The classes of §2.
const (
	JWT Class = "jwt" // 48 random bytes, standard base64 (64 characters)
	// Webhook is a Standard Webhooks secret: "whsec_" then 48 random bytes in
	// standard base64 (70 characters), the form the spec and its reference
	// libraries (npm standardwebhooks, svix) read.
	Webhook Class = "webhook"
	Field   Class = "field" // exactly 32 random bytes, standard base64 (44 characters)
	DB      Class = "db"    // 32 characters from [A-Za-z0-9]
	Redis   Class = "redis" // 32 characters from [A-Za-z0-9]
)

// Classes lists every class, sorted.
func Classes() []Class {
	c := []Class{JWT, Webhook, Field, DB, Redis}
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c
}

// webhookPrefix starts every Standard Webhooks secret: webhook.SecretPrefix,
// the one exported name for it (this package stays below payment).
const webhookPrefix = "whsec_"

// ErrUnknownClass is returned for a class name that is not one of Classes.
var ErrUnknownClass = errors.New("unknown secret class")

// ErrRandom wraps a failure of the random source.
var ErrRandom = errors.New("random source failed")

// passwordAlphabet is URL-safe and needs no quoting in a DSN, a shell, a
// PgBouncer userlist or a Redis AUTH command. 62 symbols: 32 of them carry
// about 190 bits.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// PasswordLen is the length of generated database and Redis passwords.
const PasswordLen = 32

// New returns a fresh secret of class c read from crypto/rand.
func New(c Class) (string, error) { return NewFrom(rand.Reader, c) }

// NewFrom is New with an explicit random source, for tests. A failing or
// short source gives an error wrapping ErrRandom, never a panic or a weak
// secret.
func NewFrom(r io.Reader, c Class) (string, error) {
	switch c {
	case JWT:
		return randomBase64(r, 48)
	case Webhook:
		s, err := randomBase64(r, 48)
		if err != nil {
			return "", err
		}
		return webhookPrefix + s, nil
	case Field:
		return randomBase64(r, 32)
	case DB, Redis:
		return Password(r, PasswordLen)
	}
	return "", fmt.Errorf("%w %q: want one of %v", ErrUnknownClass, string(c), Classes())
}

func randomBase64(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Password returns n characters drawn uniformly from [A-Za-z0-9] using r,
// with rejection sampling so no character is more likely than another.
func Password(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("%w: %w", ErrRandom, err)
		}
		for _, b := range buf {
			// 248 = 4*62: bytes at or above it would bias the first symbols.
			if b >= 248 {
				continue
			}
			out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}
