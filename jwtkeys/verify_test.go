package jwtkeys

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	clk := newClock()
	obs := newRec()
	_, svc, _ := fixture(t, clk, obs)
	p, err := svc.Issue("user-42", appClaims{Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.VerifyAccess(p.Access)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "user-42" || c.Role != "admin" || c.Use != "access" || c.ID == "" || c.IssuedAt == nil ||
		!c.ExpiresAt.Time.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("claims = %+v", c)
	}
	// Header: alg pinned, kid = fingerprint of JWT_SECRET.
	tok, _, err := jwt.NewParser().ParseUnverified(p.Access, &appClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != fingerprintOf(sA) || tok.Header["alg"] != "HS256" {
		t.Fatalf("header = %v", tok.Header)
	}
	rc, err := svc.Verify(Refresh, p.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Use != "refresh" || !rc.ExpiresAt.Time.Equal(clk.Now().Add(30*24*time.Hour)) || rc.ID == c.ID {
		t.Fatalf("refresh claims = %+v", rc)
	}
	// golang-jwt verifies our tokens too (interoperable format).
	if _, err := jwt.ParseWithClaims(p.Access, &appClaims{}, func(*jwt.Token) (any, error) { return []byte(sA), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk.Now)); err != nil {
		t.Fatalf("golang-jwt cannot verify our token: %v", err)
	}
	if obs.count("access/current") != 1 || obs.count("refresh/current") != 1 {
		t.Errorf("observer: %v", obs.verified)
	}
}

func TestRefreshMovesToCurrentKey(t *testing.T) {
	clk := newClock()
	obs := newRec()
	_, svc, src := fixture(t, clk, obs)
	p, _ := svc.Issue("u", appClaims{Role: "r"})
	src.set("JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_REFRESH_SECRET", sRB, "JWT_REFRESH_SECRET_PREVIOUS", sRA)
	if err := svc.LiveKeyring().Reload(); err != nil {
		t.Fatal(err)
	}
	p2, err := svc.RefreshUnchecked(p.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []struct{ tok, want string }{{p2.Access, fingerprintOf(sB)}, {p2.Refresh, fingerprintOf(sRB)}} {
		tok, _, _ := jwt.NewParser().ParseUnverified(tk.tok, &appClaims{})
		if tok.Header["kid"] != tk.want {
			t.Errorf("refreshed token kid %v, want %s", tok.Header["kid"], tk.want)
		}
	}
	c, err := svc.VerifyAccess(p2.Access)
	if err != nil || c.Role != "r" || c.Subject != "u" {
		t.Fatalf("refreshed access: %+v %v", c, err)
	}
	if obs.count("refresh/previous") != 1 || obs.refresh != 1 {
		t.Errorf("observer: %v refresh=%d", obs.verified, obs.refresh)
	}
	// An access token cannot be used to refresh.
	if _, err := svc.RefreshUnchecked(p2.Access); !errors.Is(err, ErrWrongUse) {
		t.Errorf("refresh with access token: %v", err)
	}
}

func TestLegacyNoKidTokens(t *testing.T) {
	clk := newClock()
	obs := newRec()
	_, svc, _ := fixture(t, clk, obs, "JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_REFRESH_SECRET", sRB, "JWT_REFRESH_SECRET_PREVIOUS", sRA)
	// Node's jsonwebtoken: {"alg":"HS256","typ":"JWT"}, no kid, no token_use.
	acc := forge(t, jwt.SigningMethodHS256, []byte(sA), nil, legacyClaims(clk, 15*time.Minute))
	ref := forge(t, jwt.SigningMethodHS256, []byte(sRA), nil, legacyClaims(clk, 30*24*time.Hour))
	c, err := svc.VerifyAccess(acc)
	if err != nil {
		t.Fatalf("legacy access on previous: %v", err)
	}
	if c.Use != "access" || c.Role != "admin" {
		t.Errorf("legacy claims %+v: use must be decided by the ring", c)
	}
	// Reported with the slot whose key verified it (issue 13 point 6).
	if obs.count("access/previous") != 1 || obs.count("access/legacy-no-kid") != 0 {
		t.Errorf("legacy token on the previous key not reported as slot previous: %v", obs.verified)
	}
	if _, err := svc.RefreshUnchecked(ref); err != nil {
		t.Fatalf("legacy refresh: %v", err)
	}
	// Confusion: the legacy refresh token is not an access token (its
	// secret is not in the access ring), and the reverse.
	if _, err := svc.VerifyAccess(ref); !errors.Is(err, ErrBadSignature) {
		t.Errorf("legacy refresh as access: %v", err)
	}
	if _, err := svc.RefreshUnchecked(acc); !errors.Is(err, ErrBadSignature) {
		t.Errorf("legacy access as refresh: %v", err)
	}
	// A legacy token that says token_use=refresh is refused on the access ring.
	lc := legacyClaims(clk, time.Minute)
	lc["token_use"] = "refresh"
	if _, err := svc.VerifyAccess(forge(t, jwt.SigningMethodHS256, []byte(sA), nil, lc)); !errors.Is(err, ErrWrongUse) {
		t.Errorf("legacy token_use=refresh on access: %v", err)
	}
}

func TestSecurity(t *testing.T) {
	clk := newClock()
	obs := newRec()
	_, svc, _ := fixture(t, clk, obs, "JWT_SECRET_PREVIOUS", sB, "JWT_SECRET_PREVIOUS_SINCE", clk.Now().Add(-48*time.Hour).Format(time.RFC3339),
		"JWT_SECRET_NEXT", sC)
	good := func(use string, ttl time.Duration) appClaims {
		now := clk.Now()
		return appClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "u", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}, Use: use}}
	}
	kidA := map[string]any{"kid": fingerprintOf(sA)}
	enc := base64.RawURLEncoding.EncodeToString
	noneTok := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kidA, good("access", time.Minute))
	noneNoKid := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, good("access", time.Minute))
	p, _ := svc.Issue("u", appClaims{})
	parts := strings.Split(p.Access, ".")

	cases := []struct {
		name string
		ring RingID
		tok  string
		want error
	}{
		{"alg none", Access, noneTok, ErrWrongAlg},
		{"alg none no kid", Access, noneNoKid, ErrWrongAlg},
		{"HS512 under HS256 pin", Access, forge(t, jwt.SigningMethodHS512, []byte(sA), kidA, good("access", time.Minute)), ErrWrongAlg},
		{"alg case variant", Access, enc([]byte(`{"alg":"hs256","kid":"`+fingerprintOf(sA)+`"}`)) + "." + parts[1] + "." + parts[2], ErrWrongAlg},
		{"empty key forgery, no kid", Access, forge(t, jwt.SigningMethodHS256, []byte(""), nil, good("access", time.Minute)), ErrBadSignature},
		{"empty key forgery, kid of empty", Access, forge(t, jwt.SigningMethodHS256, []byte(""), map[string]any{"kid": fingerprintOf("")}, good("access", time.Minute)), ErrUnknownKid},
		{"short key forgery", Access, forge(t, jwt.SigningMethodHS256, []byte("short"), nil, good("access", time.Minute)), ErrBadSignature},
		{"unknown kid", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": "0123456789abcdef"}, good("access", time.Minute)), ErrUnknownKid},
		{"kid path traversal", Access, forge(t, jwt.SigningMethodHS256, []byte(""), map[string]any{"kid": "../../../../dev/null"}, good("access", time.Minute)), ErrUnknownKid},
		{"kid sql", Access, forge(t, jwt.SigningMethodHS256, []byte("k"), map[string]any{"kid": "x' UNION SELECT 'k"}, good("access", time.Minute)), ErrUnknownKid},
		{"kid long", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": strings.Repeat("a", 500)}, good("access", time.Minute)), ErrUnknownKid},
		{"kid very long (header cap)", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": strings.Repeat("a", 5000)}, good("access", time.Minute)), ErrMalformed},
		{"kid number", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": 42}, good("access", time.Minute)), ErrMalformed},
		{"kid null", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": nil}, good("access", time.Minute)), ErrMalformed},
		{"kid object", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": map[string]any{"a": 1}}, good("access", time.Minute)), ErrMalformed},
		{"kid format string", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": "%s%n%x"}, good("access", time.Minute)), ErrUnknownKid},
		{"refresh token as access", Access, p.Refresh, ErrWrongUse},
		{"access token as refresh", Refresh, p.Access, ErrWrongUse},
		{"access key, token_use refresh", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), kidA, good("refresh", time.Minute)), ErrWrongUse},
		{"kid token without token_use", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), kidA, good("", time.Minute)), ErrWrongUse},
		{"expired with bad signature", Access, forge(t, jwt.SigningMethodHS256, []byte(sRA+"x"), kidA, good("access", -time.Hour)), ErrBadSignature},
		{"expired with good signature", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), kidA, good("access", -time.Hour)), ErrExpired},
		{"no exp", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), kidA, jwt.MapClaims{"sub": "u", "token_use": "access"}), ErrInvalidClaims},
		{"iat in the future", Access, forge(t, jwt.SigningMethodHS256, []byte(sA), kidA, jwt.MapClaims{"sub": "u", "token_use": "access", "exp": clk.Now().Add(time.Hour).Unix(), "iat": clk.Now().Add(time.Hour).Unix()}), ErrInvalidClaims},
		{"retired previous", Access, forge(t, jwt.SigningMethodHS256, []byte(sB), map[string]any{"kid": fingerprintOf(sB)}, good("access", time.Hour)), ErrRetiredKey},
		{"retired previous, legacy", Access, forge(t, jwt.SigningMethodHS256, []byte(sB), nil, good("access", time.Hour)), ErrRetiredKey},
		{"oversized", Access, strings.Repeat("a", MaxTokenLen+1), ErrMalformed},
		{"many dots", Access, strings.Repeat(".", 4000), ErrMalformed},
		{"two segments", Access, parts[0] + "." + parts[1], ErrMalformed},
		{"empty", Access, "", ErrMalformed},
		{"bad base64 header", Access, "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"header not json", Access, enc([]byte("nope")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"claims not json", Access, signRaw(sA, `{"alg":"HS256","kid":"`+fingerprintOf(sA)+`"}`, `not json`), ErrMalformed},
		{"claims wrong types", Access, signRaw(sA, `{"alg":"HS256","kid":"`+fingerprintOf(sA)+`"}`, `{"exp":9999999999,"sub":5}`), ErrMalformed},
		{"non-canonical signature encoding", Access, malleate(p.Access), ErrMalformed},
		{"truncated signature", Access, p.Access[:len(p.Access)-2], ErrBadSignature},
		{"tampered payload", Access, parts[0] + "." + enc([]byte(`{"sub":"admin","exp":9999999999,"token_use":"access"}`)) + "." + parts[2], ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := svc.Verify(c.ring, c.tok)
			if got != nil || !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, %v; want %v", got, err, c.want)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Err != c.want {
				t.Fatalf("not a *VerifyError with %v: %#v", c.want, err)
			}
			for _, s := range []string{sA, sB, sC, sRA} {
				if strings.Contains(err.Error(), s) {
					t.Fatal("error message contains a secret")
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes: hostile input echoed?", len(err.Error()))
			}
		})
	}
	if obs.refusedN(ReasonWrongAlg) != 4 || obs.refusedN(ReasonUnknownKid) != 6 {
		t.Errorf("observer refused: %v", obs.refused)
	}
	// The expired+bad-signature case must not also match ErrExpired
	// (CVE-2024-51744 class).
	_, err := svc.VerifyAccess(forge(t, jwt.SigningMethodHS256, []byte("wrong-key-wrong-key-wrong-key-wrong"), kidA, good("access", -time.Hour)))
	if errors.Is(err, ErrExpired) || errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired+bad signature also reports expiry: %v", err)
	}
	// Next-slot tokens verify (staged key) and are reported as next.
	if _, err := svc.VerifyAccess(signWith(t, svc, sC, Access, time.Minute, clk)); err != nil || obs.count("access/next") != 1 {
		t.Errorf("next-slot token: %v %v", err, obs.verified)
	}
}

func TestAlgorithmSelectable(t *testing.T) {
	long := func(n string) string { return strings.Repeat(n, 64) }
	clk := newClock()
	src := newSource("JWT_SECRET", long("a"), "JWT_REFRESH_SECRET", long("b"))
	keys, err := Open(src, Options{Algorithm: "HS512", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := NewService[Claims](keys)
	p, err := svc.Issue("u", Claims{})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := jwt.NewParser().ParseUnverified(p.Access, &Claims{}); tok.Header["alg"] != "HS512" {
		t.Fatalf("alg = %v", tok.Header["alg"])
	}
	if _, err := svc.VerifyAccess(p.Access); err != nil {
		t.Fatal(err)
	}
	hs256 := forge(t, jwt.SigningMethodHS256, []byte(long("a")), map[string]any{"kid": fingerprintOf(long("a"))}, jwt.MapClaims{"exp": clk.Now().Add(time.Hour).Unix(), "token_use": "access"})
	if _, err := svc.VerifyAccess(hs256); !errors.Is(err, ErrWrongAlg) {
		t.Fatalf("HS256 under HS512 pin: %v", err)
	}
}

func TestIssuerAudienceLeeway(t *testing.T) {
	clk := newClock()
	src := newSource("JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	keys, _ := Open(src, Options{Issuer: "goodgo", Audience: []string{"api"}, Leeway: 10 * time.Second, Now: clk.Now})
	svc, _ := NewService[Claims](keys)
	p, _ := svc.Issue("u", Claims{})
	if _, err := svc.VerifyAccess(p.Access); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15*time.Minute + 9*time.Second)
	if _, err := svc.VerifyAccess(p.Access); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Advance(2 * time.Second)
	if _, err := svc.VerifyAccess(p.Access); !errors.Is(err, ErrExpired) {
		t.Fatalf("past leeway: %v", err)
	}
	for _, c := range []jwt.MapClaims{
		{"iss": "evil", "aud": "api", "exp": clk.Now().Add(time.Hour).Unix(), "token_use": "access"},
		{"iss": "goodgo", "aud": "other", "exp": clk.Now().Add(time.Hour).Unix(), "token_use": "access"},
		{"exp": clk.Now().Add(time.Hour).Unix(), "token_use": "access"},
	} {
		tok := forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": fingerprintOf(sA)}, c)
		if _, err := svc.VerifyAccess(tok); !errors.Is(err, ErrInvalidClaims) {
			t.Errorf("claims %v: %v", c, err)
		}
	}
}

func TestNewServiceNeedsClaims(t *testing.T) {
	keys, _, _ := fixture(t, newClock(), nil)
	type bad struct{ Sub string }
	if _, err := NewService[bad](keys); !errors.Is(err, ErrConfig) {
		t.Fatalf("NewService[bad]: %v", err)
	}
}

// malleate flips a padding bit of the signature's last base64 character: a
// lenient decoder reads the same bytes, so the token would have two spellings.
func malleate(tok string) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alpha, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alpha[last^1])
}

type strictClaims struct {
	Claims
	Tenant string `json:"tenant"`
}

// Validate is golang-jwt's ClaimsValidator hook: the app's own rule.
func (c strictClaims) Validate() error {
	if c.Tenant == "" {
		return errors.New("tenant required")
	}
	return nil
}

func TestAppClaimsValidator(t *testing.T) {
	keys, _, _ := fixture(t, newClock(), nil)
	svc, err := NewService[strictClaims](keys)
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := svc.Issue("u", strictClaims{Tenant: "t1"})
	bad, _ := svc.Issue("u", strictClaims{})
	if c, err := svc.VerifyAccess(ok.Access); err != nil || c.Tenant != "t1" {
		t.Fatalf("valid tenant: %v", err)
	}
	if _, err := svc.VerifyAccess(bad.Access); !errors.Is(err, ErrInvalidClaims) {
		t.Fatalf("app validator not run: %v", err)
	}
}

// TestSignatureNewlineMalleability: the base64 decoder skips '\r' and '\n',
// so without a decoded-length check a signature whose last byte is 0x00 (one
// token in 256) had a second spelling, its last character replaced by a
// newline, that verified.
func TestSignatureNewlineMalleability(t *testing.T) {
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil)
	hdr := `{"alg":"HS256","kid":"` + fingerprintOf(sA) + `"}`
	for i := 0; i < 1<<16; i++ {
		tok := signRaw(sA, hdr, fmt.Sprintf(`{"sub":"u%d","exp":%d,"token_use":"access"}`, i, clk.Now().Add(time.Hour).Unix()))
		sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		if sig[len(sig)-1] != 0 {
			continue
		}
		if _, err := svc.VerifyAccess(tok); err != nil {
			t.Fatalf("canonical token: %v", err)
		}
		for _, nl := range []string{"\n", "\r"} {
			alt := tok[:len(tok)-1] + nl
			if c, err := svc.VerifyAccess(alt); !errors.Is(err, ErrMalformed) {
				t.Fatalf("signature with its last character replaced by %q: claims %v, err %v; want ErrMalformed", nl, c, err)
			}
		}
		return
	}
	t.Fatal("no token with a signature ending in 0x00 found")
}

// Registered claims are case-sensitive and exp/nbf/iat are NumericDates
// (RFC 7519 §2, §4): encoding/json alone would take "EXP" or a string exp
// as the required exp (issue 13 point 8).
func TestRegisteredClaimsStrict(t *testing.T) {
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil, "JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	hdr := `{"alg":"HS256","kid":"` + fingerprintOf(sA) + `"}`
	exp := strconv.FormatInt(clk.Now().Add(time.Hour).Unix(), 10)
	iat := strconv.FormatInt(clk.Now().Unix(), 10)
	cases := []struct {
		name, payload string
		want          error // nil: accepted
	}{
		{"number exp", `{"sub":"u","token_use":"access","exp":` + exp + `}`, nil},
		{"fractional exp", `{"sub":"u","token_use":"access","exp":` + exp + `.5}`, nil},
		{"exponent exp", `{"sub":"u","token_use":"access","exp":9.999999999e9}`, nil},
		{"nested EXP is not a registered claim", `{"sub":"u","token_use":"access","exp":` + exp + `,"ctx":{"EXP":"x","Sub":[1,{"a":"}"}]}}`, nil},
		{"string exp", `{"sub":"u","token_use":"access","exp":"9999999999"}`, ErrInvalidClaims},
		{"string exp (escaped key)", `{"sub":"u","token_use":"access","\u0065xp":"9999999999"}`, ErrInvalidClaims},
		{"upper-case EXP only", `{"sub":"u","token_use":"access","EXP":9999999999}`, ErrInvalidClaims},
		{"EXP besides exp", `{"sub":"u","token_use":"access","exp":` + exp + `,"Exp":9999999999}`, ErrInvalidClaims},
		{"Unicode fold of sub", `{"ſub":"admin","token_use":"access","exp":` + exp + `}`, ErrInvalidClaims},
		{"upper-case TOKEN_USE", `{"sub":"u","TOKEN_USE":"access","exp":` + exp + `}`, ErrInvalidClaims},
		{"duplicate exp", `{"sub":"u","token_use":"access","exp":1,"exp":` + exp + `}`, ErrInvalidClaims},
		{"null exp", `{"sub":"u","token_use":"access","exp":null}`, ErrInvalidClaims},
		{"bool exp", `{"sub":"u","token_use":"access","exp":true}`, ErrInvalidClaims},
		{"string iat", `{"sub":"u","token_use":"access","exp":` + exp + `,"iat":"` + iat + `"}`, ErrInvalidClaims},
		{"string nbf", `{"sub":"u","token_use":"access","exp":` + exp + `,"nbf":"` + iat + `"}`, ErrInvalidClaims},
		{"object exp", `{"sub":"u","token_use":"access","exp":{"n":1}}`, ErrInvalidClaims},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.VerifyAccess(signRaw(sA, hdr, c.payload))
			if c.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestCheckRegisteredAgreesOnShape(t *testing.T) {
	for _, s := range []string{`{}`, ` { } `, `{"a":[]}`, `{"a":{}}`, `{"a":"\""}`, `{"a":[1,[2,[3]]],"b":null}`} {
		if err := checkRegistered([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x`, `{"a":[1,}`} {
		if err := checkRegistered([]byte(s)); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}
