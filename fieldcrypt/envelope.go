package fieldcrypt

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"sync"
)

// scratch buffers for associated data with a Binding and for the binary
// envelope behind a text form; pooled so the hot path does not allocate.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func getScratch() *[]byte  { return scratch.Get().(*[]byte) }
func putScratch(b *[]byte) { *b = (*b)[:0]; scratch.Put(b) }

// Encrypt seals plaintext under the primary key and appends the binary
// envelope to dst, returning the extended slice. dst and plaintext must not
// overlap. b, unless zero, binds the value to where it is stored (see
// Binding); pass the same b to Decrypt.
//
// The envelope is 10 + 24 + len(plaintext) + 16 bytes with
// XChaCha20-Poly1305 and 10 + 12 + len(plaintext) + 16 with AES-256-GCM.
// Everything but the plaintext (format, key id, algorithm, nonce, binding)
// is authenticated. The length of the plaintext is not hidden.
//
// The empty plaintext is encrypted like any other. SQL NULL is not a
// plaintext: store NULL for NULL without calling Encrypt.
func (r *Keyring) Encrypt(dst, plaintext []byte, b Binding) ([]byte, error) {
	return r.seal(dst, plaintext, b)
}

// Decrypt opens a binary envelope and appends the plaintext to dst. It
// returns ErrNotEnvelope for a value without the envelope marker (unless the
// keyring was made WithLegacy), an error wrapping ErrMalformed for a
// non-canonical envelope, a *KeyError (ErrUnknownKey) for a key the keyring
// does not hold, and ErrAuthentication for anything that fails to
// authenticate. On error it returns nil and no part of the plaintext.
func (r *Keyring) Decrypt(dst, envelope []byte, b Binding) ([]byte, error) {
	return r.open(dst, envelope, Binary, b)
}

// EncryptText is Encrypt for text columns: it appends "fc1:" followed by the
// standard padded base64 of the binary envelope.
func (r *Keyring) EncryptText(dst, plaintext []byte, b Binding) ([]byte, error) {
	return r.sealForm(dst, plaintext, Text, b)
}

// DecryptText is Decrypt for the text form. The base64 must be canonical:
// padded, without line breaks or other whitespace, with zero padding bits.
func (r *Keyring) DecryptText(dst, text []byte, b Binding) ([]byte, error) {
	return r.open(dst, text, Text, b)
}

// sealForm encrypts into form f.
func (r *Keyring) sealForm(dst, plaintext []byte, f Form, b Binding) ([]byte, error) {
	if f != Text {
		return r.seal(dst, plaintext, b)
	}
	tmp := getScratch()
	defer putScratch(tmp)
	env, err := r.seal((*tmp)[:0], plaintext, b)
	if err != nil {
		return nil, err
	}
	*tmp = env
	dst = append(dst, TextPrefix...)
	return base64.StdEncoding.AppendEncode(dst, env), nil
}

func (r *Keyring) seal(dst, plaintext []byte, b Binding) ([]byte, error) {
	k := r.keys[0]
	n := r.alg.nonceLen()
	aead := k.aead(r.alg)
	start := len(dst)
	// One allocation at most: room for header, nonce, ciphertext and tag.
	dst = slices.Grow(dst, headerLen+n+len(plaintext)+tagLen)
	dst = append(dst, formatByte)
	dst = append(dst, k.id[:]...)
	dst = append(dst, byte(r.alg))
	dst = dst[:len(dst)+n]
	nonce := dst[len(dst)-n:]
	if r.rand == nil {
		_, _ = rand.Read(nonce) // never fails (Go 1.24+)
	} else if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return nil, fmt.Errorf("fieldcrypt: random source: %w", err)
	}
	header := dst[start:]
	if b.IsZero() {
		// The associated data is the header, which precedes the region Seal
		// writes to; dst has the capacity, so it is not moved.
		return aead.Seal(dst, nonce, plaintext, header), nil
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	ad := getScratch()
	*ad = appendBinding(append((*ad)[:0], header...), b)
	out := aead.Seal(dst, nonce, plaintext, *ad)
	putScratch(ad)
	return out, nil
}

// open decrypts a value stored in form f.
func (r *Keyring) open(dst, value []byte, f Form, b Binding) ([]byte, error) {
	if f != Text {
		var e envelope
		if err := parseInto(&e, value); err != nil {
			return r.openLegacy(dst, value, err)
		}
		return r.openEnvelope(dst, &e, b)
	}
	// Text: decode the binary envelope into dst's spare capacity, open it in
	// place and move the plaintext to where it belongs.
	start := len(dst)
	buf, err := decodeText(dst, value)
	if err != nil {
		return r.openLegacy(dst, value, err)
	}
	var e envelope
	if err := parseText(&e, buf[start:]); err != nil {
		return nil, err
	}
	pt, err := r.openEnvelope(e.sealed[:0], &e, b)
	if err != nil {
		return nil, err
	}
	n := copy(buf[start:cap(buf)], pt)
	return buf[:start+n], nil
}

func (r *Keyring) openLegacy(dst, value []byte, err error) ([]byte, error) {
	if err == ErrNotEnvelope && r.legacy != nil {
		return r.legacy(dst, value)
	}
	return nil, err
}

func (r *Keyring) openEnvelope(dst []byte, e *envelope, b Binding) ([]byte, error) {
	k := r.lookup(e.id)
	if k == nil {
		return nil, &KeyError{KeyID: e.id}
	}
	aead := k.aead(e.alg)
	var out []byte
	var err error
	if b.IsZero() {
		out, err = aead.Open(dst, e.nonce, e.sealed, e.header)
	} else {
		if err := b.check(); err != nil {
			return nil, err
		}
		ad := getScratch()
		*ad = appendBinding(append((*ad)[:0], e.header...), b)
		out, err = aead.Open(dst, e.nonce, e.sealed, *ad)
		putScratch(ad)
	}
	if err != nil {
		return nil, ErrAuthentication
	}
	if out == nil {
		out = []byte{} // the empty plaintext is a value, not NULL
	}
	return out, nil
}
