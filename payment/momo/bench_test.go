package momo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
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
// interleaved (see paymenttest.PairedKeyed): x-bare is the ratio to compare;
// x-keyed is verify over the same HMAC with its key's pads hashed once, as
// the verifiers do, so it is what verifying costs beyond the HMAC itself.
// The baseline is the floor any verifier pays: HMAC of the signed string
// (already built: the parsing and canonicalisation that build it from the
// notification are what the verify side adds) and a constant-time
// compare against the notification's own signature, decoded beforehand.
// Comparing with the signature the notification carries proves both sides
// work on the same signed string.
func BenchmarkVerifyIPNPaired(b *testing.B) {
	c := sandboxClient(b, nil)
	body := signIPN(sandboxAccess, sandboxSecret, typical())
	raw := []byte(NotificationRaw(sandboxAccess, typical()))
	n, err := c.VerifyIPN(body)
	if err != nil {
		b.Fatal(err)
	}
	sig, _ := hex.DecodeString(n.Signature)
	key := []byte(sandboxSecret)
	keyed := keyedmac.New(sha256.New, fingerprint.NewSecret(key))
	b.ReportAllocs()
	paymenttest.PairedKeyed(b, func() {
		if _, err := c.VerifyIPN(body); err != nil {
			b.Fatal(err)
		}
	}, func() {
		m := hmac.New(sha256.New, key)
		m.Write(raw)
		if !hmac.Equal(m.Sum(nil), sig) {
			b.Fatal("mismatch")
		}
	}, func() {
		if !keyed.Equal(raw, sig) {
			b.Fatal("mismatch")
		}
	})
}
