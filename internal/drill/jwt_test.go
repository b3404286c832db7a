package drill

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/goodgo/rotation/keygen"
)

// TestSessionRefreshesBeforeExp: exp is in whole seconds, so a token with a
// 2 s TTL lives between 1 and 2 s. A client that refreshed only on its own
// schedule held expired tokens and the drill counted their 401s as rotation
// errors (CI failed with "4 auth errors" and no rotation under way). The
// client reads exp from its token: with a schedule that never fires, it
// still refreshes in time and sees no refusal at all.
func TestSessionRefreshesBeforeExp(t *testing.T) {
	a, err := keygen.New(keygen.JWT)
	if err != nil {
		t.Fatal(err)
	}
	r, err := keygen.New(keygen.JWT)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(map[string]string{"JWT_SECRET": a, "JWT_REFRESH_SECRET": r}, jwtDrillOpts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{instances: []*apiInstance{in}, client: &http.Client{Timeout: 5 * time.Second}}
	defer f.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*jwtDrillOpts.AccessTTL+time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f.session(ctx, "user", time.Hour) }()
	}
	wg.Wait()
	if f.calls.Load() == 0 {
		t.Fatal("no calls made")
	}
	if n := f.expired.Load() + f.unauth.Load() + f.refused.Load(); n != 0 {
		t.Fatalf("%d refusals (expired %d, auth errors %s) in %d calls; want 0: the client must refresh before its token's exp", n, f.expired.Load(), f.reasonSummary(), f.calls.Load())
	}
	if f.refreshes.Load() < 4 {
		t.Fatalf("%d refreshes, want at least one per client", f.refreshes.Load())
	}
}

// TestAuthErrorsCarryTheirReason: a 401 that is not an expiry is counted
// with the error_description the middleware sent, so a failed drill says
// what broke.
func TestAuthErrorsCarryTheirReason(t *testing.T) {
	a, _ := keygen.New(keygen.JWT)
	r, _ := keygen.New(keygen.JWT)
	other, _ := keygen.New(keygen.JWT)
	in, err := newInstance(map[string]string{"JWT_SECRET": a, "JWT_REFRESH_SECRET": r}, jwtDrillOpts)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newInstance(map[string]string{"JWT_SECRET": other, "JWT_REFRESH_SECRET": r}, jwtDrillOpts)
	if err != nil {
		t.Fatal(err)
	}
	// Logins alternate between the two instances, so a session's tokens are
	// refused by the other one with an unknown kid.
	f := &fleet{instances: []*apiInstance{in, stranger}, client: &http.Client{Timeout: 5 * time.Second}}
	defer f.close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	f.session(ctx, "user", time.Hour)
	if f.unauth.Load() == 0 {
		t.Fatal("no auth errors counted for tokens of an unknown key")
	}
	if got, want := f.reasonSummary(), "access: the token was signed with an unknown key ×"; len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("reasons = %q, want it to start with %q", got, want)
	}
	if f.expired.Load() != 0 {
		t.Fatalf("%d counted as expired", f.expired.Load())
	}
}
