package jwtprom_test

import (
	"time"

	"errors"
	"github.com/golang-jwt/jwt/v5"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtprom"
	"github.com/goodgo/rotation/secretenv"
)

// value returns the counter value of name with the given labels.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestObserverExportsRunbookMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := jwtprom.New(reg)
	src := secretenv.Map(map[string]string{
		"JWT_SECRET": strings.Repeat("a", 32), "JWT_SECRET_PREVIOUS": strings.Repeat("b", 32),
		"JWT_REFRESH_SECRET": strings.Repeat("c", 32),
	})
	keys, err := jwtkeys.Open(src, jwtkeys.Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := jwtkeys.NewService[jwtkeys.Claims](keys)
	p, _ := svc.Issue("u", jwtkeys.Claims{})
	if _, err := svc.VerifyAccess(p.Access); err != nil {
		t.Fatal(err)
	}
	// A Node token (no kid) on the previous key: slot previous, legacy true.
	node, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(strings.Repeat("b", 32)))
	if _, err := svc.VerifyAccess(node); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RefreshUnchecked(p.Refresh); err != nil {
		t.Fatal(err)
	}
	svc.VerifyAccess("garbage")
	svc.VerifyAccess(p.Refresh)
	svc.Verify(jwtkeys.Refresh, "garbage")
	obs.Login(true)
	obs.Login(true)
	obs.Login(false)
	obs.Reloaded(nil)
	obs.Reloaded(errors.New("x"))
	obs.StatusCacheError(errors.New("down"))

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"auth_jwt_verified_total", map[string]string{"ring": "access", "slot": "current", "legacy": "false"}, 1},
		{"auth_jwt_verified_total", map[string]string{"ring": "refresh", "slot": "current", "legacy": "false"}, 1},
		{"auth_jwt_verified_total", map[string]string{"ring": "access", "slot": "previous", "legacy": "false"}, 0},
		{"auth_jwt_verified_total", map[string]string{"ring": "access", "slot": "previous", "legacy": "true"}, 1},
		{"auth_jwt_verified_total", map[string]string{"ring": "access", "slot": "current", "legacy": "true"}, 0},
		{"auth_jwt_verify_failure_total", map[string]string{"ring": "access", "reason": "malformed"}, 1},
		{"auth_jwt_verify_failure_total", map[string]string{"ring": "access", "reason": "wrong_token_use"}, 1},
		{"auth_jwt_verify_failure_total", map[string]string{"ring": "refresh", "reason": "malformed"}, 1},
		{"auth_jwt_verify_failure_total", map[string]string{"ring": "access", "reason": "user_disabled"}, 0},
		{"auth_login_total", map[string]string{"result": "ok"}, 2},
		{"auth_login_total", map[string]string{"result": "failed"}, 1},
		{"auth_refresh_total", nil, 1},
		{"auth_jwt_reload_total", map[string]string{"result": "ok"}, 1},
		{"auth_jwt_reload_total", map[string]string{"result": "failed"}, 1},
		{"auth_user_status_cache_errors_total", nil, 1},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
