package secretenv

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/goodgo/rotation/fingerprint"
)

// Var is one environment variable of a secret class.
type Var struct {
	Name     string
	Rule     Rule
	Required bool
	// Identifier marks a variable that names an account rather than holding
	// a secret (VNPAY_TMN_CODE, MOMO_PARTNER_CODE, ZALOPAY_APP_ID). It is
	// still only shown by fingerprint.
	Identifier bool
	// Until, for a payment *_PREVIOUS secret, names the variable holding
	// the RFC 3339 time until which it is accepted (*_PREVIOUS_UNTIL), as
	// payment.SecretVars.PreviousUntil does; Finding.Until is its value.
	// When the secret is set, this deadline must be set too.
	Until string
}

// Class is one row of the runbook's §1 inventory.
type Class struct {
	// ID is the short name the CLI uses: "jwt", "field", "vnpay", … For a
	// class whose secrets this module generates it is also the keygen.Class
	// that generates them ("rotate keygen jwt"); the classes missing from
	// keygen.Classes are issued by their provider.
	ID          string
	Name        string // "JWT signing keys"
	Vars        []Var
	Cadence     string
	BlastRadius string
	Owner       string
}

// The per-class rules, shared by the packages that load these secrets.
var (
	// HMACRule: JWT and webhook secrets; used as raw bytes, at least 32
	// (RFC 7518 §3.2: a key at least the size of the hash output).
	HMACRule = Rule{Encoding: Raw, MinLen: 32}
	// FieldKeyRule: FIELD_ENCRYPTION_KEY, standard base64 of exactly 32 bytes.
	FieldKeyRule = Rule{Encoding: Base64, ExactLen: 32}
	// FieldKeyListRule: FIELD_ENCRYPTION_KEY_PREVIOUS, one or more keys.
	FieldKeyListRule = Rule{Encoding: Base64, ExactLen: 32, List: true}
	// ProviderSecretRule: keys issued by a payment or OAuth provider.
	ProviderSecretRule = Rule{Encoding: Raw, MinLen: 16}
	// AccessKeyRule: MoMo's accessKey, signed into messages but not the HMAC
	// key; MoMo issues 13-16 characters (the sandbox's is 13).
	AccessKeyRule = Rule{Encoding: Raw, MinLen: 8}
	// IdentifierRule: account identifiers that must merely be present.
	IdentifierRule = Rule{Encoding: Raw, MinLen: 1}
	// DatabaseURLRule: DATABASE_URL, which must carry a password.
	DatabaseURLRule = Rule{Encoding: URLPassword, MinLen: 16}
	// RedisURLRule: REDIS_URL; its password may instead be in REDIS_PASSWORD.
	RedisURLRule = Rule{Encoding: URLPassword, MinLen: 16, PasswordOptional: true}
	// PasswordRule: a bare password (REDIS_PASSWORD).
	PasswordRule = Rule{Encoding: Raw, MinLen: 16}
)

// Inventory returns the runbook's §1 secret inventory as data, one Class per
// row, in the runbook's order. The *_PREVIOUS and *_NEXT variables that the
// rotation packages read are listed with their classes, as optional.
func Inventory() []Class {
	req := func(name string, r Rule) Var { return Var{Name: name, Rule: r, Required: true} }
	opt := func(name string, r Rule) Var { return Var{Name: name, Rule: r} }
	id := func(name string) Var { return Var{Name: name, Rule: IdentifierRule, Required: true, Identifier: true} }
	prev := func(name string, r Rule) Var { return Var{Name: name, Rule: r, Until: name + "_UNTIL"} }
	return []Class{
		{ID: "jwt", Name: "JWT signing keys",
			Vars: []Var{
				req("JWT_SECRET", HMACRule), opt("JWT_SECRET_PREVIOUS", HMACRule), opt("JWT_SECRET_NEXT", HMACRule),
				req("JWT_REFRESH_SECRET", HMACRule), opt("JWT_REFRESH_SECRET_PREVIOUS", HMACRule), opt("JWT_REFRESH_SECRET_NEXT", HMACRule),
			},
			Cadence: "90 days / on leak", BlastRadius: "All active user sessions", Owner: "Security / Auth"},
		{ID: "field", Name: "Field-level encryption",
			Vars:    []Var{req("FIELD_ENCRYPTION_KEY", FieldKeyRule), opt("FIELD_ENCRYPTION_KEY_PREVIOUS", FieldKeyListRule), opt("FIELD_ENCRYPTION_KEY_NEXT", FieldKeyRule)},
			Cadence: "180 days / on leak", BlastRadius: "At-rest encrypted columns (PII)", Owner: "Security"},
		{ID: "vnpay", Name: "VNPay",
			Vars:    []Var{req("VNPAY_HASH_SECRET", ProviderSecretRule), prev("VNPAY_HASH_SECRET_PREVIOUS", ProviderSecretRule), id("VNPAY_TMN_CODE")},
			Cadence: "90 days / on leak", BlastRadius: "All VNPay checkout + IPN", Owner: "Payments"},
		{ID: "momo", Name: "MoMo",
			Vars: []Var{
				id("MOMO_PARTNER_CODE"), req("MOMO_ACCESS_KEY", AccessKeyRule), req("MOMO_SECRET_KEY", ProviderSecretRule),
				prev("MOMO_ACCESS_KEY_PREVIOUS", AccessKeyRule), prev("MOMO_SECRET_KEY_PREVIOUS", ProviderSecretRule),
			},
			Cadence: "90 days / on leak", BlastRadius: "All MoMo checkout + IPN", Owner: "Payments"},
		{ID: "zalopay", Name: "ZaloPay",
			Vars: []Var{
				id("ZALOPAY_APP_ID"), req("ZALOPAY_KEY1", ProviderSecretRule), req("ZALOPAY_KEY2", ProviderSecretRule),
				prev("ZALOPAY_KEY1_PREVIOUS", ProviderSecretRule), prev("ZALOPAY_KEY2_PREVIOUS", ProviderSecretRule),
			},
			Cadence: "90 days / on leak", BlastRadius: "All ZaloPay checkout + IPN", Owner: "Payments"},
		{ID: "webhook", Name: "Bank transfer webhook",
			Vars: []Var{
				req("BANK_TRANSFER_WEBHOOK_SECRET", HMACRule), prev("BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS", HMACRule),
				// Keys of the bank-transfer notifiers, issued by them (optional).
				opt("CASSO_WEBHOOK_SECRET", ProviderSecretRule), prev("CASSO_WEBHOOK_SECRET_PREVIOUS", ProviderSecretRule),
				opt("PAYOS_CHECKSUM_KEY", ProviderSecretRule), prev("PAYOS_CHECKSUM_KEY_PREVIOUS", ProviderSecretRule),
			},
			Cadence: "90 days / on leak", BlastRadius: "Inbound bank webhook verification", Owner: "Payments"},
		{ID: "db", Name: "Database password",
			Vars:    []Var{req("DATABASE_URL", DatabaseURLRule)},
			Cadence: "180 days / on leak", BlastRadius: "All API DB access", Owner: "Platform"},
		{ID: "redis", Name: "Redis password",
			Vars:    []Var{req("REDIS_URL", RedisURLRule), opt("REDIS_PASSWORD", PasswordRule), opt("REDIS_USERNAME", IdentifierRule)},
			Cadence: "180 days / on leak", BlastRadius: "Session cache, queues", Owner: "Platform"},
		{ID: "oauth", Name: "OAuth provider secrets",
			Vars:    []Var{req("GOOGLE_CLIENT_SECRET", ProviderSecretRule), req("ZALO_APP_SECRET", ProviderSecretRule)},
			Cadence: "180 days / on leak", BlastRadius: "Social login flows", Owner: "Auth"},
		{ID: "storage", Name: "Object storage",
			Vars:    []Var{req("MINIO_ACCESS_KEY", Rule{Encoding: Raw, MinLen: 3}), req("MINIO_SECRET_KEY", Rule{Encoding: Raw, MinLen: 8})},
			Cadence: "180 days / on leak", BlastRadius: "Media uploads/downloads", Owner: "Platform"},
		{ID: "notification", Name: "Notification",
			Vars:    []Var{req("ZALO_OA_ACCESS_TOKEN", ProviderSecretRule)},
			Cadence: "Per provider policy", BlastRadius: "Push / OA messages", Owner: "Growth"},
	}
}

// LookupClass returns the inventory class with the given ID.
func LookupClass(id string) (Class, bool) {
	for _, c := range Inventory() {
		if c.ID == id {
			return c, true
		}
	}
	return Class{}, false
}

// Finding is the state of one variable in a checked environment.
type Finding struct {
	Class    string // class ID
	Var      string
	Required bool
	Set      bool
	// Fingerprints of the value as written (one per list item): for Raw and
	// Base64 variables the fingerprint of the text, which is what
	// "rotate keygen" prints and the rotation ticket records; for URLs, of
	// the password.
	Fingerprints []string
	// Until is the acceptance deadline of a *_PREVIOUS payment secret.
	Until time.Time
	// Err is nil when the variable is valid, or unset and optional; an
	// *Error otherwise.
	Err error
}

// OK reports whether the finding is acceptable: valid, or optional and unset.
func (f Finding) OK() bool { return f.Err == nil }

// Check validates every variable of classes against src. A required variable
// that is unset or empty gets ErrMissing. Values are never kept, only
// fingerprints.
func Check(src Source, classes []Class) []Finding {
	var out []Finding
	for _, c := range classes {
		var seen []Named // this class's valid secrets, to find one in two places
		for _, v := range c.Vars {
			f := Finding{Class: c.ID, Var: v.Name, Required: v.Required}
			raw, ok, err := src.Lookup(v.Name)
			switch {
			case err != nil:
				f.Err = err
			case !ok || raw == "":
				if v.Required {
					f.Err = &Error{Var: v.Name, Index: -1, Err: ErrMissing}
				}
			default:
				f.Set = true
				var secrets []fingerprint.Secret
				rule, kerr := keepRule(src, v.Name, v.Rule)
				if kerr != nil {
					f.Err = kerr
					out = append(out, f)
					continue
				}
				secrets, f.Fingerprints, f.Err = decodeForCheck(v.Name, raw, rule)
				for _, s := range secrets {
					if f.Err == nil && !v.Identifier {
						f.Err = Distinct(append(seen, Named{Var: v.Name, Secret: s})...)
					}
					seen = append(seen, Named{Var: v.Name, Secret: s})
				}
				if f.Err == nil && v.Until != "" {
					f.Until, f.Err = deadline(src, v)
				}
			}
			out = append(out, f)
		}
	}
	return out
}

func decodeForCheck(name, raw string, r Rule) ([]fingerprint.Secret, []string, error) {
	var secrets []fingerprint.Secret
	if r.List {
		list, err := DecodeList(name, raw, r)
		if err != nil {
			return nil, nil, err
		}
		secrets = list
	} else {
		s, err := Decode(name, raw, r)
		if err != nil {
			return nil, nil, err
		}
		secrets = []fingerprint.Secret{s}
	}
	var fps []string
	for _, s := range secrets {
		if fp := TextFingerprint(s, r); fp != "" {
			fps = append(fps, fp)
		}
	}
	return secrets, fps, nil
}

// Deadline errors, for a payment *_PREVIOUS secret's *_UNTIL time
// (Var.Until). Each is the value of payment's error of the same name, which
// payment.LoadSecretSet and the providers' LoadConfig return, so errors.Is
// matches either name.
var (
	// ErrNoDeadline: a previous payment secret is set without its *_UNTIL
	// time (unset or empty).
	ErrNoDeadline = errors.New("set without its acceptance deadline")
	// ErrBadDeadline: the *_UNTIL time is set but is not an RFC 3339 time
	// ("tomorrow", a date without a time, a time without a zone).
	ErrBadDeadline = errors.New("acceptance deadline is not an RFC 3339 time")
)

func deadline(src Source, v Var) (time.Time, error) {
	raw, ok, err := src.Lookup(v.Until)
	if err != nil {
		return time.Time{}, err
	}
	if !ok || raw == "" {
		return time.Time{}, &Error{Var: v.Name, Index: -1, Err: ErrNoDeadline, Detail: "set " + v.Until + " (RFC 3339: rotation time + the provider's retry window)"}
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, &Error{Var: v.Until, Index: -1, Err: ErrBadDeadline, Detail: "want a time such as 2026-11-28T02:00:00+07:00"}
	}
	return t, nil
}

// TextFingerprint returns the fingerprint an operator records for a secret
// decoded under r: for Base64 secrets the fingerprint of the canonical base64
// text (the value as generated and stored), otherwise the fingerprint of the
// secret bytes.
func TextFingerprint(s fingerprint.Secret, r Rule) string {
	if s.IsZero() {
		return ""
	}
	if r.Encoding == Base64 {
		return fingerprint.OfString(base64.StdEncoding.EncodeToString(s.Bytes()))
	}
	return s.Fingerprint()
}

// FirstProblem returns the first failing required-or-set finding, or nil.
func FirstProblem(fs []Finding) error {
	for _, f := range fs {
		if f.Err != nil {
			return f.Err
		}
	}
	return nil
}

// IsMissing reports whether err says a required variable is unset.
func IsMissing(err error) bool { return errors.Is(err, ErrMissing) }
