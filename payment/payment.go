// Package payment is the rotation-aware core shared by the provider packages
// (payment/vnpay, payment/momo, payment/zalopay) and the bank-transfer
// webhook package (payment/webhook): a secret set that accepts the previous
// secret until a deadline, constant-time HMAC verification against it, the
// errors every verifier returns, and an observer for metrics.
//
// A provider re-sends IPNs signed with the old secret for its retry window
// after a rotation (VNPay 24 h, MoMo 24 h, ZaloPay 48 h). A verifier given a
// SecretSet{Current, Previous, PreviousUntil} accepts such a callback and
// reports slot "previous", so a rotation no longer needs the runbook's
// checkout freeze and drain. Signing always uses Current. In incident mode the
// previous secret is refused at once.
//
//	// VNPAY_HASH_SECRET, VNPAY_HASH_SECRET_PREVIOUS, VNPAY_HASH_SECRET_PREVIOUS_UNTIL
//	set, err := payment.LoadSecretSet(secretenv.Env(), payment.NewSecretVars("VNPAY_HASH_SECRET"), secretenv.ProviderSecretRule)
//	slot, err := set.VerifyHex(sha512.New, canonical, sigHex, time.Now())
//
// Most code uses a provider package, which loads its sets, builds the
// canonical strings and wraps this in IPN handlers.
//
// Importing this package pulls in no database or Redis client.
package payment

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

// Retry windows: how long each provider keeps re-sending a callback signed
// with the old secret. They are the default PreviousUntil offsets.
const (
	VNPayRetryWindow   = 24 * time.Hour
	MoMoRetryWindow    = 24 * time.Hour
	ZaloPayRetryWindow = 48 * time.Hour
)

// UntilAfterRotation returns the end of the previous secret's acceptance
// for a rotation made at rotatedAt with a provider whose retry window is
// window: the PreviousUntil to configure. The provider packages offer it
// with their window filled in (vnpay.UntilAfterRotation, ...).
func UntilAfterRotation(rotatedAt time.Time, window time.Duration) time.Time {
	return rotatedAt.Add(window)
}

// SecretSet is one provider secret during a rotation.
type SecretSet struct {
	// Current signs and verifies. Required.
	Current fingerprint.Secret
	// Previous verifies only, until PreviousUntil. Optional.
	Previous fingerprint.Secret
	// PreviousUntil is the end of Previous's acceptance (exclusive). The zero
	// time means Previous is never accepted.
	PreviousUntil time.Time
	// Incident refuses Previous whatever PreviousUntil says: the old secret
	// is assumed burned (runbook §4.4).
	Incident bool
}

// Errors returned by verifiers, matched with errors.Is.
var (
	// ErrNoSecret: no current secret is configured. It is
	// secretenv.ErrMissing, so errors.Is matches either name whether the set
	// was refused at load (LoadSecretSet, a provider's LoadConfig) or when
	// built by hand and checked (Validate, New, a verify or sign call).
	ErrNoSecret = secretenv.ErrMissing
	// ErrSameSecret: the previous secret equals the current one. It is
	// secretenv.ErrDuplicate, so errors.Is matches either name on both paths
	// (LoadSecretSet, Validate).
	ErrSameSecret       = secretenv.ErrDuplicate
	ErrMissingSignature = errors.New("payment: signature missing")
	ErrMalformed        = errors.New("payment: malformed message")
	ErrDuplicateParam   = errors.New("payment: duplicate parameter")
	ErrBadSignature     = errors.New("payment: signature does not match")
	// ErrBadSignature is jwtkeys.ErrBadSignature's idea: no secret of the set
	// made the signature.
	// ErrRetiredKey is jwtkeys.ErrRetiredKey's: the signature was made with
	// the previous secret past its deadline (PreviousUntil), or in incident
	// mode, which refuses it at once.
	ErrRetiredKey   = errors.New("payment: signed with the previous secret after its deadline (retired)")
	ErrTimestamp    = errors.New("payment: timestamp outside the tolerance")
	ErrReplay       = errors.New("payment: message already processed")
	ErrBodyTooLarge = errors.New("payment: body too large")
	// ErrWrongMerchant: a correctly signed message names another merchant
	// (TmnCode, partnerCode, app_id) than the one configured.
	ErrWrongMerchant = errors.New("payment: message is for another merchant")

	// errNoCurrent is ErrNoSecret with the context a bare "required but not
	// set" lacks; built once, so a refused call allocates nothing.
	errNoCurrent = fmt.Errorf("payment: no current secret configured: %w", ErrNoSecret)
)

// Validate checks the set: Current present, Previous different from it.
func (s SecretSet) Validate() error {
	if s.Current.IsZero() {
		return errNoCurrent
	}
	if !s.Previous.IsZero() && s.Previous.Equal(s.Current) {
		return fmt.Errorf("payment: previous secret equals the current one (fp=%s): %w", s.Current.Fingerprint(), ErrSameSecret)
	}
	return nil
}

// PreviousLive reports whether Previous is accepted at now.
func (s SecretSet) PreviousLive(now time.Time) bool {
	return !s.Previous.IsZero() && !s.Incident && now.Before(s.PreviousUntil)
}

// VerifyMAC checks that sig is the HMAC of msg under the set at time now,
// with the hash function newHash. It tries Current, then Previous, comparing
// in constant time, and returns the slot that matched. A match with Previous
// outside its window is ErrRetiredKey, so the caller can tell a late
// retry from a forgery. Any other mismatch is ErrBadSignature.
func (s SecretSet) VerifyMAC(newHash func() hash.Hash, msg, sig []byte, now time.Time) (secretenv.Slot, error) {
	if len(sig) == 0 {
		return "", ErrMissingSignature
	}
	if s.Current.IsZero() {
		return "", errNoCurrent
	}
	var buf [64]byte
	if hmac.Equal(sum(newHash, s.Current, msg, buf[:0]), sig) {
		return secretenv.SlotCurrent, nil
	}
	if !s.Previous.IsZero() && hmac.Equal(sum(newHash, s.Previous, msg, buf[:0]), sig) {
		if s.PreviousLive(now) {
			return secretenv.SlotPrevious, nil
		}
		return "", ErrRetiredKey
	}
	return "", ErrBadSignature
}

// VerifyHex is VerifyMAC for a signature sent as hex, as VNPay, MoMo and
// ZaloPay do. Upper- and lowercase hex are both accepted; a signature that
// is not hex is ErrMalformed, an empty one ErrMissingSignature.
func (s SecretSet) VerifyHex(newHash func() hash.Hash, msg []byte, sigHex string, now time.Time) (secretenv.Slot, error) {
	if sigHex == "" {
		return "", ErrMissingSignature
	}
	var buf [64]byte
	if len(sigHex) > 2*len(buf) || len(sigHex)%2 != 0 {
		return "", fmt.Errorf("%w: signature is %d characters, want the %d hex digits of the MAC", ErrMalformed, len(sigHex), 2*newHash().Size())
	}
	n, err := hex.Decode(buf[:], []byte(sigHex))
	if err != nil {
		return "", fmt.Errorf("%w: signature is not hex", ErrMalformed)
	}
	return s.VerifyMAC(newHash, msg, buf[:n], now)
}

// SignHex returns the lowercase hex HMAC of msg under Current.
func (s SecretSet) SignHex(newHash func() hash.Hash, msg []byte) (string, error) {
	var buf [64]byte
	sum, err := s.Sign(newHash, msg, buf[:0])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum), nil
}

// MAC returns the HMAC of msg under key, appended to dst. It is the
// primitive under Sign and VerifyMAC, for verifiers whose message itself
// depends on the slot (MoMo puts the access key into the signed string).
func MAC(newHash func() hash.Hash, key fingerprint.Secret, msg, dst []byte) []byte {
	return sum(newHash, key, msg, dst)
}

// Sign returns the HMAC of msg under Current, appended to dst.
func (s SecretSet) Sign(newHash func() hash.Hash, msg, dst []byte) ([]byte, error) {
	if s.Current.IsZero() {
		return dst, errNoCurrent
	}
	return sum(newHash, s.Current, msg, dst), nil
}

func sum(newHash func() hash.Hash, key fingerprint.Secret, msg, dst []byte) []byte {
	m := hmac.New(newHash, key.Bytes())
	m.Write(msg)
	return m.Sum(dst)
}

// SecretVars names the variables a SecretSet is loaded from.
type SecretVars struct {
	Current  string // e.g. "VNPAY_HASH_SECRET"
	Previous string // e.g. "VNPAY_HASH_SECRET_PREVIOUS"; "" = no previous
	// PreviousUntil, e.g. "VNPAY_HASH_SECRET_PREVIOUS_UNTIL", holds an
	// RFC 3339 time. "" means Previous + "_UNTIL".
	PreviousUntil string
}

// NewSecretVars returns the conventional names for the secret current:
// current, current_PREVIOUS and current_PREVIOUS_UNTIL. A package's fixed
// set of names is a SecretVars variable named …Vars (webhook.Vars,
// webhook.CassoVars); this builds one from its argument, as New… does.
func NewSecretVars(current string) SecretVars {
	return SecretVars{Current: current, Previous: current + "_PREVIOUS", PreviousUntil: current + "_PREVIOUS_UNTIL"}
}

// Load errors.
var (
	// ErrNoDeadline: a previous secret is set without its acceptance deadline.
	// It is secretenv.ErrNoDeadline, so errors.Is matches either name.
	ErrNoDeadline = secretenv.ErrNoDeadline
	// ErrBadDeadline: the deadline is not an RFC 3339 time.
	// It is secretenv.ErrBadDeadline, so errors.Is matches either name.
	ErrBadDeadline = secretenv.ErrBadDeadline
)

// LoadSecretSet reads a SecretSet from src, validating each secret with rule
// through the shared env validation. When Previous is set, PreviousUntil must
// be set too (RFC 3339, e.g. the rotation time plus the provider's retry
// window): a deadline derived from the process start would move with every
// restart. Errors name variables and fingerprints, never values.
func LoadSecretSet(src secretenv.Source, vars SecretVars, rule secretenv.Rule) (SecretSet, error) {
	var s SecretSet
	var err error
	if s.Current, err = secretenv.Require(src, vars.Current, rule); err != nil {
		return SecretSet{}, err
	}
	if vars.Previous == "" {
		return s, nil
	}
	if s.Previous, err = secretenv.Load(src, vars.Previous, rule); err != nil {
		return SecretSet{}, err
	}
	if err := secretenv.Distinct(secretenv.Named{Var: vars.Current, Secret: s.Current}, secretenv.Named{Var: vars.Previous, Secret: s.Previous}); err != nil {
		return SecretSet{}, err
	}
	if s.Previous.IsZero() {
		return s, nil
	}
	until := vars.PreviousUntil
	if until == "" {
		until = vars.Previous + "_UNTIL"
	}
	raw, ok, err := src.Lookup(until)
	if err != nil {
		return SecretSet{}, err
	}
	if !ok || raw == "" {
		return SecretSet{}, fmt.Errorf("%w: %s is set, so set %s to the rotation time plus the provider's retry window", ErrNoDeadline, vars.Previous, until)
	}
	if s.PreviousUntil, err = time.Parse(time.RFC3339, raw); err != nil {
		return SecretSet{}, fmt.Errorf("%w: %s: want a time such as 2026-11-28T02:00:00+07:00", ErrBadDeadline, until)
	}
	return s, nil
}

// Reason says why a signature or an IPN was refused, as a metric label.
type Reason string

// Refusal reasons. Each is named for its error (ReasonBadSignature for
// ErrBadSignature, ...), and the ones jwtkeys shares carry its label:
// bad_signature, retired_key, malformed.
const (
	ReasonMissingSignature Reason = "missing_signature"
	ReasonMalformed        Reason = "malformed"
	ReasonBadSignature     Reason = "bad_signature"
	ReasonRetiredKey       Reason = "retired_key"
	ReasonDuplicateParam   Reason = "duplicate_param"
	ReasonTimestamp        Reason = "timestamp"
	ReasonReplay           Reason = "replay"
	ReasonBodyTooLarge     Reason = "body_too_large"
	ReasonMethod           Reason = "method"
	ReasonContentType      Reason = "content_type"
	ReasonCallback         Reason = "callback_error"
	ReasonNoSecret         Reason = "no_secret"
	ReasonWrongMerchant    Reason = "wrong_merchant"
)

// ReasonOf maps a verifier error to its Reason.
func ReasonOf(err error) Reason {
	switch {
	case errors.Is(err, ErrMissingSignature):
		return ReasonMissingSignature
	case errors.Is(err, ErrRetiredKey):
		return ReasonRetiredKey
	case errors.Is(err, ErrBadSignature):
		return ReasonBadSignature
	case errors.Is(err, ErrDuplicateParam):
		return ReasonDuplicateParam
	case errors.Is(err, ErrTimestamp):
		return ReasonTimestamp
	case errors.Is(err, ErrReplay):
		return ReasonReplay
	case errors.Is(err, ErrBodyTooLarge):
		return ReasonBodyTooLarge
	case errors.Is(err, ErrNoSecret):
		return ReasonNoSecret
	case errors.Is(err, ErrWrongMerchant):
		return ReasonWrongMerchant
	case errors.Is(err, ErrAmbiguousMismatch):
		return ReasonAmbiguousMismatch
	}
	return ReasonMalformed
}

// Observer is told about every verification. Implementations must be safe
// for concurrent use and fast (they run on the request path).
type Observer interface {
	// Verified: a signature from provider checked out with slot.
	Verified(provider string, slot secretenv.Slot)
	// SignatureFailed: a signature from provider was refused.
	SignatureFailed(provider string, reason Reason)
	// IPNRejected: an IPN/callback was answered with a refusal, for a
	// signature failure or another reason (method, content type, body).
	IPNRejected(provider string, reason Reason)
}

// NopObserver ignores everything.
type NopObserver struct{}

// OrNop returns o, or NopObserver when o is nil.
func OrNop(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}

func (NopObserver) Verified(string, secretenv.Slot) {}
func (NopObserver) SignatureFailed(string, Reason)  {}
func (NopObserver) IPNRejected(string, Reason)      {}
