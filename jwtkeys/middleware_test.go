package jwtkeys

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMiddleware(t *testing.T) {
	clk := newClock()
	obs := newRec()
	_, svc, _ := fixture(t, clk, obs)
	p, _ := svc.Issue("user-7", appClaims{Role: "admin"})
	expired := forge(t, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": fingerprintOf(sA)},
		jwt.MapClaims{"sub": "u", "token_use": "access", "exp": clk.Now().Add(-time.Hour).Unix()})
	h := svc.Middleware(MiddlewareOptions{Realm: "goodgo"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom[appClaims](r.Context())
		if !ok {
			t.Error("no claims in context")
			return
		}
		if _, wrong := ClaimsFrom[Claims](r.Context()); wrong {
			t.Error("ClaimsFrom with another type must fail")
		}
		w.Write([]byte(c.Subject + " " + c.Role))
	}))
	cases := []struct {
		name   string
		auth   []string
		status int
		body   string
		chal   string
	}{
		{"ok", []string{"Bearer " + p.Access}, 200, "user-7 admin", ""},
		{"scheme case-insensitive", []string{"bEaReR " + p.Access}, 200, "user-7 admin", ""},
		{"no header", nil, 401, "", `Bearer realm="goodgo"`},
		{"basic scheme", []string{"Basic dXNlcjpwdw=="}, 401, "", `Bearer realm="goodgo"`},
		{"expired", []string{"Bearer " + expired}, 401, "", `Bearer realm="goodgo", error="invalid_token", error_description="the token expired"`},
		{"garbage", []string{"Bearer abc.def.ghi"}, 401, "", `Bearer realm="goodgo", error="invalid_token", error_description="the token is malformed"`},
		{"refresh token", []string{"Bearer " + p.Refresh}, 401, "", `Bearer realm="goodgo", error="invalid_token", error_description="the token is not valid for this use"`},
		{"empty credential", []string{"Bearer "}, 400, "", `error="invalid_request"`},
		{"oversized header", []string{"Bearer " + strings.Repeat("a", MaxAuthorizationLen)}, 400, "", `error="invalid_request"`},
		{"two headers", []string{"Bearer " + p.Access, "Bearer " + p.Access}, 400, "", `error="invalid_request"`},
		{"not token68", []string{"Bearer a b"}, 400, "", `error="invalid_request"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			for _, a := range c.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
			if c.body != "" && rec.Body.String() != c.body {
				t.Errorf("body %q", rec.Body)
			}
			got := rec.Header().Get("WWW-Authenticate")
			if c.chal != "" && !strings.Contains(got, c.chal) || c.name == "no header" && got != c.chal {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.chal)
			}
			if strings.Contains(rec.Body.String()+got, p.Access) {
				t.Error("response echoes the token")
			}
		})
	}
}

func TestMiddlewarePluggable(t *testing.T) {
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil)
	p, _ := svc.Issue("u", appClaims{})
	var gotErr error
	mw := svc.Middleware(MiddlewareOptions{
		Extract: func(r *http.Request) (string, error) {
			c, err := r.Cookie("session")
			if err != nil {
				return "", ErrNoToken
			}
			return c.Value, nil
		},
		OnError: func(w http.ResponseWriter, r *http.Request, err error) { gotErr = err; w.WriteHeader(418) },
	})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: p.Access})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 204 {
		t.Fatalf("cookie extractor: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 418 || !errors.Is(gotErr, ErrNoToken) {
		t.Fatalf("custom error handler: %d %v", rec.Code, gotErr)
	}
}

// TestToken68Padding: '=' is allowed only as trailing padding.
func TestToken68Padding(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "abc=": true, "abc==": true, "a.b.c": true, "ab=c": false, "a==b": false, "a=.": false,
		"a" + strings.Repeat("=", MaxTokenLen-1): true, strings.Repeat("=", 100) + "a": false,
	} {
		if got := token68(s); got != want {
			t.Errorf("token68(%.20q…) = %v, want %v", s, got, want)
		}
	}
}
