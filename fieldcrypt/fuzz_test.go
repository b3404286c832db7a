package fieldcrypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
)

const fuzzKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// FuzzDecrypt feeds arbitrary bytes to the binary parser and decryptor. It
// must never panic, and any input it accepts must be a canonical envelope:
// re-encoding its plaintext-free parts yields the same bytes.
func FuzzDecrypt(f *testing.F) {
	r, _ := fieldcrypt.NewKeyring(fuzzKey)
	for _, alg := range algs {
		r, _ = r.WithAlgorithm(alg)
		v, _ := r.Encrypt(nil, []byte("seed value"), fieldcrypt.Binding{})
		f.Add(v, false)
		v, _ = r.Encrypt(nil, nil, fieldcrypt.Binding{Table: "t", Column: "c", Row: "1"})
		f.Add(v, true)
	}
	f.Add([]byte{0xFC}, false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, in []byte, bound bool) {
		var b fieldcrypt.Binding
		if bound {
			b = fieldcrypt.Binding{Table: "t", Column: "c", Row: "1"}
		}
		out, err := r.Decrypt(nil, in, b)
		if err != nil {
			if out != nil {
				t.Fatal("output with error")
			}
			if !errors.Is(err, fieldcrypt.ErrNotEnvelope) && !errors.Is(err, fieldcrypt.ErrMalformed) &&
				!errors.Is(err, fieldcrypt.ErrUnknownKey) && !errors.Is(err, fieldcrypt.ErrAuthentication) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		h, err := fieldcrypt.ParseHeader(in, fieldcrypt.Binary)
		if err != nil || h.KeyID != r.Primary() {
			t.Fatalf("decrypted but header %v %v", h, err)
		}
		// Accepted binary must also be accepted as its text form.
		text := append([]byte(fieldcrypt.TextPrefix), base64.StdEncoding.EncodeToString(in)...)
		if got, err := r.DecryptText(nil, text, b); err != nil || !bytes.Equal(got, out) {
			t.Fatalf("text form differs: %v", err)
		}
	})
}

// FuzzDecryptText feeds arbitrary text to the text parser. It must never
// panic, and any text it accepts must be the one canonical encoding of its
// bytes.
func FuzzDecryptText(f *testing.F) {
	r, _ := fieldcrypt.NewKeyring(fuzzKey)
	for _, alg := range algs {
		r, _ = r.WithAlgorithm(alg)
		v, _ := r.EncryptText(nil, []byte("seed value"), fieldcrypt.Binding{})
		f.Add(string(v))
		f.Add(string(v[:len(v)-1]))
		f.Add(string(v) + "\n")
	}
	f.Add("fc1:")
	f.Add("fc1:/A==")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = fieldcrypt.ParseHeader([]byte(in), fieldcrypt.Text)
		out, err := r.DecryptText(nil, []byte(in), fieldcrypt.Binding{})
		if err != nil {
			if out != nil {
				t.Fatal("output with error")
			}
			return
		}
		raw, err := base64.StdEncoding.DecodeString(in[len(fieldcrypt.TextPrefix):])
		if err != nil {
			t.Fatalf("accepted %q that base64 rejects", in)
		}
		if canon := fieldcrypt.TextPrefix + base64.StdEncoding.EncodeToString(raw); canon != in {
			t.Fatalf("accepted non-canonical %q (canonical %q)", in, canon)
		}
	})
}
