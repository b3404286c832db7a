// Package webhook signs and verifies bank-transfer webhooks in a way that
// survives secret rotation (runbook §4, BANK_TRANSFER_WEBHOOK_SECRET).
//
// Three formats are covered:
//
//   - Standard Webhooks (https://www.standardwebhooks.com, spec v1): our own
//     format, for webhooks we send and receive with our own secret. Headers
//     webhook-id, webhook-timestamp (unix seconds) and webhook-signature, a
//     space-separated list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
//     Because we own the secret, a rotation overlaps: while the previous
//     secret is live the [Signer] signs every message with both secrets, so
//     receivers that still know only the old secret and receivers that
//     already have the new one all accept it. The [Verifier] accepts any
//     matching v1 entry, ignores other versions (v1a, v2), checks the
//     timestamp within 5 minutes both ways; its Handler de-duplicates by
//     webhook-id.
//   - Casso webhook v2 ([Casso]): X-Casso-Signature: t=<ms>,v1=<hex
//     HMAC-SHA512 of t + "." + the body as key-sorted compact JSON>.
//   - PayOS ([PayOS]): "signature" = hex HMAC-SHA256 of the body's "data"
//     object as key=value pairs, sorted by key, joined with "&".
//
// Every handler runs its callback under a claim in a
// [payment.IdempotencyStore] keyed on the message's identity (webhook-id;
// Casso's transaction id; PayOS's orderCode and reference), so a retried
// or replayed delivery reaches the application once; the constructors
// require [WithIdempotencyStore] (payment/idemredis, payment/idempg) or
// the explicit [WithoutIdempotency].
//
// Every verifier takes a [payment.SecretSet]: Current always verifies;
// Previous verifies until PreviousUntil and never in incident mode; the
// slot that matched is reported to the [payment.Observer] under the
// provider names "bank_webhook", "casso" and "payos".
//
// The common path, receiving our own webhooks:
//
//	set, err := webhook.LoadSecrets(secretenv.Env()) // BANK_TRANSFER_WEBHOOK_SECRET[_PREVIOUS[_UNTIL]]
//	v, err := webhook.NewVerifier(set, webhook.WithObserver(obs),
//		webhook.WithIdempotencyStore(idemredis.New(rdb, "bank-webhook:")))
//	mux.Handle("POST /webhooks/bank", v.Handler(func(ctx context.Context, m webhook.Message) error {
//		return credit(ctx, m.ID, m.Body) // m.Body is exactly the signed bytes
//	}))
//
// and sending them:
//
//	s, err := webhook.NewSigner(set)
//	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
//	err = s.SignRequest(req, msgID, body) // sets the three headers
//
// # Secrets
//
// Our own secret is a Standard Webhooks secret, read as the spec and its
// reference libraries (npm standardwebhooks, svix) read it: the value after
// an optional "whsec_" prefix is standard base64, and the decoded bytes (24
// to 64) are the HMAC key. "rotate keygen webhook" prints "whsec_" + base64
// of 48 random bytes. A secret deployed raw by an earlier version (its
// characters were the key bytes) keeps working only with [WithRawSecrets];
// see the migration note in docs/rotation-procedures.md. Secrets are
// validated at load and never appear in an error or a log line (only
// fingerprints do). Casso's and
// PayOS's keys are issued by them and used as raw bytes, as their samples do.
//
// Importing this package pulls in no database or Redis client.
package webhook
