package jwtprom_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtprom"
	"github.com/goodgo/rotation/secretenv"
)

// Wire the runbook's metrics: the Observer goes into jwtkeys.Options, the
// login handler calls Login, and /metrics serves the registry.
func Example() {
	reg := prometheus.NewRegistry()
	obs := jwtprom.New(reg)
	keys, err := jwtkeys.Open(secretenv.Map(map[string]string{
		"JWT_SECRET":         "example-access-secret-0123456789abcdef",
		"JWT_REFRESH_SECRET": "example-refresh-secret-0123456789abcdef",
	}), jwtkeys.Options{Observer: obs})
	if err != nil {
		panic(err)
	}
	svc, _ := jwtkeys.NewService[jwtkeys.Claims](keys)

	pair, _ := svc.Issue("user-42", jwtkeys.Claims{}) // in the login handler:
	obs.Login(true)                                   // auth_login_total{result="ok"}
	svc.VerifyAccess(pair.Access)                     // auth_jwt_verified_total{ring="access",slot="current",legacy="false"}
	svc.VerifyAccess("not-a-token")                   // auth_jwt_verify_failure_total{ring="access",reason="malformed"}

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		for _, want := range []string{
			`auth_login_total{result="ok"}`,
			`auth_jwt_verified_total{legacy="false",ring="access",slot="current"}`,
			`auth_jwt_verify_failure_total{reason="malformed",ring="access"}`,
		} {
			if strings.HasPrefix(line, want+" ") {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// auth_jwt_verified_total{legacy="false",ring="access",slot="current"} 1
	// auth_jwt_verify_failure_total{reason="malformed",ring="access"} 1
	// auth_login_total{result="ok"} 1
}
