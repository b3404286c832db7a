package jwtkeys_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

// AppClaims is an application's claims type: the registered claims and
// token_use come from the embedded jwtkeys.Claims.
type AppClaims struct {
	jwtkeys.Claims
	Role string `json:"role,omitempty"`
}

// In production the source is secretenv.Env() (jwtkeys.OpenEnv) or a
// mounted secret directory (jwtkeys.OpenDir).
var src = secretenv.Map(map[string]string{
	"JWT_SECRET":         "example-access-secret-0123456789abcdef",
	"JWT_REFRESH_SECRET": "example-refresh-secret-0123456789abcdef",
})

func Example() {
	keys, err := jwtkeys.Open(src, jwtkeys.Options{})
	if err != nil {
		panic(err)
	}
	svc, err := jwtkeys.NewService[AppClaims](keys)
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[AppClaims](r.Context())
		fmt.Fprintf(w, "hello %s (%s)", c.Subject, c.Role)
	})
	h := svc.Middleware(jwtkeys.MiddlewareOptions{Realm: "api"})(api)

	pair, _ := svc.Issue("user-42", AppClaims{Role: "customer"})
	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+pair.Access)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/me", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 hello user-42 (customer)
	// 401 Bearer realm="api"
}

func ExampleKeyring_Slots() {
	keys, _ := jwtkeys.Open(secretenv.Map(map[string]string{
		"JWT_SECRET":                "example-new-access-secret-0123456789abcdef",
		"JWT_SECRET_PREVIOUS":       "example-access-secret-0123456789abcdef",
		"JWT_SECRET_PREVIOUS_SINCE": "2026-05-01T10:00:00Z",
		"JWT_REFRESH_SECRET":        "example-refresh-secret-0123456789abcdef",
	}), jwtkeys.Options{Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }})
	for _, s := range keys.Slots() {
		if s.Ring == jwtkeys.Access && s.Slot == secretenv.SlotPrevious {
			fmt.Println(s.Var, s.State, s.Fingerprint, "retire at", s.RetireAt.Format(time.RFC3339))
		} else if s.Ring == jwtkeys.Access {
			fmt.Println(strings.TrimSpace(s.Var + " " + string(s.State) + " " + s.Fingerprint))
		}
	}
	// Output:
	// JWT_SECRET_NEXT empty
	// JWT_SECRET signing 27597a5e72a74377
	// JWT_SECRET_PREVIOUS verifying 559887c2ffbe2f26 retire at 2026-05-02T10:15:00Z
}

func ExampleService_RefreshUnchecked() {
	keys, _ := jwtkeys.Open(src, jwtkeys.Options{})
	svc, _ := jwtkeys.NewService[AppClaims](keys)
	pair, _ := svc.Issue("user-42", AppClaims{Role: "customer"})

	// Every refresh mints a new pair with the current keys.
	next, err := svc.RefreshUnchecked(pair.Refresh)
	fmt.Println(err, next.Access != "")
	// An access token is not a refresh token.
	_, err = svc.RefreshUnchecked(pair.Access)
	fmt.Println(jwtkeys.ReasonOf(err))
	// Output:
	// <nil> true
	// wrong_token_use
}

func ExampleFlushPrefix() {
	// Incident rotation, runbook §3.3: drop every cached user status.
	//   rdb := redis.NewClient(opt)            // or redis.NewClusterClient
	//   n, err := jwtkeys.FlushPrefix(ctx, rdb, jwtkeys.DefaultStatusPrefix, jwtkeys.FlushOptions{})
	_, err := jwtkeys.FlushPrefix(context.Background(), nil, "", jwtkeys.FlushOptions{})
	fmt.Println(err)
	// Output:
	// jwtkeys: refusing to flush an empty prefix
}

func ExampleLiveKeyring_StartWatch() {
	// A Kubernetes secret volume mounted at /run/secrets/jwt holds
	// JWT_SECRET, JWT_SECRET_NEXT, … as files. Reload on change and SIGHUP.
	keys, err := jwtkeys.OpenDir("/run/secrets/jwt", jwtkeys.Options{})
	if err != nil {
		return // at startup: refuse to start; the error names the file, never the value
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// SIGHUP is handled once StartWatch returns; without inotify it polls.
	keys.StartWatch(ctx, jwtkeys.WatchOptions{})
	if h := keys.WatchHealth(); h.Degraded != nil {
		log.Printf("jwt keys: polling every %s: %v", h.Poll, h.Degraded) // and report it in readiness
	}
}

func ExampleNewStatusCache() {
	// rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	var rdb *redis.Client
	loadFromDB := func(ctx context.Context, sub string) (jwtkeys.UserStatus, error) {
		// SELECT disabled FROM users WHERE id = $1
		return jwtkeys.UserStatus{Disabled: false}, nil
	}
	cache := jwtkeys.NewStatusCache(rdb, loadFromDB, jwtkeys.StatusOptions{}) // auth:user_status:v1:<sub>, 5 min
	keys, _ := jwtkeys.Open(src, jwtkeys.Options{})
	svc, _ := jwtkeys.NewService[AppClaims](keys)
	_ = svc.Middleware(jwtkeys.MiddlewareOptions{Status: cache}) // disabled → 401, both down → 503
}

// The package's main promise: during the overlap, a token signed with the
// old key before promotion is still accepted by the middleware, and new
// tokens are signed with the new key. Here the source changes from "old
// current" to "new current, old previous" and the keyring reloads, as a
// change in a mounted secret directory or SIGHUP makes it (StartWatch).
func Example_overlap() {
	const oldKey, newKey = "old-access-secret-0123456789abcdef0123", "new-access-secret-0123456789abcdef0123"
	vars := map[string]string{"JWT_SECRET": oldKey, "JWT_REFRESH_SECRET": "example-refresh-secret-0123456789abcdef"}
	keys, _ := jwtkeys.Open(secretenv.Map(vars), jwtkeys.Options{})
	svc, _ := jwtkeys.NewService[AppClaims](keys)
	before, _ := svc.Issue("user-42", AppClaims{Role: "customer"})

	// Promotion: new key current, old key previous (with the promotion time).
	vars["JWT_SECRET"], vars["JWT_SECRET_PREVIOUS"] = newKey, oldKey
	vars["JWT_SECRET_PREVIOUS_SINCE"] = time.Now().UTC().Format(time.RFC3339)
	if err := keys.Reload(); err != nil { // secretenv.Map reads vars as it is now
		panic(err)
	}
	after, _ := svc.Issue("user-42", AppClaims{Role: "customer"})

	h := svc.Middleware(jwtkeys.MiddlewareOptions{Realm: "api"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[AppClaims](r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	}))
	for _, tok := range []string{before.Access, after.Access} {
		req := httptest.NewRequest("GET", "/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		in := keys.Keyring().Inspect(tok)
		fmt.Println(rec.Code, rec.Body, "- verified by slot", in.Slot)
	}
	// Output:
	// 200 hello user-42 - verified by slot previous
	// 200 hello user-42 - verified by slot current
}
