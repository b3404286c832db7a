package jwtkeystest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtkeystest"
)

// A consumer's handler test: the handler behind the middleware accepts a
// token on the previous key (a session from before the promotion) and
// refuses an expired one.
func Example() {
	t := &testing.T{} // in a real test: the *testing.T of the test function
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[appClaims](r.Context())
		fmt.Fprintf(w, "hello %s (%s)", c.Subject, c.Role)
	})
	h := kit.Protect(me)

	for _, kind := range []jwtkeystest.Kind{jwtkeystest.Current, jwtkeystest.Previous, jwtkeystest.Legacy, jwtkeystest.Expired} {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		kit.Authorize(req, kit.Token(kind, "user-42", appClaims{Role: "admin"}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(kind, rec.Code, rec.Body.String())
	}
	// Output:
	// current 200 hello user-42 (admin)
	// previous 200 hello user-42 (admin)
	// legacy 200 hello user-42 (admin)
	// expired 401 the token expired
}

// A service proves its own wiring survives a staged rotation.
func ExampleKit_Rotate() {
	t := &testing.T{}
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	h := kit.Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rep := kit.Rotate(t, h, jwtkeystest.RotateOptions[appClaims]{Sessions: 4})
	fmt.Println("ok:", rep.OK())
	for _, p := range rep.Phases {
		fmt.Println(p.Name, p.Unauthorized)
	}
	// Output:
	// ok: true
	// before 0
	// staged 0
	// promoted 0
	// hold 0
	// retired 0
}
