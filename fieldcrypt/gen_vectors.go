//go:build ignore

// gen_vectors writes testdata/vectors.json, the known-answer vectors of
// FORMAT.md. Run from this directory: go run gen_vectors.go
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log"
	"os"

	"github.com/goodgo/rotation/fieldcrypt"
)

type vector struct {
	Name      string              `json:"name"`
	Key       string              `json:"key"` // base64 text, as in FIELD_ENCRYPTION_KEY
	KeyID     string              `json:"key_id"`
	Algorithm string              `json:"algorithm"`
	Binding   *fieldcrypt.Binding `json:"binding,omitempty"`
	Plaintext string              `json:"plaintext_hex"`
	Nonce     string              `json:"nonce_hex"`
	Envelope  string              `json:"envelope_hex"`
	Text      string              `json:"text"`
	Expect    string              `json:"expect"` // "ok", or the error: "authentication", "unknown key", "malformed", "not envelope"
}

func main() {
	keyA := base64.StdEncoding.EncodeToString(seq(0x00, 32))
	var out []vector
	add := func(name string, alg fieldcrypt.Algorithm, pt []byte, b *fieldcrypt.Binding, nonceStart byte) vector {
		ring, err := fieldcrypt.NewKeyring(keyA)
		if err != nil {
			log.Fatal(err)
		}
		if ring, err = ring.WithAlgorithm(alg); err != nil {
			log.Fatal(err)
		}
		n := 24
		if alg == fieldcrypt.AES256GCM {
			n = 12
		}
		nonce := seq(nonceStart, n)
		ring = ring.WithRand(bytes.NewReader(nonce))
		var bind fieldcrypt.Binding
		if b != nil {
			bind = *b
		}
		env, err := ring.Encrypt(nil, pt, bind)
		if err != nil {
			log.Fatal(err)
		}
		ring = ring.WithRand(bytes.NewReader(nonce))
		text, err := ring.EncryptText(nil, pt, bind)
		if err != nil {
			log.Fatal(err)
		}
		v := vector{Name: name, Key: keyA, KeyID: ring.Primary().String(), Algorithm: alg.String(), Binding: b,
			Plaintext: hex.EncodeToString(pt), Nonce: hex.EncodeToString(nonce), Envelope: hex.EncodeToString(env),
			Text: string(text), Expect: "ok"}
		out = append(out, v)
		return v
	}
	bind := &fieldcrypt.Binding{Table: "users", Column: "national_id", Row: "42"}
	add("xchacha20poly1305 unbound", fieldcrypt.XChaCha20Poly1305, []byte("079201001234"), nil, 0x40)
	add("xchacha20poly1305 bound", fieldcrypt.XChaCha20Poly1305, []byte("079201001234"), bind, 0x40)
	add("xchacha20poly1305 empty plaintext", fieldcrypt.XChaCha20Poly1305, []byte{}, nil, 0x60)
	add("aes256gcm unbound", fieldcrypt.AES256GCM, []byte("079201001234"), nil, 0x40)
	v := add("aes256gcm bound", fieldcrypt.AES256GCM, []byte("079201001234"), bind, 0x40)

	// Negative vectors, derived from the last one.
	env, _ := hex.DecodeString(v.Envelope)
	neg := func(name, expect string, e []byte, text string, b *fieldcrypt.Binding) {
		out = append(out, vector{Name: name, Key: keyA, KeyID: v.KeyID, Algorithm: v.Algorithm, Binding: b,
			Plaintext: "", Nonce: "", Envelope: hex.EncodeToString(e), Text: text, Expect: expect})
	}
	flip := func(i int) []byte { c := bytes.Clone(env); c[i] ^= 0x01; return c }
	neg("wrong row in binding", "authentication", env, v.Text, &fieldcrypt.Binding{Table: "users", Column: "national_id", Row: "43"})
	neg("binding missing", "authentication", env, v.Text, nil)
	neg("flipped nonce bit", "authentication", flip(10), "", bind)
	neg("flipped tag bit", "authentication", flip(len(env)-1), "", bind)
	neg("flipped key id bit", "unknown key", flip(1), "", bind)
	neg("unknown algorithm 0x03", "malformed", func() []byte { c := bytes.Clone(env); c[9] = 0x03; return c }(), "", bind)
	neg("truncated tag", "malformed", env[:10+12+15], "", bind)
	neg("not an envelope", "not envelope", []byte("079201001234"), "079201001234", bind)
	neg("text marker over a non-envelope", "malformed", nil, "fc1:"+base64.StdEncoding.EncodeToString([]byte("079201001234")), bind)
	neg("text with line break", "malformed", nil, v.Text[:20]+"\n"+v.Text[20:], bind)
	neg("text with nonzero padding bits", "malformed", nil, nonzeroPad(v.Text), bind)
	neg("text without padding", "malformed", nil, stripPad(v.Text), bind)

	f, err := os.Create("testdata/vectors.json")
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// nonzeroPad sets a padding bit in the last base64 symbol before "=".
func nonzeroPad(t string) string {
	i := len(t) - 1
	for t[i] == '=' {
		i--
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	p := bytes.IndexByte([]byte(alphabet), t[i])
	return t[:i] + string(alphabet[p|1]) + t[i+1:]
}

func stripPad(t string) string {
	for t[len(t)-1] == '=' {
		t = t[:len(t)-1]
	}
	return t
}
