// Package fieldcrypt encrypts individual database fields under a rotating
// key, in a versioned envelope that says which key sealed it, and re-encrypts
// stored values when the key changes.
//
// The common path:
//
//	ring, err := fieldcrypt.KeyringFromEnv() // FIELD_ENCRYPTION_KEY, FIELD_ENCRYPTION_KEY_PREVIOUS
//	b := fieldcrypt.Binding{Table: "users", Column: "national_id", Row: "42"}
//	sealed, err := ring.Encrypt(nil, []byte("079201001234"), b) // store in a bytea column
//	plain, err := ring.Decrypt(nil, sealed, b)
//
// EncryptText and DecryptText do the same for text columns. Every function
// appends to a dst slice, so a caller that reuses buffers allocates nothing.
//
// # Envelope
//
// An envelope is a format byte (0xFC), the key id, the algorithm id, a random
// nonce, the ciphertext and a 16-byte tag; the text form is "fc1:" followed by
// its standard base64. Everything before the ciphertext, and the Binding if
// any, is authenticated as associated data. FORMAT.md in this directory
// specifies it byte by byte, with known-answer vectors.
//
// XChaCha20-Poly1305 with 192-bit random nonces is the default: one key can
// seal any number of values. AES-256-GCM can be selected with SetAlgorithm;
// its 96-bit random nonces limit a key to about 2^32 encryptions. Either
// algorithm always decrypts. Envelopes reveal the plaintext's length, the key
// id and the algorithm; nothing else.
//
// A Binding (table, column, row id) ties a value to its cell: a value copied
// to another row fails to authenticate. NULL is not a value: keep NULL as
// NULL. The empty string is encrypted like any other value. A stored value
// that is not an envelope is an error (ErrNotEnvelope), never passed through
// as plaintext, unless the keyring was made WithLegacy for a migration.
//
// # Key management
//
// A key is 32 random bytes written as standard base64 ("rotate keygen field").
// Its key id is the first 8 bytes of SHA-256 over that base64 text, so the key
// id printed by SQL (see FORMAT.md) equals the fingerprint in the rotation
// ticket. The primary key (FIELD_ENCRYPTION_KEY) encrypts; previous keys
// (FIELD_ENCRYPTION_KEY_PREVIOUS, comma-separated) only decrypt. Decryption
// picks the key by id: an unknown id is a *KeyError naming it, any tampering
// is the single opaque ErrAuthentication.
//
// To rotate: deploy the new key as a previous key everywhere; then swap it to
// primary with the old key as previous; then run the re-encrypt job
// (package fieldcrypt/pgstore, or Reencrypt over any storage) until the
// census shows zero rows on the old key; then remove the old key.
//
// # Backwards compatibility
//
// Format 1 (byte 0xFC, text prefix "fc1:") will always decrypt. A future
// format gets a new format byte and text prefix; algorithm ids are never
// reused.
package fieldcrypt
