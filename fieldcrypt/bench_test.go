package fieldcrypt_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/goodgo/rotation/fieldcrypt"
)

// BenchmarkField compares, for a 64-byte field, the package's Encrypt and
// Decrypt with the raw AEAD of the same algorithm in the same run: Seal with
// a fresh random nonce, and Open. Both sides append to a reused buffer; the
// "/alloc" variants pass a nil dst and so allocate the output.
//
//	go test -run '^$' -bench BenchmarkField -benchmem -count 5 ./fieldcrypt/
func BenchmarkField(b *testing.B) {
	keyText := base64.StdEncoding.EncodeToString(make([]byte, 32))
	key, _ := base64.StdEncoding.DecodeString(keyText)
	pt := make([]byte, 64)
	for _, alg := range algs {
		ring, _ := fieldcrypt.NewKeyring(keyText)
		ring, _ = ring.WithAlgorithm(alg)
		var raw cipher.AEAD
		if alg == fieldcrypt.AES256GCM {
			blk, _ := aes.NewCipher(key)
			raw, _ = cipher.NewGCM(blk)
		} else {
			raw, _ = chacha20poly1305.NewX(key)
		}
		nonce := make([]byte, raw.NonceSize())
		env, _ := ring.Encrypt(nil, pt, fieldcrypt.Binding{})
		text, _ := ring.EncryptText(nil, pt, fieldcrypt.Binding{})
		bind := fieldcrypt.Binding{Table: "users", Column: "national_id", Row: "1234567"}
		envBound, _ := ring.Encrypt(nil, pt, bind)
		openNonce := make([]byte, raw.NonceSize())
		rand.Read(openNonce)
		sealed := raw.Seal(nil, openNonce, pt, nil)
		buf := make([]byte, 0, 256)
		name := alg.String()

		b.Run(name+"/RawSeal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				rand.Read(nonce)
				buf = raw.Seal(buf[:0], nonce, pt, nil)
			}
		})
		b.Run(name+"/Encrypt", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.Encrypt(buf[:0], pt, fieldcrypt.Binding{})
			}
		})
		b.Run(name+"/EncryptBound", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.Encrypt(buf[:0], pt, bind)
			}
		})
		b.Run(name+"/EncryptText", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.EncryptText(buf[:0], pt, fieldcrypt.Binding{})
			}
		})
		b.Run(name+"/RawSeal/alloc", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				rand.Read(nonce)
				_ = raw.Seal(nil, nonce, pt, nil)
			}
		})
		b.Run(name+"/Encrypt/alloc", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				_, _ = ring.Encrypt(nil, pt, fieldcrypt.Binding{})
			}
		})
		b.Run(name+"/RawOpen", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = raw.Open(buf[:0], openNonce, sealed, nil)
			}
		})
		b.Run(name+"/Decrypt", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.Decrypt(buf[:0], env, fieldcrypt.Binding{})
			}
		})
		b.Run(name+"/DecryptBound", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.Decrypt(buf[:0], envBound, bind)
			}
		})
		b.Run(name+"/DecryptText", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				buf, _ = ring.DecryptText(buf[:0], text, fieldcrypt.Binding{})
			}
		})
		b.Run(name+"/RawOpen/alloc", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				_, _ = raw.Open(nil, openNonce, sealed, nil)
			}
		})
		b.Run(name+"/Decrypt/alloc", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				_, _ = ring.Decrypt(nil, env, fieldcrypt.Binding{})
			}
		})
	}
}
