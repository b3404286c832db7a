package jwtkeys

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/secretenv"
)

func TestInspect(t *testing.T) {
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil, "JWT_SECRET_PREVIOUS", sB, "JWT_REFRESH_SECRET_PREVIOUS", sRB)
	p, _ := svc.Issue("u", appClaims{Role: "admin"})
	kr := svc.LiveKeyring().Keyring()

	in := kr.Inspect(p.Refresh)
	if !in.Verified || in.Ring != Refresh || in.Slot != secretenv.SlotCurrent || in.Kid != fingerprintOf(sRA) || in.Claims["role"] != "admin" ||
		!in.ExpiresAt.Equal(clk.Now().Add(30*24*time.Hour)) {
		t.Fatalf("refresh: %+v", in)
	}
	legacy := forge(t, jwt.SigningMethodHS256, []byte(sRB), nil, legacyClaims(clk, time.Hour))
	if in := kr.Inspect(legacy); !in.Verified || in.Ring != Refresh || in.Slot != secretenv.SlotPrevious || !in.Legacy {
		t.Fatalf("legacy refresh on previous: %+v", in)
	}
	bad := forge(t, jwt.SigningMethodHS256, []byte(sA+"!"), map[string]any{"kid": fingerprintOf(sA)}, legacyClaims(clk, -time.Hour))
	if in := kr.Inspect(bad); in.Verified || !errors.Is(in.Err, ErrBadSignature) || in.Claims["sub"] != "user-1" {
		t.Fatalf("bad signature: %+v", in)
	}
	if in := kr.Inspect("garbage"); in.Verified || !errors.Is(in.Err, ErrMalformed) {
		t.Fatalf("garbage: %+v", in)
	}
}
