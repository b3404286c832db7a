package jwtkeys

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/secretenv"
)

// MaxTokenLen is the longest token the verifier reads (bytes). Longer input
// is refused as malformed before any decoding.
const MaxTokenLen = 8 << 10

// MaxKidLen bounds the kid header value. Kids minted here are 16 hex
// characters; any kid longer than this, or with a character outside
// [A-Za-z0-9_-], is refused as unknown without a lookup.
const MaxKidLen = 64

const maxHeaderLen = 1024 // decoded header bytes

// verified is what verification found.
type verified struct {
	key    *key
	legacy bool
}

// verifyInto checks token against ring r and decodes its claims into dst (a
// pointer to the caller's claims type, whose embedded Claims is base). Order:
// size and shape, alg pin, kid lookup (or legacy try), signature, then
// claims: so a forged token is reported as a bad signature whatever its
// claims say, and an expired one only when its signature is good.
func (kr *Keyring) verifyInto(r RingID, token string, dst any, base *Claims) (verified, *VerifyError) {
	fail := func(reason Reason, kid string, cause error) (verified, *VerifyError) {
		return verified{}, &VerifyError{Ring: r, Reason: reason, Kid: kid, Err: reasonErr[reason], Cause: cause}
	}
	if len(token) == 0 || len(token) > MaxTokenLen {
		return fail(ReasonMalformed, "", nil)
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return fail(ReasonMalformed, "", errShape)
	}
	var hbuf [maxHeaderLen]byte
	if base64.RawURLEncoding.DecodedLen(len(h64)) > len(hbuf) {
		return fail(ReasonMalformed, "", errShape)
	}
	n, err := base64.RawURLEncoding.Decode(hbuf[:], bytesOf(h64))
	if err != nil {
		return fail(ReasonMalformed, "", errBase64)
	}
	hd, ok := parseHeader(hbuf[:n])
	if !ok {
		return fail(ReasonMalformed, "", errHeaderJSON)
	}
	if !bytes.Equal(hd.Alg, kr.algJSON) {
		return fail(ReasonWrongAlg, "", nil)
	}

	var sig [64]byte
	if base64.RawURLEncoding.DecodedLen(len(s64)) != kr.sigSize {
		return fail(ReasonBadSignature, "", nil)
	}
	// Strict: a signature has one encoding (no malleable trailing bits).
	// The decoder skips '\r' and '\n', so the length check above is not
	// enough: a signature with a character swapped for a newline would decode
	// short and be compared with zero bytes in its tail.
	if n, err := b64Strict.Decode(sig[:], bytesOf(s64)); err != nil || n != kr.sigSize {
		return fail(ReasonMalformed, "", errBase64)
	}
	signed := token[:len(h64)+1+len(p64)]
	rg := &kr.rings[r]
	now := kr.opts.Now()

	var v verified
	if hd.Kid != nil { // present; null or a number is not a string and is refused
		kidRaw := hd.Kid
		if len(kidRaw) < 2 || kidRaw[0] != '"' || kidRaw[len(kidRaw)-1] != '"' {
			return fail(ReasonMalformed, "", errKidType)
		}
		kidRaw = kidRaw[1 : len(kidRaw)-1]
		if !validKid(kidRaw) {
			return fail(ReasonUnknownKid, "", nil)
		}
		k := kr.byKid[string(kidRaw)] // exact lookup; no allocation
		if k == nil {
			return fail(ReasonUnknownKid, "", nil)
		}
		if !kr.check(k, signed, sig[:kr.sigSize]) {
			return fail(ReasonBadSignature, k.kid, nil)
		}
		if k.ring != r {
			return fail(ReasonWrongUse, k.kid, nil)
		}
		if k.slot == secretenv.SlotPrevious && !now.Before(k.retireAt) {
			return fail(ReasonRetiredKey, k.kid, nil)
		}
		v.key = k
	} else {
		// Legacy token (no kid): try the live keys, current first.
		v.legacy = true
		for _, s := range [...]secretenv.Slot{secretenv.SlotCurrent, secretenv.SlotPrevious, secretenv.SlotNext} {
			k := rg.key(s)
			if k == nil || (s == secretenv.SlotPrevious && !now.Before(k.retireAt)) {
				continue
			}
			if kr.check(k, signed, sig[:kr.sigSize]) {
				v.key = k
				break
			}
		}
		if v.key == nil {
			if k := rg.key(secretenv.SlotPrevious); k != nil && !now.Before(k.retireAt) && kr.check(k, signed, sig[:kr.sigSize]) {
				return fail(ReasonRetiredKey, k.kid, nil)
			}
			return fail(ReasonBadSignature, "", nil)
		}
	}

	payload := make([]byte, base64.RawURLEncoding.DecodedLen(len(p64)))
	n, err = base64.RawURLEncoding.Decode(payload, bytesOf(p64))
	if err != nil {
		return fail(ReasonMalformed, v.key.kid, errBase64)
	}
	if err := checkRegistered(payload[:n]); err != nil {
		if err == errClaimsShape {
			return fail(ReasonMalformed, v.key.kid, errClaimsJSON)
		}
		return fail(ReasonInvalidClaims, v.key.kid, err)
	}
	if err := json.Unmarshal(payload[:n], dst); err != nil {
		return fail(ReasonMalformed, v.key.kid, errClaimsJSON)
	}
	switch {
	case base.Use == r.use():
	case base.Use == "" && v.legacy:
		// Legacy tokens carry no token_use: the ring that verified them
		// decides (access and refresh secrets always differ).
		base.Use = r.use()
	default:
		return fail(ReasonWrongUse, v.key.kid, nil)
	}
	// Validate the caller's type, so its own Validate() error method (jwt's
	// ClaimsValidator) runs after the standard checks.
	cl, isClaims := dst.(jwt.Claims)
	if !isClaims {
		cl = base
	}
	if err := kr.valid.Validate(cl); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return fail(ReasonExpired, v.key.kid, err)
		}
		return fail(ReasonInvalidClaims, v.key.kid, err)
	}
	return v, nil
}

var (
	errShape      = errors.New("not three base64url segments")
	errBase64     = errors.New("bad base64url")
	errHeaderJSON = errors.New("header is not a JSON object of the expected types")
	errClaimsJSON = errors.New("claims are not a JSON object of the expected types")
	errKidType    = errors.New("kid is not a string")
)

// check computes the MAC of signed with k and compares it in constant time.
// The []byte view of signed is not retained by the hash.
func (kr *Keyring) check(k *key, signed string, sig []byte) bool {
	m := k.mac()
	m.h.Write(bytesOf(signed))
	ok := hmac.Equal(m.h.Sum(m.sum[:0]), sig)
	k.macs.Put(m)
	return ok
}

var b64Strict = base64.RawURLEncoding.Strict()

// bytesOf views s as a byte slice without copying. The result must only be
// read (base64 decoding input, hash input), never written or retained.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func validKid(b []byte) bool {
	if len(b) == 0 || len(b) > MaxKidLen {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// sign mints a compact JWS of claims with ring r's current key.
func (kr *Keyring) sign(r RingID, claims any) (string, error) {
	k := kr.rings[r].key(secretenv.SlotCurrent)
	if k == nil {
		return "", errNoKey
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(k.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(kr.sigSize))
	out = append(out, k.header...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	m := k.mac()
	m.h.Write(out)
	out = append(out, '.')
	out = enc.AppendEncode(out, m.h.Sum(m.sum[:0]))
	k.macs.Put(m)
	return string(out), nil
}
