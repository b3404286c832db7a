package zalopay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

// BenchmarkVerifyCallback verifies a typical order callback (envelope
// decode, HMAC over data, compare, data decode) next to the bare
// HMAC-SHA256 over the same data string with the compare, in the same run.
func BenchmarkVerifyCallback(b *testing.B) {
	c := sandboxClient(b, nil)
	body := callbackBody(sandboxKey2, typical())
	cb, err := c.VerifyCallback(body)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(cb.Data)
	m := hmac.New(sha256.New, []byte(sandboxKey2))
	m.Write(data)
	sig, _ := hex.DecodeString(hex.EncodeToString(m.Sum(nil)))
	b.Run("VerifyCallback", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := c.VerifyCallback(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-HMAC", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		key := []byte(sandboxKey2)
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(data)
			if !hmac.Equal(m.Sum(nil), sig) {
				b.Fatal("mismatch")
			}
		}
	})
}

// BenchmarkVerifyCallbackPaired is BenchmarkVerifyCallback with both sides
// interleaved (see paymenttest.PairedKeyed): x-bare is the ratio to compare;
// x-keyed is verify over the same HMAC with its key's pads hashed once, as
// the verifiers do, so it is what verifying costs beyond the HMAC itself.
// The baseline is the floor any verifier pays: HMAC of the signed string
// (already built: the parsing and canonicalisation that build it from the
// notification are what the verify side adds) and a constant-time
// compare against the notification's own signature, decoded beforehand.
// Comparing with the signature the notification carries proves both sides
// work on the same signed string.
func BenchmarkVerifyCallbackPaired(b *testing.B) {
	c := sandboxClient(b, nil)
	body := callbackBody(sandboxKey2, typical())
	cb, err := c.VerifyCallback(body)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(cb.Data)
	var env struct{ Mac string }
	_ = json.Unmarshal(body, &env)
	sig, _ := hex.DecodeString(env.Mac)
	key := []byte(sandboxKey2)
	keyed := keyedmac.New(sha256.New, fingerprint.NewSecret(key))
	b.ReportAllocs()
	paymenttest.PairedKeyed(b, func() {
		if _, err := c.VerifyCallback(body); err != nil {
			b.Fatal(err)
		}
	}, func() {
		m := hmac.New(sha256.New, key)
		m.Write(data)
		if !hmac.Equal(m.Sum(nil), sig) {
			b.Fatal("mismatch")
		}
	}, func() {
		if !keyed.Equal(data, sig) {
			b.Fatal("mismatch")
		}
	})
}
