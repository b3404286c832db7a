package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
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

// ErrReplayStore: the replay store could not be reached; with the default
// fail-closed policy the message is refused (the handler answers 503 so the
// sender retries later).
var ErrReplayStore = errors.New("webhook: replay store unavailable")

// ReasonReplayStore labels a refusal because the replay store failed.
const ReasonReplayStore payment.Reason = "replay_store_unavailable"

// LoadSecretSet reads BANK_TRANSFER_WEBHOOK_SECRET, its _PREVIOUS and
// _PREVIOUS_UNTIL from src with secretenv.HMACRule (at least 32 bytes) and
// checks that each value is a Standard Webhooks secret (see Key), or, with
// WithRawSecrets among opts, takes unprefixed values as raw bytes. Errors
// name the variable and the fingerprint, never the value.
func LoadSecretSet(src secretenv.Source, opts ...Option) (payment.SecretSet, error) {
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
	now       func() time.Time
	tolerance time.Duration
	obs       payment.Observer
	maxBody   int64
	replay    ReplayStore
	failOpen  bool
	log       *slog.Logger
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

// WithRawSecrets makes the Signer, Verifier and LoadSecretSet use a
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
// also disables replay protection by time: only do it with a ReplayStore.
func WithTolerance(d time.Duration) Option { return func(c *config) { c.tolerance = d } }

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

// WithReplayStore enables replay protection. The Verifier claims each
// webhook-id (Verify refuses an id already claimed); the Casso and PayOS
// handlers claim the signed content. Claims last 2×tolerance + 1 minute
// (the longest time a message stays inside the timestamp window; PayOS,
// which has no timestamp, PayOSReplayTTL). See redisreplay for a Redis
// store.
func WithReplayStore(s ReplayStore) Option { return func(c *config) { c.replay = s } }

// WithReplayFailOpen accepts messages when the replay store fails: the
// error is logged at level ERROR (it is not counted as a rejection, since
// the message goes through). The default is fail closed: ErrReplayStore,
// answered 503 and reported as IPNRejected with ReasonReplayStore.
func WithReplayFailOpen() Option { return func(c *config) { c.failOpen = true } }

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

// contentKey names signed content in a replay store: the provider and
// the SHA-256 of the signed string.
func contentKey(provider string, signed []byte) string {
	sum := sha256.Sum256(signed)
	return provider + ":" + hex.EncodeToString(sum[:16])
}

// replayTTL is how long content stays in the replay store: a message is
// accepted from ts-tolerance to ts+tolerance, plus a minute of margin.
func (c *config) replayTTL() time.Duration {
	if c.tolerance <= 0 {
		return 24 * time.Hour
	}
	return 2*c.tolerance + time.Minute
}

// slotOf applies the SecretSet rules to which key matched.
func slotOf(set *payment.SecretSet, cur, prev bool, now time.Time) (payment.Slot, error) {
	switch {
	case cur:
		return payment.SlotCurrent, nil
	case prev && set.PreviousLive(now):
		return payment.SlotPrevious, nil
	case prev:
		return "", payment.ErrPreviousExpired
	}
	return "", payment.ErrSignatureMismatch
}
