package jwtkeys

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary input to the verifier of both rings. It must
// never panic, every refusal must be a *VerifyError with a known reason, and
// nothing unsigned by a ring key may verify.
func FuzzVerify(f *testing.F) {
	clk := newClock()
	_, svc, _ := fixture(f, clk, nil, "JWT_SECRET_PREVIOUS", sB, "JWT_SECRET_NEXT", sC)
	svc.SetRand(zeroReader{}) // the same tokens in every fuzz worker
	p, _ := svc.Issue("u", appClaims{Role: "r"})
	legacy := forge(f, jwt.SigningMethodHS256, []byte(sA), nil, legacyClaims(clk, time.Hour))
	for _, s := range []string{p.Access, p.Refresh, legacy, "", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.",
		p.Access + "x", strings.Replace(p.Access, ".", "..", 1), p.Access[:40]} {
		f.Add(s)
	}
	valid := map[string]bool{p.Access: true, p.Refresh: true, legacy: true}
	kr := svc.LiveKeyring().Keyring()
	f.Fuzz(func(t *testing.T, tok string) {
		if in := kr.Inspect(tok); in.Verified != valid[tok] || (!in.Verified && in.Err == nil) {
			t.Fatalf("Inspect(%q) = %+v", tok, in)
		}
		for _, r := range []RingID{Access, Refresh} {
			c, err := svc.Verify(r, tok)
			if err == nil {
				if !valid[tok] {
					t.Fatalf("unexpected token verified on %s: %q", r, tok)
				}
				if c == nil || c.Subject == "" {
					t.Fatal("verified without claims")
				}
				continue
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || reasonErr[ve.Reason] == nil || c != nil {
				t.Fatalf("bad refusal %#v", err)
			}
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// FuzzBearerToken: the Authorization parser never panics, and what it
// returns is a non-empty token68 within the length cap.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Basic dXNlcg==", "Bearer ", "Bearer  a=", "Bearer a b", "BEARER x=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		tok, err := BearerToken(r)
		if err != nil {
			if !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if tok == "" || len(tok) > MaxTokenLen || !token68(tok) || strings.ContainsAny(tok, " \t") {
			t.Fatalf("BearerToken(%q) = %q", h, tok)
		}
	})
}

// FuzzCheckRegistered: the claims pre-scan never panics, and whatever it
// accepts as well-formed, encoding/json also reads as an object.
func FuzzCheckRegistered(f *testing.F) {
	for _, s := range []string{`{"exp":1}`, `{"EXP":1}`, `{"exp":"1"}`, `{"a":{"b":[1,"\""]}}`, `{"\u0065xp":1}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkRegistered([]byte(s))
		var m map[string]json.RawMessage
		jerr := json.Unmarshal([]byte(s), &m)
		if err == nil && jerr == nil {
			for k, v := range m {
				for n, name := range registered {
					if k != name && strings.EqualFold(k, name) {
						t.Fatalf("%q accepted: key %q folds to %q", s, k, name)
					}
					if k == name && n < 3 && !isNumber(v) {
						t.Fatalf("%q accepted: %s is %s", s, k, v)
					}
				}
			}
		}
	})
}
