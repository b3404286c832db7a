package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/consumer/api"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtkeystest"
)

func TestMe(t *testing.T) {
	kit := jwtkeystest.New[api.Claims](t, jwtkeys.Options{})
	h := api.Router(kit.Service)
	for _, c := range []struct {
		kind jwtkeystest.Kind
		path string
		want int
	}{
		{jwtkeystest.Current, "/me", 200},
		{jwtkeystest.Previous, "/me", 200},
		{jwtkeystest.Next, "/me", 200},
		{jwtkeystest.Legacy, "/me", 200},
		{jwtkeystest.Expired, "/me", 401},
		{jwtkeystest.WrongUse, "/me", 401},
		{jwtkeystest.UnknownKid, "/me", 401},
		{jwtkeystest.Current, "/admin", 200},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		kit.Authorize(req, kit.Token(c.kind, "user-1", api.Claims{Role: "admin"}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%v %s: %d, want %d", c.kind, c.path, rec.Code, c.want)
		}
	}
}

func TestHostileTokens(t *testing.T) {
	kit := jwtkeystest.New[api.Claims](t, jwtkeys.Options{})
	h := api.Router(kit.Service)
	for _, c := range kit.Hostile() {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		kit.Authorize(req, c.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", c.Name, rec.Code)
		}
	}
}

// The consumer proves its wiring survives a staged rotation.
func TestSurvivesRotation(t *testing.T) {
	kit := jwtkeystest.New[api.Claims](t, jwtkeys.Options{})
	rep := kit.Rotate(t, api.Router(kit.Service), jwtkeystest.RotateOptions[api.Claims]{
		Claims: api.Claims{Role: "user"},
		Request: func(token string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/me", nil)
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			return r
		},
	})
	if !rep.OK() {
		t.Fatalf("rotation:\n%s", rep)
	}
}
