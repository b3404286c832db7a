package momo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
	"testing"
)

// BenchmarkVerifyIPN verifies a typical IPN body (JSON decode, integer
// parsing, raw string, HMAC, compare) next to the bare HMAC-SHA256 over the
// same raw string with the compare, in the same run.
func BenchmarkVerifyIPN(b *testing.B) {
	c := sandboxClient(b, nil)
	body := signIPN(sandboxAccess, sandboxSecret, typical())
	raw := []byte(NotificationRaw(sandboxAccess, typical()))
	m := hmac.New(sha256.New, []byte(sandboxSecret))
	m.Write(raw)
	sig, _ := hex.DecodeString(hex.EncodeToString(m.Sum(nil)))
	b.Run("VerifyIPN", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := c.VerifyIPN(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-HMAC", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		key := []byte(sandboxSecret)
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(raw)
			if !hmac.Equal(m.Sum(nil), sig) {
				b.Fatal("mismatch")
			}
		}
	})
}

// BenchmarkVerifyIPNPaired is BenchmarkVerifyIPN with both sides
// interleaved (see paymenttest.Paired): x-bare is the ratio to compare.
func BenchmarkVerifyIPNPaired(b *testing.B) {
	c := sandboxClient(b, nil)
	body := signIPN(sandboxAccess, sandboxSecret, typical())
	raw := []byte(NotificationRaw(sandboxAccess, typical()))
	m := hmac.New(sha256.New, []byte(sandboxSecret))
	m.Write(raw)
	sig := m.Sum(nil)
	key := []byte(sandboxSecret)
	b.ReportAllocs()
	paymenttest.Paired(b, func() {
		if _, err := c.VerifyIPN(body); err != nil {
			b.Fatal(err)
		}
	}, func() {
		m := hmac.New(sha256.New, key)
		m.Write(raw)
		if !hmac.Equal(m.Sum(nil), sig) {
			b.Fatal("mismatch")
		}
	})
}
