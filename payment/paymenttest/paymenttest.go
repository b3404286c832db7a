// Package paymenttest is a test kit for services that receive payment
// notifications through package payment: for each provider it holds a
// merchant's secrets mid-rotation (current, previous with its acceptance
// window, and one the merchant never had), gives the Config the service
// builds its client from, and builds the signed request the provider would
// send (VNPay IPN, MoMo IPN, ZaloPay callback, Standard Webhooks, Casso and
// PayOS webhooks), so a consumer tests its handler end to end with
// net/http/httptest.
//
// The common path, in a consumer's _test.go:
//
//	vp := paymenttest.NewVNPay(t)
//	client, _ := vnpay.New(vp.Config())                  // what the service does with its env
//	h := client.IPNHandler(myConfirmOrder)
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, vp.IPN(t, paymenttest.VNPayIPN{TxnRef: "42", Amount: 599000, Signer: paymenttest.Previous}))
//	got := paymenttest.VNPayAnswer(t, rec)               // vnpay.ConfirmSuccess, …
//
// Every kit starts its clock at Start and accepts the previous secret until
// Start + Window; Clock.Advance(Window) puts a test after the window. Configs
// carry an in-memory idempotency store (payment.MemoryStore), so a repeated
// delivery gets the provider's "already processed" answer as in production.
package paymenttest

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
)

// Signer says which secret signs a notification the kit builds.
type Signer int

const (
	// Current is the merchant's current secret: always accepted.
	Current Signer = iota
	// Previous is the secret the merchant rotated away from: accepted until
	// the end of its window (Start + Window), refused after.
	Previous
	// Unknown is a secret the merchant never had: always refused.
	Unknown
)

func (s Signer) String() string {
	switch s {
	case Current:
		return "current"
	case Previous:
		return "previous"
	case Unknown:
		return "unknown"
	}
	return "Signer(?)"
}

// Start is when every kit's clock starts: fixed, so outputs are stable.
var Start = time.Date(2030, 1, 15, 2, 0, 0, 0, time.UTC) // 09:00 in Vietnam

// Window is how long after Start the previous secret is accepted.
const Window = 24 * time.Hour

// Clock is a settable clock, safe for concurrent use; kits pass Clock.Now as
// the Config's clock.
type Clock struct{ ns atomic.Int64 }

func newClock() *Clock {
	c := &Clock{}
	c.ns.Store(Start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Keys are one provider secret during a rotation.
type Keys struct {
	Current, Previous, Unknown fingerprint.Secret
}

func newKeys(t testing.TB) Keys {
	t.Helper()
	return Keys{Current: randomSecret(t), Previous: randomSecret(t), Unknown: randomSecret(t)}
}

// Set is the SecretSet a service configured mid-rotation holds: current,
// and previous until Start + Window.
func (k Keys) Set() payment.SecretSet {
	return payment.SecretSet{Current: k.Current, Previous: k.Previous, PreviousUntil: Start.Add(Window)}
}

// only is a SecretSet whose current secret is the one s names: the
// provider's side, signing with that secret.
func (k Keys) only(s Signer) payment.SecretSet {
	switch s {
	case Previous:
		return payment.SecretSet{Current: k.Previous}
	case Unknown:
		return payment.SecretSet{Current: k.Unknown}
	}
	return payment.SecretSet{Current: k.Current}
}

// randomSecret returns 32 random upper-case hex characters, the shape of
// VNPay's and MoMo's secrets.
func randomSecret(t testing.TB) fingerprint.Secret {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("paymenttest: random: %v", err)
	}
	return fingerprint.NewSecret([]byte(hexUpper(b)))
}

func hexUpper(b []byte) string {
	s := []byte(hex.EncodeToString(b))
	for i, c := range s {
		if c >= 'a' && c <= 'f' {
			s[i] = c - 'a' + 'A'
		}
	}
	return string(s)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("paymenttest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
