package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/secretenv"
)

// Provider names reported to the payment.Observer (the metric label).
const (
	ProviderBank  = "bank_webhook"
	ProviderCasso = "casso"
	ProviderPayOS = "payos"
)

// Limits.
const (
	// DefaultTolerance is how far a message timestamp may be from now, in
	// either direction (Standard Webhooks reference libraries use 5 minutes).
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBody caps request bodies read by the handlers.
	DefaultMaxBody = 1 << 20
	// MaxIDLen caps webhook-id.
	MaxIDLen = 256
	// MaxSignatureHeaderLen caps webhook-signature and X-Casso-Signature
	// (room for dozens of entries; a rotation needs two).
	MaxSignatureHeaderLen = 4096
)

// Vars are the variables of our own webhook secret. The previous secret
// needs its deadline (RFC 3339) so a restart does not move it.
var Vars = payment.SecretVars{
	Current:       "BANK_TRANSFER_WEBHOOK_SECRET",
	Previous:      "BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS",
	PreviousUntil: "BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL",
}

// CassoVars and PayOSVars are the variables of the notifiers' keys, which
// they issue. Load them with
//
//	set, err := payment.LoadSecretSet(secretenv.Env(), webhook.PayOSVars, secretenv.ProviderSecretRule)
//
// A notifier re-sends for a while after we switch keys; set
// *_PREVIOUS_UNTIL to the switch time plus its retry window.
var (
	CassoVars = payment.SecretVars{
		Current:       "CASSO_WEBHOOK_SECRET",
		Previous:      "CASSO_WEBHOOK_SECRET_PREVIOUS",
		PreviousUntil: "CASSO_WEBHOOK_SECRET_PREVIOUS_UNTIL",
	}
	PayOSVars = payment.SecretVars{
		Current:       "PAYOS_CHECKSUM_KEY",
		Previous:      "PAYOS_CHECKSUM_KEY_PREVIOUS",
		PreviousUntil: "PAYOS_CHECKSUM_KEY_PREVIOUS_UNTIL",
	}
)

// ErrBadSecret: a Standard Webhooks secret is not standard base64 of 24 to
// 64 bytes (after an optional "whsec_" prefix). A secret deployed before
// this library followed the spec, used as raw bytes, needs WithRawSecrets.
var ErrBadSecret = errors.New("webhook: Standard Webhooks secret must be \"whsec_\" + standard base64 of 24 to 64 bytes (rotate keygen webhook); for a raw secret deployed earlier use webhook.WithRawSecrets")

// LoadSecrets reads BANK_TRANSFER_WEBHOOK_SECRET, its _PREVIOUS and
// _PREVIOUS_UNTIL from src with secretenv.HMACRule (at least 32 bytes) and
// checks that each value is a Standard Webhooks secret (see Key), or, with
// WithRawSecrets among opts, takes unprefixed values as raw bytes. Errors
// name the variable and the fingerprint, never the value.
func LoadSecrets(src secretenv.Source, opts ...Option) (payment.SecretSet, error) {
	set, err := payment.LoadSecretSet(src, Vars, secretenv.HMACRule)
	if err != nil {
		return payment.SecretSet{}, err
	}
	if _, err := keySet(set, newConfig(opts).rawSecrets); err != nil {
		return payment.SecretSet{}, err
	}
	return set, nil
}

// SecretPrefix starts a Standard Webhooks secret ("rotate keygen webhook"
// prints it).
const SecretPrefix = "whsec_"

// Key returns the HMAC key a Standard Webhooks secret stands for, as the
// spec and its reference libraries (npm standardwebhooks, svix) read it:
// the standard base64 decoding of the value after an optional "whsec_"
// prefix, 24 to 64 bytes; anything else is ErrBadSecret.
func Key(secret fingerprint.Secret) (fingerprint.Secret, error) { return key(secret, false) }

// key is Key; with raw, a value without the prefix is the raw key bytes
// (WithRawSecrets).
func key(secret fingerprint.Secret, raw bool) (fingerprint.Secret, error) {
	b := secret.Bytes()
	text, prefixed := strings.CutPrefix(string(b), SecretPrefix)
	if raw && !prefixed {
		return secret, nil
	}
	k, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(k) < 24 || len(k) > 64 {
		return fingerprint.Secret{}, fmt.Errorf("%w (fp=%s)", ErrBadSecret, secret.Fingerprint())
	}
	return fingerprint.NewSecret(k), nil
}

func keySet(set payment.SecretSet, raw bool) (payment.SecretSet, error) {
	if err := set.Validate(); err != nil {
		return payment.SecretSet{}, err
	}
	var err error
	if set.Current, err = key(set.Current, raw); err != nil {
		return payment.SecretSet{}, err
	}
	if !set.Previous.IsZero() {
		if set.Previous, err = key(set.Previous, raw); err != nil {
			return payment.SecretSet{}, err
		}
	}
	return set, set.Validate() // whsec_X and raw X could be the same key
}

// Option configures a Signer, Verifier, Casso or PayOS. Options that do not
// apply to one of them are ignored by it.
type Option func(*config)

type config struct {
	now          func() time.Time
	tolerance    time.Duration
	obs          payment.Observer
	maxBody      int64
	store        payment.IdempotencyStore
	noIdem       bool
	failOpen     bool
	toleranceSet bool
	payos        *PayOSClient
	log          *slog.Logger
	// rawSecrets: Standard Webhooks secrets without "whsec_" are raw bytes.
	rawSecrets bool
}

func newConfig(opts []Option) config {
	c := config{now: time.Now, tolerance: DefaultTolerance, obs: payment.NopObserver{}, maxBody: DefaultMaxBody, log: slog.Default()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithRawSecrets makes the Signer, Verifier and LoadSecrets use a
// Standard Webhooks secret without the "whsec_" prefix as raw bytes, as
// this package did before it followed the spec. It exists only for secrets
// deployed that way: such a secret is a different key for the reference
// libraries, so receivers and senders that use them refuse our signatures.
// Migrate by rotating to a "rotate keygen webhook" secret (whsec_…) with
// the usual overlap; whsec_ values are decoded even with this option, so
// the current whsec_ and the previous raw secret verify side by side.
func WithRawSecrets() Option { return func(c *config) { c.rawSecrets = true } }

// WithClock sets the clock (tests, drills). Default time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithTolerance sets how far a timestamp may be from now in either
// direction (default 5 minutes). Zero or less disables the check, which
// also disables replay protection by time: only do it with an idempotency store.
func WithTolerance(d time.Duration) Option {
	return func(c *config) { c.tolerance, c.toleranceSet = d, true }
}

// WithObserver reports verifications and refusals (default: none).
func WithObserver(o payment.Observer) Option {
	return func(c *config) {
		if o != nil {
			c.obs = o
		}
	}
}

// WithMaxBody caps the request body the handlers read (default 1 MiB).
func WithMaxBody(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithIdempotencyStore de-duplicates deliveries: the handlers run their
// callback at most once per message (Standard Webhooks: webhook-id; Casso:
// the transaction's data.id; PayOS: orderCode and reference) and answer a
// repeat 200 {"success":true,"duplicate":true} without calling it.
// NewVerifier, NewCasso and NewPayOS require it or WithoutIdempotency.
// See payment.IdempotencyStore, payment/idemredis, payment/idempg.
func WithIdempotencyStore(s payment.IdempotencyStore) Option {
	return func(c *config) { c.store = s }
}

// WithoutIdempotency opts out of de-duplication explicitly: every delivery
// reaches the callback, which must then de-duplicate by itself (inside the
// timestamp tolerance a Standard Webhooks or Casso replay verifies again;
// a PayOS webhook, which has no timestamp, verifies forever).
func WithoutIdempotency() Option { return func(c *config) { c.noIdem = true } }

// WithIdempotencyFailOpen runs the callback when the idempotency store fails:
// the error is logged at level ERROR (it is not counted as a rejection,
// since the message goes through). The default is fail closed:
// answered 503 and reported as IPNRejected with payment.ReasonStoreUnavailable.
func WithIdempotencyFailOpen() Option { return func(c *config) { c.failOpen = true } }

// WithLogger sets where operational errors (a replay store outage, a
// callback error) are logged. Default slog.Default(). Secrets are never
// logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// inWindow reports whether ts is within the tolerance of now.
func (c *config) inWindow(ts, now time.Time) bool {
	if c.tolerance <= 0 {
		return true
	}
	d := now.Sub(ts)
	return d <= c.tolerance && d >= -c.tolerance
}

// checkIdempotency is the constructors' requirement.
func (c *config) checkIdempotency() error {
	if c.store == nil && !c.noIdem {
		return fmt.Errorf("%w (webhook.WithIdempotencyStore or webhook.WithoutIdempotency)", payment.ErrNoIdempotencyStore)
	}
	return nil
}

// guard is the idempotency guard of a handler for provider.
func (c *config) guard(provider string) idem.Guard {
	return idem.Guard{Provider: provider, Store: c.store, FailOpen: c.failOpen, Log: c.log}
}

// slotOf applies the SecretSet rules to which key matched.
func slotOf(set *payment.SecretSet, cur, prev bool, now time.Time) (secretenv.Slot, error) {
	switch {
	case cur:
		return secretenv.SlotCurrent, nil
	case prev && set.PreviousLive(now):
		return secretenv.SlotPrevious, nil
	case prev:
		return "", payment.ErrRetiredKey
	}
	return "", payment.ErrBadSignature
}
