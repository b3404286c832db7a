package webhook

import (
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/payment"
)

// TestNoSecretInOutput: every signer, verifier and client of the package,
// printed with any fmt verb or logged through slog, shows none of its
// secrets in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	cur, old := []byte("webhook-current-secret-Z8x6c4"), []byte("webhook-previous-secret-V3b5n7")
	apiKey := []byte("payos-api-key-secret-L1k9j8")
	set := payment.SecretSet{Current: fingerprint.NewSecret(cur), Previous: fingerprint.NewSecret(old), PreviousUntil: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)}
	secrets := [][]byte{cur, old, apiKey}

	signer := must(NewSigner(set, WithRawSecrets()))
	verifier := must(NewVerifier(set, WithRawSecrets(), WithoutIdempotency()))
	casso := must(NewCasso(set, WithoutIdempotency()))
	payos := must(NewPayOS(set, WithoutIdempotency()))
	client := must(NewPayOSClient(PayOSAPIURL, "client-id", fingerprint.NewSecret(apiKey), set, nil))
	for name, v := range map[string]any{
		"*Signer": signer, "Signer": *signer,
		"*Verifier": verifier, "Verifier": *verifier,
		"*Casso": casso, "Casso": *casso,
		"*PayOS":       payos,
		"*PayOSClient": client, "PayOSClient": *client,
		"SecretSet.Redacted": set.Redacted(),
		"[]any":              []any{signer, verifier, casso, payos, client},
	} {
		leakcheck.Check(t, name, v, secrets...)
	}
}
