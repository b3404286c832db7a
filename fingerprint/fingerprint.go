// Package fingerprint names secrets without revealing them.
//
// A fingerprint is the first 16 lowercase hex characters of SHA-256 over the
// exact bytes of a secret. It is what goes into a rotation ticket, a log line,
// an error message or a JWT "kid" header: enough to tell two secrets apart and
// to match a ticket against a running system, never enough to recover the
// secret.
//
//	fp := fingerprint.Of([]byte(os.Getenv("JWT_SECRET")))   // "3f2a9c0d41b7e8aa"
//	s := fingerprint.NewSecret(raw)
//	slog.Info("loaded", "key", s)                            // key="[secret fp=3f2a9c0d41b7e8aa]"
//
// # Why 16 hex characters
//
// The runbook's golden rules say "first 8 chars"; its §7 checklist says 16.
// This package uses 16 (64 bits) everywhere. Eight hex characters are only 32
// bits: among the few dozen keys a platform holds over the years a collision is
// unlikely, but a fingerprint is also used as a JWT key id and as a field-key
// id, where two keys sharing an id would make one of them unusable. At 64 bits
// a collision among even a million keys has a probability below 3·10⁻⁸.
// A fingerprint is not a password hash: it does not protect a low-entropy
// secret (a short password can be found by hashing guesses), so fingerprint
// generated keys, not human-chosen passwords.
//
// # The shell equivalent
//
// The runbook's §2 line
//
//	printf '%s' "$S" | openssl dgst -sha256 | cut -c1-16
//
// is broken under OpenSSL 3: "openssl dgst" prints "SHA2-256(stdin)= 3f2a…",
// so cut keeps "SHA2-256(stdin)=" and every secret gets the same fingerprint.
// Use one of these instead (both hash the exact bytes, no trailing newline):
//
//	printf '%s' "$S" | sha256sum | cut -c1-16
//	printf '%s' "$S" | openssl dgst -sha256 -r | cut -c1-16
//
// or "rotate fingerprint", which reads the secret from stdin without echo.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
)

// Len is the length of a fingerprint in characters.
const Len = 16

// Of returns the fingerprint of secret: the first 16 lowercase hex characters
// of SHA-256 over its exact bytes. The fingerprint of the empty secret is
// well defined ("e3b0c44298fc1c14"), so callers that must refuse empty secrets
// do so themselves.
func Of(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:Len/2])
}

// OfString is Of for a secret held in a string.
func OfString(secret string) string {
	return Of([]byte(secret))
}

// Valid reports whether s has the form of a fingerprint: exactly 16
// lowercase hex characters.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
