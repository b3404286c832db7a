package jwtkeys

import (
	"errors"
	"fmt"
)

// Reason is why a token or a request was refused. It is a short, stable,
// low-cardinality string, safe as a metric label.
type Reason string

// The refusal reasons reported to the Observer and carried by *VerifyError.
const (
	ReasonMalformed         Reason = "malformed"          // not a compact JWS, bad base64/JSON, non-string kid, oversized
	ReasonExpired           Reason = "expired"            // exp passed (beyond the leeway); signature was good
	ReasonBadSignature      Reason = "bad_signature"      // no live key of the ring produced the signature
	ReasonUnknownKid        Reason = "unknown_kid"        // kid names no key of the ring
	ReasonWrongAlg          Reason = "wrong_alg"          // alg is not the pinned algorithm
	ReasonWrongUse          Reason = "wrong_token_use"    // a refresh token presented as access, or the reverse
	ReasonRetiredKey        Reason = "retired_key"        // signed by a previous key after its retire time
	ReasonInvalidClaims     Reason = "invalid_claims"     // exp missing, nbf/iat in the future, wrong iss or aud
	ReasonUserDisabled      Reason = "user_disabled"      // the user-status check says the subject is disabled
	ReasonStatusUnavailable Reason = "status_unavailable" // the user's status cannot be known (Redis and the loader failed)
)

// Sentinel errors. Every verification failure is a *VerifyError whose Unwrap
// gives one of these (and, where golang-jwt produced it, the jwt.Err… value as
// well), so errors.Is works for both.
var (
	ErrMalformed     = errors.New("jwtkeys: malformed token")
	ErrExpired       = errors.New("jwtkeys: token expired")
	ErrBadSignature  = errors.New("jwtkeys: signature does not match any live key")
	ErrUnknownKid    = errors.New("jwtkeys: unknown key id")
	ErrWrongAlg      = errors.New("jwtkeys: algorithm not allowed")
	ErrWrongUse      = errors.New("jwtkeys: wrong token use")
	ErrRetiredKey    = errors.New("jwtkeys: signing key is retired")
	ErrInvalidClaims = errors.New("jwtkeys: invalid claims")
	ErrUserDisabled  = errors.New("jwtkeys: user disabled")
	// ErrStatusUnavailable: neither the Redis cache nor the loader could say
	// whether the user is active. The request must be refused (503).
	ErrStatusUnavailable = errors.New("jwtkeys: user status unavailable")
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("jwtkeys: no bearer token")
	// ErrBadRequest: the Authorization header is malformed or too long.
	ErrBadRequest = errors.New("jwtkeys: malformed authorization header")
	// ErrNoCurrentKey: a ring has no current key (JWT_SECRET or
	// JWT_REFRESH_SECRET unset).
	ErrNoCurrentKey = errors.New("jwtkeys: no current key")
	// ErrConfig: bad Options (unknown algorithm, negative durations…).
	ErrConfig = errors.New("jwtkeys: bad configuration")
)

// VerifyError is a refused token. It never contains the token or a key; the
// kid is included only when it is a well-formed fingerprint.
type VerifyError struct {
	Ring   RingID
	Reason Reason
	Kid    string // the token's kid when it is a valid fingerprint, else ""
	Err    error  // the sentinel
	Cause  error  // the underlying golang-jwt or JSON error, if any
}

func (e *VerifyError) Error() string {
	msg := fmt.Sprintf("%s token refused (%s)", e.Ring, e.Reason)
	if e.Kid != "" {
		msg += " kid=" + e.Kid
	}
	msg += ": " + description(e.Reason)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *VerifyError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// description is the short, public error_description for a reason. It is what
// the middleware sends to the client: it never names keys or claims values.
func description(r Reason) string {
	switch r {
	case ReasonMalformed:
		return "the token is malformed"
	case ReasonExpired:
		return "the token expired"
	case ReasonBadSignature:
		return "the token signature is invalid"
	case ReasonUnknownKid:
		return "the token was signed with an unknown key"
	case ReasonWrongAlg:
		return "the token algorithm is not allowed"
	case ReasonWrongUse:
		return "the token is not valid for this use"
	case ReasonRetiredKey:
		return "the token was signed with a retired key"
	case ReasonInvalidClaims:
		return "the token claims are invalid"
	case ReasonUserDisabled:
		return "the user is disabled"
	case ReasonStatusUnavailable:
		return "the user status could not be checked; retry later"
	}
	return "the token is invalid"
}

var reasonErr = map[Reason]error{
	ReasonMalformed: ErrMalformed, ReasonExpired: ErrExpired, ReasonBadSignature: ErrBadSignature,
	ReasonUnknownKid: ErrUnknownKid, ReasonWrongAlg: ErrWrongAlg, ReasonWrongUse: ErrWrongUse,
	ReasonRetiredKey: ErrRetiredKey, ReasonInvalidClaims: ErrInvalidClaims, ReasonUserDisabled: ErrUserDisabled,
	ReasonStatusUnavailable: ErrStatusUnavailable,
}

// ReasonOf returns the refusal reason carried by err ("" when err is not a
// refusal).
func ReasonOf(err error) Reason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	for r, s := range reasonErr {
		if errors.Is(err, s) {
			return r
		}
	}
	return ""
}
