package jwtkeys

import (
	"context"
	"errors"
	"testing"
)

func TestMemoryRefreshStore(t *testing.T) {
	clk := newClock()
	_, svc, _ := fixture(t, clk, nil, "JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	st := NewMemoryRefreshStore()
	roles := map[string]string{"u": "admin"}
	ref, err := NewRefresher(svc, RefresherConfig[appClaims]{Store: st, NoStatusCheck: true,
		Claims: func(_ context.Context, sub string) (appClaims, error) { return appClaims{Role: roles[sub]}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p0, _ := ref.Issue(ctx, "u", appClaims{Role: "admin"})
	roles["u"] = "user"
	p1, err := ref.Refresh(ctx, p0.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := svc.VerifyAccess(p1.Access); c.Role != "user" {
		t.Fatalf("role %q copied from the refresh token", c.Role)
	}
	if _, err := ref.Refresh(ctx, p0.Refresh); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := ref.Refresh(ctx, p1.Refresh); !errors.Is(err, ErrRefreshRevoked) {
		t.Fatalf("family after reuse: %v", err)
	}
	p2, _ := ref.Issue(ctx, "u", appClaims{})
	if n := st.RevokeSubject(""); n != 1 {
		t.Fatalf("revoke all: %d", n)
	}
	if _, err := ref.Refresh(ctx, p2.Refresh); !errors.Is(err, ErrRefreshRevoked) {
		t.Fatalf("after revoke all: %v", err)
	}
	if n := st.DeleteExpired(clk.Now().Add(31 * 24 * 3600e9)); n != 3 {
		t.Fatalf("DeleteExpired = %d", n)
	}
}

// TestRefreshUncheckedIsReusable pins what the Unchecked in
// Service.RefreshUnchecked stands for: the same refresh token refreshes
// twice, and a disabled user is not asked about; Refresher.Refresh on the
// same service refuses the second use.
func TestRefreshUncheckedIsReusable(t *testing.T) {
	_, svc, _ := fixture(t, newClock(), nil, "JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA)
	p, _ := svc.Issue("u", appClaims{Role: "admin"})
	for i := range 2 {
		n, err := svc.RefreshUnchecked(p.Refresh)
		if err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
		if c, _ := svc.VerifyAccess(n.Access); c.Role != "admin" {
			t.Fatalf("use %d: role %q, want the refresh token's claims copied", i+1, c.Role)
		}
	}
	ctx := context.Background()
	ref, err := NewRefresher(svc, RefresherConfig[appClaims]{Store: NewMemoryRefreshStore(), NoStatusCheck: true,
		Claims: func(context.Context, string) (appClaims, error) { return appClaims{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = ref.Issue(ctx, "u", appClaims{})
	if _, err := ref.Refresh(ctx, p.Refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Refresh(ctx, p.Refresh); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("Refresher.Refresh, second use: %v, want ErrRefreshReused", err)
	}
}
