package vnpay

import (
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/payment"
)

// TestNoSecretInOutput: a Client (and its Config) printed with any fmt verb
// or logged through slog shows none of its secrets in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	cur, old := []byte("vnpay-hash-current-T5y7u9"), []byte("vnpay-hash-previous-G2h4j6")
	cfg := Config{
		TmnCode:       "TMNTEST1",
		HashSecret:    payment.SecretSet{Current: fingerprint.NewSecret(cur), Previous: fingerprint.NewSecret(old), PreviousUntil: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)},
		NoIdempotency: true,
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	leakcheck.Check(t, "Config", cfg, cur, old)
	leakcheck.Check(t, "*Client", c, cur, old)
	leakcheck.Check(t, "Client", *c, cur, old)
	leakcheck.Check(t, "[]any", []any{c, *c, cfg}, cur, old)
}
