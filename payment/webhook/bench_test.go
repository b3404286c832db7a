package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

// BenchmarkVerify verifies a typical delivery of each format next to the
// bare HMAC over the same signed string (the floor: what any verifier must
// spend), in one run:
//
//	go test -run '^$' -bench BenchmarkVerify -benchmem ./payment/webhook/
func BenchmarkVerify(b *testing.B) {
	payload := []byte(`{"type":"transfer.received","timestamp":"2026-11-27T09:00:00Z","data":{"id":218897,"reference":"FT24364030863634","description":"Thanh toan don hang 42","amount":599000,"accountNumber":"123456789","bankName":"MBBank","counterAccountName":"NGUYEN VAN A","transactionDateTime":"2026-11-27 16:00:00"}}`)
	b.Run("standard/verify", func(b *testing.B) {
		s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
		v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
		sig := must(s.Sign("msg_2Kd8Lq0x", t0, payload))
		ts := itoa(t0.Unix())
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyParts("msg_2Kd8Lq0x", ts, sig, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standard/verify-rotation-previous", func(b *testing.B) {
		s := must(NewSigner(payment.SecretSet{Current: secret(oldSecret)}))
		v := must(NewVerifier(rotating(), WithoutIdempotency(), WithClock(fixed(t0))))
		sig := must(s.Sign("msg_2Kd8Lq0x", t0, payload))
		ts := itoa(t0.Unix())
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyParts("msg_2Kd8Lq0x", ts, sig, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standard/bare-hmac", func(b *testing.B) {
		msg := append([]byte("msg_2Kd8Lq0x."+itoa(t0.Unix())+"."), payload...)
		b.SetBytes(int64(len(payload)))
		bareHMAC(b, sha256.New, []byte(newSecret), msg)
	})

	b.Run("casso/verify", func(b *testing.B) {
		c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt))))
		body := []byte(cassoSampleBody)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Verify(cassoSampleHeader, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("casso/bare-hmac", func(b *testing.B) {
		root := must(parseJSON([]byte(cassoSampleBody)))
		b.SetBytes(int64(len(cassoSampleBody)))
		bareHMAC(b, sha512.New, []byte(cassoSampleKey), cassoMessage(nil, "1727948258788", &root))
	})

	b.Run("payos/verify", func(b *testing.B) {
		p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency(), WithClock(fixed(t0))))
		body := []byte(payosSampleBody)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Verify(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("payos/bare-hmac", func(b *testing.B) {
		root := must(parseJSON([]byte(payosSampleBody)))
		data, _ := root.get("data")
		msg, _, _, _ := payosCanon(nil, &data)
		b.SetBytes(int64(len(payosSampleBody)))
		bareHMAC(b, sha256.New, []byte(payosSampleKey), msg)
	})
}

// bareHMAC is the baseline: HMAC of the already-built signed string and a
// constant-time compare, nothing else.
func bareHMAC(b *testing.B, h func() hash.Hash, key, msg []byte) {
	m := hmac.New(h, key)
	m.Write(msg)
	want := m.Sum(nil)
	var buf [64]byte
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(h, key)
		m.Write(msg)
		if !hmac.Equal(m.Sum(buf[:0]), want) {
			b.Fatal("mismatch")
		}
	}
}

// BenchmarkVerifyPaired is BenchmarkVerify with each provider's two sides
// interleaved (see paymenttest.PairedKeyed): x-bare is the ratio to compare;
// x-keyed is verify over the same HMAC with its key's pads hashed once, as
// the verifiers do, so it is what verifying costs beyond the HMAC itself.
// The baseline is the floor any verifier pays: HMAC of the signed string
// (already built: the parsing and canonicalisation that build it from the
// notification are what the verify side adds) and a constant-time
// compare against the notification's own signature, decoded beforehand.
// Comparing with the signature the notification carries proves both sides
// work on the same signed string.
func BenchmarkVerifyPaired(b *testing.B) {
	bare := func(h func() hash.Hash, key, msg, want []byte) func() {
		var buf [64]byte
		return func() {
			m := hmac.New(h, key)
			m.Write(msg)
			if !hmac.Equal(m.Sum(buf[:0]), want) {
				b.Fatal("mismatch")
			}
		}
	}
	// keyed is bare with the key's pads hashed once (x-keyed).
	keyed := func(h func() hash.Hash, key, msg, want []byte) func() {
		m := keyedmac.New(h, fingerprint.NewSecret(key))
		return func() {
			if !m.Equal(msg, want) {
				b.Fatal("mismatch")
			}
		}
	}
	b.Run("standard", func(b *testing.B) {
		v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
		s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
		payload := []byte(body)
		sig := must(s.Sign("msg_2Kd8Lq0x", t0, payload))
		ts := itoa(t0.Unix())
		key := must(Key(secret(newSecret)))
		b.ReportAllocs()
		msg, want := append([]byte("msg_2Kd8Lq0x."+ts+"."), payload...), must(base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,")))
		paymenttest.PairedKeyed(b, func() {
			if _, err := v.VerifyParts("msg_2Kd8Lq0x", ts, sig, payload); err != nil {
				b.Fatal(err)
			}
		}, bare(sha256.New, key.Bytes(), msg, want), keyed(sha256.New, key.Bytes(), msg, want))
	})
	b.Run("casso", func(b *testing.B) {
		c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt))))
		body := []byte(cassoSampleBody)
		root := must(parseJSON(body))
		b.ReportAllocs()
		msg, want := cassoMessage(nil, "1727948258788", &root), must(hex.DecodeString(cassoSampleHeader[strings.Index(cassoSampleHeader, "v1=")+3:]))
		paymenttest.PairedKeyed(b, func() {
			if _, err := c.Verify(cassoSampleHeader, body); err != nil {
				b.Fatal(err)
			}
		}, bare(sha512.New, []byte(cassoSampleKey), msg, want), keyed(sha512.New, []byte(cassoSampleKey), msg, want))
	})
	b.Run("payos", func(b *testing.B) {
		p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency(), WithClock(fixed(t0))))
		body := []byte(payosSampleBody)
		root := must(parseJSON(body))
		data, _ := root.get("data")
		msg, _, _, _ := payosCanon(nil, &data)
		b.ReportAllocs()
		want := must(hex.DecodeString(payosSampleBody[strings.Index(payosSampleBody, `"signature":"`)+13:][:64]))
		paymenttest.PairedKeyed(b, func() {
			if _, err := p.Verify(body); err != nil {
				b.Fatal(err)
			}
		}, bare(sha256.New, []byte(payosSampleKey), msg, want), keyed(sha256.New, []byte(payosSampleKey), msg, want))
	})
}
