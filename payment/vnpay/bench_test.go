package vnpay

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

// BenchmarkVerifyIPN verifies a typical IPN query (parse, re-encode, HMAC,
// compare, build the notification) next to the bare HMAC-SHA512 over the
// same canonical string with the hex compare, in the same run.
func BenchmarkVerifyIPN(b *testing.B) {
	c := demoClient(b, current(demoSecret), nil, vecCreateDate)
	query := signWith(demoSecret, ipnParams())
	canonical := []byte(HashData(ipnParams()))
	sig, _ := hex.DecodeString(query[len(query)-128:])
	b.Run("VerifyIPN", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(query)))
		for b.Loop() {
			if _, err := c.VerifyIPN(query); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-HMAC", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(query)))
		key := []byte(demoSecret)
		for b.Loop() {
			m := hmac.New(sha512.New, key)
			m.Write(canonical)
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
	c := demoClient(b, current(demoSecret), nil, vecCreateDate)
	query := signWith(demoSecret, ipnParams())
	canonical := []byte(HashData(ipnParams()))
	sig, _ := hex.DecodeString(query[len(query)-128:])
	key := []byte(demoSecret)
	keyed := keyedmac.New(sha512.New, fingerprint.NewSecret(key))
	b.ReportAllocs()
	paymenttest.PairedKeyed(b, func() {
		if _, err := c.VerifyIPN(query); err != nil {
			b.Fatal(err)
		}
	}, func() {
		m := hmac.New(sha512.New, key)
		m.Write(canonical)
		if !hmac.Equal(m.Sum(nil), sig) {
			b.Fatal("mismatch")
		}
	}, func() {
		if !keyed.Equal(canonical, sig) {
			b.Fatal("mismatch")
		}
	})
}
