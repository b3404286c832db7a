package fieldcrypt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// The wire format; FORMAT.md is its specification.
const (
	formatByte = 0xFC // byte 0 of every envelope: format 1; never the first byte of UTF-8 text
	keyIDLen   = 8
	headerLen  = 1 + keyIDLen + 1 // format byte, key id, algorithm id
	tagLen     = 16

	// TextPrefix starts every envelope in the text form; the rest is the
	// binary envelope in standard padded base64.
	TextPrefix = "fc1:"

	bindingTag = 0x01 // first byte of an encoded Binding
)

// Form is how an envelope is stored: raw bytes (bytea columns) or text.
type Form uint8

const (
	// Binary is the envelope as bytes, for bytea columns.
	Binary Form = iota
	// Text is TextPrefix followed by the canonical standard base64 of the
	// binary envelope, for text and varchar columns.
	Text
)

func (f Form) String() string {
	switch f {
	case Binary:
		return "binary"
	case Text:
		return "text"
	}
	return fmt.Sprintf("Form(%d)", uint8(f))
}

// Algorithm identifies the AEAD of an envelope.
type Algorithm uint8

const (
	// XChaCha20Poly1305 (the default): 192-bit random nonces, so there is no
	// practical limit on the number of values one key can encrypt.
	XChaCha20Poly1305 Algorithm = 0x01
	// AES256GCM: 96-bit random nonces. NIST SP 800-38D limits a key to 2^32
	// random-nonce encryptions; rotate well before that.
	AES256GCM Algorithm = 0x02
)

func (a Algorithm) String() string {
	switch a {
	case XChaCha20Poly1305:
		return "XChaCha20-Poly1305"
	case AES256GCM:
		return "AES-256-GCM"
	}
	return fmt.Sprintf("Algorithm(0x%02x)", uint8(a))
}

// nonceLen returns the nonce size of a, or 0 for an unknown algorithm.
func (a Algorithm) nonceLen() int {
	switch a {
	case XChaCha20Poly1305:
		return 24
	case AES256GCM:
		return 12
	}
	return 0
}

// KeyID names a key inside envelopes: the first 8 bytes of SHA-256 over the
// key's base64 text, as written in FIELD_ENCRYPTION_KEY. Its hex form is the
// key's fingerprint, which "rotate keygen field" prints and the rotation
// ticket records.
type KeyID [keyIDLen]byte

// String returns the 16 lowercase hex characters of the id: the key's
// fingerprint.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the id as its 16 hex characters (in JSON, for one).
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (id *KeyID) UnmarshalText(b []byte) error {
	v, err := ParseKeyID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseKeyID parses a fingerprint (16 lowercase hex characters) as a KeyID.
func ParseKeyID(fp string) (KeyID, error) {
	var id KeyID
	if len(fp) != 2*keyIDLen {
		return id, fmt.Errorf("fieldcrypt: key id %q: want 16 lowercase hex characters", fp)
	}
	for i := 0; i < len(fp); i++ {
		if c := fp[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return id, fmt.Errorf("fieldcrypt: key id %q: want 16 lowercase hex characters", fp)
		}
	}
	_, _ = hex.Decode(id[:], []byte(fp))
	return id, nil
}

// Prefix returns the bytes that every envelope sealed under id begins with in
// form f, whatever its algorithm: 0xFC followed by the id (9 bytes) in the
// binary form, "fc1:" followed by 12 base64 characters in the text form. A
// SQL filter "not yet under the primary key" is a prefix test against it.
func (id KeyID) Prefix(f Form) []byte {
	var b [1 + keyIDLen]byte
	b[0] = formatByte
	copy(b[1:], id[:])
	if f == Text {
		return base64.StdEncoding.AppendEncode([]byte(TextPrefix), b[:])
	}
	return b[:]
}

// Header is the readable part of an envelope.
type Header struct {
	KeyID     KeyID
	Algorithm Algorithm
}

// envelope is a parsed binary envelope; all slices alias the input.
type envelope struct {
	alg    Algorithm
	id     KeyID
	header []byte // format byte through the end of the nonce: the associated data prefix
	nonce  []byte
	sealed []byte // ciphertext || tag
}

// parse checks the grammar of a binary envelope. Any byte string either
// parses to exactly one envelope or is an error.
func parse(b []byte) (envelope, error) {
	var e envelope
	err := parseInto(&e, b)
	return e, err
}

// parseInto is parse without copying the result, for the hot path.
func parseInto(e *envelope, b []byte) error {
	if len(b) == 0 || b[0] != formatByte {
		return ErrNotEnvelope
	}
	if len(b) < headerLen {
		return malformed("truncated header")
	}
	e.id = KeyID(b[1 : 1+keyIDLen])
	e.alg = Algorithm(b[headerLen-1])
	n := e.alg.nonceLen()
	if n == 0 {
		return malformed(fmt.Sprintf("unknown algorithm id 0x%02x", b[headerLen-1]))
	}
	if len(b) < headerLen+n+tagLen {
		return malformed("truncated: shorter than header, nonce and tag")
	}
	e.header = b[:headerLen+n]
	e.nonce = b[headerLen : headerLen+n]
	e.sealed = b[headerLen+n:]
	return nil
}

var strictB64 = base64.StdEncoding.Strict()

// decodeText checks the grammar of a text envelope and appends the binary
// envelope to dst. Exactly one text encodes each binary envelope: the prefix
// is exact, the base64 is standard, padded, without line breaks and with zero
// padding bits.
func decodeText(dst, t []byte) ([]byte, error) {
	if !bytes.HasPrefix(t, []byte(TextPrefix)) {
		return nil, ErrNotEnvelope
	}
	t = t[len(TextPrefix):]
	if len(t)%4 != 0 || bytes.ContainsAny(t, "\r\n") {
		return nil, malformed("text form is not canonical base64")
	}
	out, err := strictB64.AppendDecode(dst, t)
	if err != nil {
		return nil, malformed("text form is not canonical base64")
	}
	return out, nil
}

// parseText is parseInto for the bytes decoded from a text form. They carry
// the "fc1:" marker, so a value whose byte 0 is not 0xFC is malformed, never
// "not an envelope": it is not handed to a legacy decoder (FORMAT.md §3).
func parseText(e *envelope, b []byte) error {
	err := parseInto(e, b)
	if err == ErrNotEnvelope {
		return malformed("text form does not hold a format-1 envelope (decoded byte 0 is not 0xFC)")
	}
	return err
}

// ParseHeader reads the header of a stored value in form f without
// decrypting it: which key and algorithm sealed it. It checks the envelope's
// grammar but not its authenticity.
func ParseHeader(value []byte, f Form) (Header, error) {
	var e envelope
	if f == Text {
		b, err := decodeText(nil, value)
		if err != nil {
			return Header{}, err
		}
		if err := parseText(&e, b); err != nil {
			return Header{}, err
		}
	} else if err := parseInto(&e, value); err != nil {
		return Header{}, err
	}
	return Header{KeyID: e.id, Algorithm: e.alg}, nil
}

// Binding ties a value to the place it is stored. Sealed with a Binding, a
// value only decrypts with the same Binding: copied to another row, column or
// table it fails with ErrAuthentication. The zero Binding binds nothing.
//
// Row is the row's primary key in its text form (what Postgres prints for
// pk::text), so the application and the re-encrypt job agree on it.
type Binding struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Row    string `json:"row"`
}

// IsZero reports whether b binds nothing.
func (b Binding) IsZero() bool { return b.Table == "" && b.Column == "" && b.Row == "" }

// errBindingTooLong guards the 32-bit length prefixes.
var errBindingTooLong = errors.New("fieldcrypt: binding component longer than 2^31 bytes")

// appendBinding appends the canonical encoding of b (FORMAT.md, "Associated
// data"): 0x01, then each of Table, Column, Row as a 4-byte big-endian
// length followed by its bytes.
func appendBinding(dst []byte, b Binding) []byte {
	dst = append(dst, bindingTag)
	for _, s := range [3]string{b.Table, b.Column, b.Row} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

func (b Binding) check() error {
	const max = 1<<31 - 1
	if len(b.Table) > max || len(b.Column) > max || len(b.Row) > max {
		return errBindingTooLong
	}
	return nil
}
