package main

import (
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/payment"
)

// TestNoSecretInOutput: the payment smoke test's secrets, printed with any
// fmt verb or logged through slog, show none of their bytes.
func TestNoSecretInOutput(t *testing.T) {
	cur, old := []byte("smoke-current-secret-E3r4t5y6"), []byte("smoke-previous-secret-I8o9p0a1")
	sec := smokeSecret{name: "VNPAY_HASH_SECRET", set: payment.SecretSet{Current: fingerprint.NewSecret(cur), Previous: fingerprint.NewSecret(old)}}
	s := smoke{secrets: []smokeSecret{sec}}
	for name, v := range map[string]any{"smokeSecret": sec, "smoke": s, "*smoke": &s, "[]any": []any{sec, &s}} {
		leakcheck.Check(t, name, v, cur, old)
	}
}
