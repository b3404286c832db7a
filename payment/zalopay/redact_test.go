package zalopay

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
	k1, k1old := []byte("zalo-key1-current-Q7x9"), []byte("zalo-key1-previous-M2v8")
	k2, k2old := []byte("zalo-key2-current-R4t6"), []byte("zalo-key2-previous-W1p3")
	until := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	cfg := Config{
		AppID:         2553,
		Key1:          payment.SecretSet{Current: fingerprint.NewSecret(k1), Previous: fingerprint.NewSecret(k1old), PreviousUntil: until},
		Key2:          payment.SecretSet{Current: fingerprint.NewSecret(k2), Previous: fingerprint.NewSecret(k2old), PreviousUntil: until},
		NoIdempotency: true,
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{k1, k1old, k2, k2old}
	leakcheck.Check(t, "Config", cfg, secrets...)
	leakcheck.Check(t, "*Config", &cfg, secrets...)
	leakcheck.Check(t, "*Client", c, secrets...)
	leakcheck.Check(t, "Client", *c, secrets...)
	leakcheck.Check(t, "[]any", []any{c, *c, cfg}, secrets...)
}
