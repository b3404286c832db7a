package jwtkeystest

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

// Hostile is a token a service must refuse, with the reason jwtkeys gives.
type Hostile struct {
	Name   string
	Token  string
	Reason jwtkeys.Reason
}

// Hostile returns tokens built to get past a careless verifier: alg "none",
// algorithm substitution, forged and empty keys, hostile kids (path
// traversal, SQL, format strings, wrong JSON types, oversized), token-use
// confusion, an expired token with a bad signature, a future iat, a missing
// exp, malformed encodings and a tampered payload. Each is minted now on the
// kit's clock and keys; a consumer's handler must answer 401 (or 400 for a
// malformed Authorization header) to every one. A string exp and an
// upper-case "EXP" are among them: RFC 7519 makes exp a NumericDate and claim
// names case-sensitive, while some verifiers are lenient about both.
func (k *Kit[C]) Hostile() []Hostile {
	k.t.Helper()
	cur := k.need(jwtkeys.Access, secretenv.SlotCurrent)
	kid := fingerprint.OfString(cur)
	now := k.Clock.Now()
	alg := k.LiveKeyring.Options().Algorithm
	good := func(use string, ttl int64) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "user-1", "iat": now.Unix(), "exp": now.Unix() + ttl}
		if use != "" {
			c["token_use"] = use
		}
		if o := k.LiveKeyring.Options(); o.Issuer != "" {
			c["iss"] = o.Issuer
		}
		if o := k.LiveKeyring.Options(); len(o.Audience) > 0 {
			c["aud"] = o.Audience
		}
		return c
	}
	forge := func(m jwt.SigningMethod, key any, hdr map[string]any, claims jwt.Claims) string {
		tok := jwt.NewWithClaims(m, claims)
		for n, v := range hdr {
			tok.Header[n] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			k.t.Fatalf("jwtkeystest: forge: %v", err)
		}
		return s
	}
	enc := base64.RawURLEncoding.EncodeToString
	raw := func(hdr, payload string) string {
		tok := jwt.New(jwt.GetSigningMethod(alg))
		in := enc([]byte(hdr)) + "." + enc([]byte(payload))
		sig, err := tok.Method.Sign(in, []byte(cur))
		if err != nil {
			k.t.Fatalf("jwtkeystest: sign: %v", err)
		}
		return in + "." + enc(sig)
	}
	kidH := map[string]any{"kid": kid}
	m := jwt.GetSigningMethod(alg)
	other := jwt.SigningMethodHS512
	if alg == other.Alg() {
		other = jwt.SigningMethodHS256
	}
	valid := k.Token(Current, "user-1", *new(C))
	parts := strings.Split(valid, ".")
	payload := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		return string(b)
	}
	hdr := `{"alg":"` + alg + `","kid":"` + kid + `"}`
	return []Hostile{
		{"alg none", forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kidH, good("access", 60)), jwtkeys.ReasonWrongAlg},
		{"alg none, no kid", forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, good("access", 60)), jwtkeys.ReasonWrongAlg},
		{"other HMAC algorithm, same key", forge(other, []byte(cur), kidH, good("access", 60)), jwtkeys.ReasonWrongAlg},
		{"alg in lower case", enc([]byte(`{"alg":"`+strings.ToLower(alg)+`","kid":"`+kid+`"}`)) + "." + parts[1] + "." + parts[2], jwtkeys.ReasonWrongAlg},
		{"empty key, no kid", forge(m, []byte(""), nil, good("access", 60)), jwtkeys.ReasonBadSignature},
		{"empty key, kid of the empty key", forge(m, []byte(""), map[string]any{"kid": fingerprint.OfString("")}, good("access", 60)), jwtkeys.ReasonUnknownKid},
		{"guessed short key", forge(m, []byte("secret"), nil, good("access", 60)), jwtkeys.ReasonBadSignature},
		{"unknown kid", forge(m, []byte(cur), map[string]any{"kid": "0123456789abcdef"}, good("access", 60)), jwtkeys.ReasonUnknownKid},
		{"kid path traversal", forge(m, []byte(""), map[string]any{"kid": "../../../../dev/null"}, good("access", 60)), jwtkeys.ReasonUnknownKid},
		{"kid SQL injection", forge(m, []byte("k"), map[string]any{"kid": "x' UNION SELECT 'k"}, good("access", 60)), jwtkeys.ReasonUnknownKid},
		{"kid format string", forge(m, []byte(cur), map[string]any{"kid": "%s%n%x"}, good("access", 60)), jwtkeys.ReasonUnknownKid},
		{"kid number", forge(m, []byte(cur), map[string]any{"kid": 42}, good("access", 60)), jwtkeys.ReasonMalformed},
		{"kid object", forge(m, []byte(cur), map[string]any{"kid": map[string]any{"a": 1}}, good("access", 60)), jwtkeys.ReasonMalformed},
		{"kid oversized", forge(m, []byte(cur), map[string]any{"kid": strings.Repeat("a", 5000)}, good("access", 60)), jwtkeys.ReasonMalformed},
		{"refresh token as access", k.Token(WrongUse, "user-1", *new(C)), jwtkeys.ReasonWrongUse},
		{"access key, token_use refresh", forge(m, []byte(cur), kidH, good("refresh", 60)), jwtkeys.ReasonWrongUse},
		{"kid but no token_use", forge(m, []byte(cur), kidH, good("", 60)), jwtkeys.ReasonWrongUse},
		{"refresh ring key", k.Token(WrongRing, "user-1", *new(C)), jwtkeys.ReasonWrongUse},
		{"expired, bad signature", forge(m, []byte(cur+"x"), kidH, good("access", -3600)), jwtkeys.ReasonBadSignature},
		{"expired, good signature", forge(m, []byte(cur), kidH, good("access", -3600)), jwtkeys.ReasonExpired},
		{"no exp", forge(m, []byte(cur), kidH, jwt.MapClaims{"sub": "user-1", "token_use": "access"}), jwtkeys.ReasonInvalidClaims},
		{"iat an hour ahead", forge(m, []byte(cur), kidH, jwt.MapClaims{"sub": "user-1", "token_use": "access", "iat": now.Unix() + 3600, "exp": now.Unix() + 7200}), jwtkeys.ReasonInvalidClaims},
		{"exp as a string", raw(hdr, payload(with(good("access", 60), "exp", strconv.FormatInt(now.Unix()+60, 10)))), jwtkeys.ReasonInvalidClaims},
		{"EXP in upper case, no exp", raw(hdr, payload(without(with(good("access", 60), "EXP", now.Unix()+60), "exp"))), jwtkeys.ReasonInvalidClaims},
		{"oversized", strings.Repeat("a", jwtkeys.MaxTokenLen+1), jwtkeys.ReasonMalformed},
		{"two segments", parts[0] + "." + parts[1], jwtkeys.ReasonMalformed},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], jwtkeys.ReasonMalformed},
		{"claims not JSON", raw(hdr, "not json"), jwtkeys.ReasonMalformed},
		{"truncated signature", valid[:len(valid)-2], jwtkeys.ReasonBadSignature},
		{"tampered payload", parts[0] + "." + enc([]byte(`{"sub":"admin","exp":9999999999,"token_use":"access"}`)) + "." + parts[2], jwtkeys.ReasonBadSignature},
		{"key never held, its own kid", k.Token(UnknownKid, "user-1", *new(C)), jwtkeys.ReasonUnknownKid},
	}
}

// with returns c with name set to v.
func with(c jwt.MapClaims, name string, v any) jwt.MapClaims {
	c[name] = v
	return c
}

// without returns c without name.
func without(c jwt.MapClaims, name string) jwt.MapClaims {
	delete(c, name)
	return c
}

// appClaimsMap is app as JSON claims without the registered ones.
func appClaimsMap(app any) (map[string]any, error) {
	b, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		// A claims type that marshals to a non-object carries no claims.
		m = map[string]any{}
	}
	for _, n := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"} {
		delete(m, n)
	}
	return m, nil
}
