package keyedmac

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/payment"
)

// TestNoSecretInOutput: a MAC and a Set, printed with any fmt verb or
// logged through slog, show none of their keys in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	cur, old := []byte("keyedmac-current-secret-P0o9i8"), []byte("keyedmac-previous-secret-U7y6t5")
	set := payment.SecretSet{Current: fingerprint.NewSecret(cur), Previous: fingerprint.NewSecret(old), PreviousUntil: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)}
	m := New(sha256.New, set.Current)
	s := NewSet(sha256.New, set)
	for name, v := range map[string]any{"*MAC": m, "*Set": s, "Set": *s, "[]any": []any{m, s}} {
		leakcheck.Check(t, name, v, cur, old)
	}
}
