package fieldcrypt_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/goodgo/rotation/fieldcrypt"
)

type vector struct {
	Name      string              `json:"name"`
	Key       string              `json:"key"`
	KeyID     string              `json:"key_id"`
	Algorithm string              `json:"algorithm"`
	Binding   *fieldcrypt.Binding `json:"binding"`
	Plaintext string              `json:"plaintext_hex"`
	Nonce     string              `json:"nonce_hex"`
	Envelope  string              `json:"envelope_hex"`
	Text      string              `json:"text"`
	Expect    string              `json:"expect"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 10 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func expectErr(t *testing.T, expect string, err error) {
	t.Helper()
	want := map[string]error{
		"authentication": fieldcrypt.ErrAuthentication,
		"unknown key":    fieldcrypt.ErrUnknownKey,
		"malformed":      fieldcrypt.ErrMalformed,
		"not envelope":   fieldcrypt.ErrNotEnvelope,
	}[expect]
	if want == nil {
		t.Fatalf("vector expects %q", expect)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// TestVectors checks the package against testdata/vectors.json, the
// known-answer vectors quoted in FORMAT.md: positive vectors must be produced
// byte for byte (with the recorded nonce) and decrypt; negative ones must fail
// with the recorded error.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ring, err := fieldcrypt.NewKeyring(v.Key)
			if err != nil {
				t.Fatal(err)
			}
			if got := ring.Primary().String(); got != v.KeyID {
				t.Fatalf("key id %s, vector says %s", got, v.KeyID)
			}
			var b fieldcrypt.Binding
			if v.Binding != nil {
				b = *v.Binding
			}
			env, _ := hex.DecodeString(v.Envelope)
			pt, _ := hex.DecodeString(v.Plaintext)
			if v.Expect != "ok" {
				if v.Envelope != "" {
					out, err := ring.Decrypt(nil, env, b)
					expectErr(t, v.Expect, err)
					if out != nil {
						t.Fatal("output returned with an error")
					}
				}
				if v.Text != "" {
					_, err := ring.DecryptText(nil, []byte(v.Text), b)
					expectErr(t, v.Expect, err)
				}
				return
			}
			alg := fieldcrypt.XChaCha20Poly1305
			if v.Algorithm == fieldcrypt.AES256GCM.String() {
				alg = fieldcrypt.AES256GCM
			}
			if ring, err = ring.WithAlgorithm(alg); err != nil {
				t.Fatal(err)
			}
			nonce, _ := hex.DecodeString(v.Nonce)
			ring = ring.WithRand(bytes.NewReader(nonce))
			got, err := ring.Encrypt(nil, pt, b)
			if err != nil || !bytes.Equal(got, env) {
				t.Fatalf("Encrypt = %x, %v; want %s", got, err, v.Envelope)
			}
			ring = ring.WithRand(bytes.NewReader(nonce))
			text, err := ring.EncryptText(nil, pt, b)
			if err != nil || string(text) != v.Text {
				t.Fatalf("EncryptText = %s, %v; want %s", text, err, v.Text)
			}
			dec, err := ring.Decrypt(nil, env, b)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Fatalf("Decrypt = %x, %v", dec, err)
			}
			dec, err = ring.DecryptText(nil, []byte(v.Text), b)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Fatalf("DecryptText = %x, %v", dec, err)
			}
		})
	}
}

// specDecrypt decodes a stored value by following FORMAT.md alone, with the
// standard library and x/crypto primitives: it shares no code with the
// package's decoder.
func specDecrypt(keyText string, stored []byte, text bool, b *fieldcrypt.Binding) ([]byte, error) {
	key, err := base64.StdEncoding.Strict().DecodeString(keyText)
	if err != nil || len(key) != 32 {
		return nil, errors.New("bad key")
	}
	// §Key id: first 8 bytes of SHA-256 over the key's base64 text.
	sum := sha256.Sum256([]byte(keyText))
	env := stored
	if text {
		// §Text form: "fc1:" then canonical padded standard base64.
		s := string(stored)
		if !strings.HasPrefix(s, "fc1:") {
			return nil, errors.New("no text prefix")
		}
		body := s[4:]
		if strings.ContainsAny(body, "\r\n") {
			return nil, errors.New("line break")
		}
		env, err = base64.StdEncoding.Strict().DecodeString(body)
		if err != nil {
			return nil, err
		}
	}
	// §Binary form.
	if len(env) < 10 || env[0] != 0xFC {
		return nil, errors.New("not format 1")
	}
	if !bytes.Equal(env[1:9], sum[:8]) {
		return nil, errors.New("other key")
	}
	var aead cipher.AEAD
	var nonceLen int
	switch env[9] {
	case 0x01:
		aead, _ = chacha20poly1305.NewX(key)
		nonceLen = 24
	case 0x02:
		blk, _ := aes.NewCipher(key)
		aead, _ = cipher.NewGCM(blk)
		nonceLen = 12
	default:
		return nil, errors.New("algorithm")
	}
	if len(env) < 10+nonceLen+16 {
		return nil, errors.New("short")
	}
	// §Associated data: bytes 0 .. end of nonce, then the binding if any.
	ad := append([]byte(nil), env[:10+nonceLen]...)
	if b != nil {
		ad = append(ad, 0x01)
		for _, s := range []string{b.Table, b.Column, b.Row} {
			ad = binary.BigEndian.AppendUint32(ad, uint32(len(s)))
			ad = append(ad, s...)
		}
	}
	return aead.Open(nil, env[10:10+nonceLen], env[10+nonceLen:], ad)
}

// TestIndependentDecoder decodes the vectors and fresh random ciphertexts of
// every shape with specDecrypt.
func TestIndependentDecoder(t *testing.T) {
	for _, v := range loadVectors(t) {
		if v.Expect != "ok" {
			continue
		}
		env, _ := hex.DecodeString(v.Envelope)
		pt, _ := hex.DecodeString(v.Plaintext)
		for _, text := range []bool{false, true} {
			in := env
			if text {
				in = []byte(v.Text)
			}
			got, err := specDecrypt(v.Key, in, text, v.Binding)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s (text=%v): %x, %v", v.Name, text, got, err)
			}
		}
	}
	key := fieldcrypttest.NewKey(t)
	ring, err := fieldcrypt.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	b := &fieldcrypt.Binding{Table: "orders", Column: "card_holder", Row: "9f1c"}
	for _, alg := range []fieldcrypt.Algorithm{fieldcrypt.XChaCha20Poly1305, fieldcrypt.AES256GCM} {
		var err error
		if ring, err = ring.WithAlgorithm(alg); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 15, 16, 17, 64, 1000} {
			pt := bytes.Repeat([]byte{'x'}, n)
			for _, bind := range []*fieldcrypt.Binding{nil, b} {
				var bb fieldcrypt.Binding
				if bind != nil {
					bb = *bind
				}
				env, _ := ring.Encrypt(nil, pt, bb)
				if got, err := specDecrypt(key, env, false, bind); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%v n=%d bound=%v: %v", alg, n, bind != nil, err)
				}
				text, _ := ring.EncryptText(nil, pt, bb)
				if got, err := specDecrypt(key, text, true, bind); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%v text n=%d bound=%v: %v", alg, n, bind != nil, err)
				}
			}
		}
	}
}

// TestFormatDocVectors: every vector quoted in FORMAT.md §5 is one of
// testdata/vectors.json, so the document cannot drift from the code.
func TestFormatDocVectors(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range loadVectors(t) {
		known[v.Envelope] = true
		known[v.Text] = true
	}
	sec := string(doc[strings.Index(string(doc), "## 5."):strings.Index(string(doc), "## 6.")])
	lines := strings.Split(sec, "\n")
	quoted := 0
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "fc1:"):
			if !known[l] {
				t.Errorf("FORMAT.md text vector not in vectors.json: %s", l)
			}
			quoted++
		case strings.HasPrefix(l, "fc905f"):
			// A binary envelope may be wrapped over two lines.
			if i+1 < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "fc1:") && strings.TrimSpace(lines[i+1]) != "" {
				l += strings.TrimSpace(lines[i+1])
				i++
			}
			if !known[l] {
				t.Errorf("FORMAT.md binary vector not in vectors.json: %s", l)
			}
			quoted++
		}
	}
	if quoted != 6 {
		t.Fatalf("found %d quoted vectors in FORMAT.md §5, want 6", quoted)
	}
}
