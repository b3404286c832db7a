package fieldcrypt

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrAuthentication is the one opaque error for an envelope that does not
	// authenticate: a changed byte anywhere in it, the wrong key behind its
	// key id, or associated data (a Binding) that differs from the one it was
	// sealed with. It says nothing more, on purpose.
	ErrAuthentication = errors.New("fieldcrypt: message authentication failed (tampered value, wrong key or wrong binding)")

	// ErrNotEnvelope is returned for a value that does not start with the
	// envelope marker (byte 0xFC, or "fc1:" in the text form): typically a
	// plaintext or a value written by another scheme. Migrating such a
	// column needs an explicit Keyring.WithLegacy.
	ErrNotEnvelope = errors.New("fieldcrypt: value is not a fieldcrypt envelope (plaintext or legacy value? see Keyring.WithLegacy)")

	// ErrMalformed is returned for a value that carries the envelope marker
	// but is not a canonical envelope: unknown algorithm, too short, bad
	// base64. The wrapped message says which rule it broke.
	ErrMalformed = errors.New("fieldcrypt: malformed envelope")

	// ErrUnknownKey is matched by a *KeyError: the envelope names a key that
	// is not in the keyring.
	ErrUnknownKey = errors.New("fieldcrypt: unknown key id")
)

// KeyError reports an envelope sealed under a key the keyring does not hold.
// KeyID is the envelope's key id, which is the fingerprint of the key's base64
// text as "rotate keygen field" printed it and the rotation ticket recorded
// it: find the key with that fingerprint and add it to
// FIELD_ENCRYPTION_KEY_PREVIOUS. The id is read from the header before any
// authentication, so a damaged or forged value names an id no key ever had:
// when no rotation record shows that fingerprint, the value needs repair,
// not a key.
type KeyError struct {
	KeyID KeyID
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("fieldcrypt: value names key id %s, which is not in the keyring: "+
		"if a key with fingerprint %s was issued (see the rotation records), add it to FIELD_ENCRYPTION_KEY_PREVIOUS; "+
		"if none was, the value is damaged or forged (the id is read before authentication)", e.KeyID, e.KeyID)
}

// Is makes errors.Is(err, ErrUnknownKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrUnknownKey }

func malformed(reason string) error { return fmt.Errorf("%w: %s", ErrMalformed, reason) }
