package momo

import (
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/payment"
)

// TestNoSecretInOutput: a Client (and its Config) printed with any fmt verb
// or logged through slog shows none of its keys in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	ak, akOld := []byte("momo-access-current-J8d2"), []byte("momo-access-previous-K3s5")
	sk, skOld := []byte("momo-secret-current-H6f1"), []byte("momo-secret-previous-N9b4")
	until := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	cfg := Config{
		PartnerCode:   "MOMOTEST",
		AccessKey:     payment.SecretSet{Current: fingerprint.NewSecret(ak), Previous: fingerprint.NewSecret(akOld), PreviousUntil: until},
		SecretKey:     payment.SecretSet{Current: fingerprint.NewSecret(sk), Previous: fingerprint.NewSecret(skOld), PreviousUntil: until},
		NoIdempotency: true,
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{ak, akOld, sk, skOld}
	leakcheck.Check(t, "Config", cfg, secrets...)
	leakcheck.Check(t, "*Client", c, secrets...)
	leakcheck.Check(t, "Client", *c, secrets...)
	leakcheck.Check(t, "[]any", []any{c, *c, cfg}, secrets...)
}
