package jwtkeys

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify compares, in one run, the keyring verifier with golang-jwt's
// ParseWithClaims given the one right key and the same claims type and
// checks (HS256 pin, exp required, iat, 30 s leeway). Sub-benchmarks:
//
//	current/{golangjwt,keyring}   token signed with the current key (kid)
//	previous/{golangjwt,keyring}  token signed with the previous key (kid)
//	legacy/{golangjwt,keyring,golangjwt-keyset}
//	                              no kid, signed with the previous key: the
//	                              keyring tries current first, then previous
//
// Run: go test -run '^$' -bench BenchmarkVerify -benchmem -count 6 ./jwtkeys/
func BenchmarkVerify(b *testing.B) {
	clk := newClock()
	_, svc, _ := fixture(b, clk, nil, "JWT_SECRET_PREVIOUS", sB)
	now := clk.Now()
	claims := appClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: "user-123456", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), ID: "4f1c2b7e9a0d43c1b2e5f6a7b8c9d0e1",
	}, Use: "access"}, Role: "customer"}
	cur := forge(b, jwt.SigningMethodHS256, []byte(sA), map[string]any{"kid": fingerprintOf(sA)}, claims)
	prev := forge(b, jwt.SigningMethodHS256, []byte(sB), map[string]any{"kid": fingerprintOf(sB)}, claims)
	legacy := forge(b, jwt.SigningMethodHS256, []byte(sB), nil, claims)

	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(clk.Now))
	single := func(key string) func(*jwt.Token) (any, error) {
		k := []byte(key)
		return func(*jwt.Token) (any, error) { return k, nil }
	}
	set := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{[]byte(sA), []byte(sB)}}
	keyset := func(*jwt.Token) (any, error) { return set, nil }

	golang := func(tok string, kf jwt.Keyfunc) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var c appClaims
				if _, err := parser.ParseWithClaims(tok, &c, kf); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	ours := func(tok string) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.VerifyAccess(tok); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("current/golangjwt", golang(cur, single(sA)))
	b.Run("current/keyring", ours(cur))
	b.Run("previous/golangjwt", golang(prev, single(sB)))
	b.Run("previous/keyring", ours(prev))
	b.Run("legacy/golangjwt", golang(legacy, single(sB)))
	b.Run("legacy/keyring", ours(legacy))
	b.Run("legacy/golangjwt-keyset", golang(legacy, keyset))
}

// verifyCases builds the three benchmark tokens with, for each, the
// golang-jwt single-key baseline and the keyring verifier.
func verifyCases(tb testing.TB) (names []string, base, ours []func() error) {
	clk := newClock()
	_, svc, _ := fixture(tb, clk, nil, "JWT_SECRET_PREVIOUS", sB)
	now := clk.Now()
	claims := appClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: "user-123456", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), ID: "4f1c2b7e9a0d43c1b2e5f6a7b8c9d0e1",
	}, Use: "access"}, Role: "customer"}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(clk.Now))
	add := func(name, key string, hdr map[string]any) {
		tok := forge(tb, jwt.SigningMethodHS256, []byte(key), hdr, claims)
		k := []byte(key)
		kf := func(*jwt.Token) (any, error) { return k, nil }
		names = append(names, name)
		base = append(base, func() error { var c appClaims; _, err := parser.ParseWithClaims(tok, &c, kf); return err })
		ours = append(ours, func() error { _, err := svc.VerifyAccess(tok); return err })
	}
	add("current", sA, map[string]any{"kid": fingerprintOf(sA)})
	add("previous", sB, map[string]any{"kid": fingerprintOf(sB)})
	add("legacy-previous", sB, nil)
	return names, base, ours
}

// BenchmarkVerifyPaired interleaves the baseline and the keyring in chunks
// of 16 operations (alternating which goes first) inside one benchmark, so both see the same machine load
// (this VM is shared), and reports base-ns/op, keyring-ns/op and their
// ratio. Run: go test -run '^$' -bench BenchmarkVerifyPaired -count 6 ./jwtkeys/
func BenchmarkVerifyPaired(b *testing.B) {
	names, base, ours := verifyCases(b)
	for i, name := range names {
		b.Run(name, func(b *testing.B) {
			var tb, to time.Duration
			const chunk = 16
			n := 0
			run := func(f func() error) time.Duration {
				t0 := time.Now()
				for j := 0; j < chunk; j++ {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			for k := 0; b.Loop(); k++ {
				if k%2 == 0 { // ABBA order cancels drift in machine load
					tb += run(base[i])
					to += run(ours[i])
				} else {
					to += run(ours[i])
					tb += run(base[i])
				}
				n += chunk
			}
			b.ReportMetric(float64(tb.Nanoseconds())/float64(n), "base-ns/op")
			b.ReportMetric(float64(to.Nanoseconds())/float64(n), "keyring-ns/op")
			b.ReportMetric(float64(to)/float64(tb), "ratio")
		})
	}
}

// TestVerifyAllocs pins the allocation target: keyring ≤ golang-jwt + 2.
func TestVerifyAllocs(t *testing.T) {
	names, base, ours := verifyCases(t)
	for i, name := range names {
		a := testing.AllocsPerRun(200, func() { _ = base[i]() })
		o := testing.AllocsPerRun(200, func() { _ = ours[i]() })
		t.Logf("%s: golang-jwt %.0f allocs, keyring %.0f", name, a, o)
		if o > a+2 {
			t.Errorf("%s: keyring %v allocs > baseline %v + 2", name, o, a)
		}
	}
}

// BenchmarkIssue measures minting an access+refresh pair.
func BenchmarkIssue(b *testing.B) {
	_, svc, _ := fixture(b, newClock(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Issue("user-123456", appClaims{Role: "customer"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerTokenPadding: a maximal header of padding must cost linear
// time (token68 used to re-scan the tail at every '=': ~18 ms per request).
// Run: go test -run '^$' -bench BenchmarkBearerTokenPadding ./jwtkeys/
func BenchmarkBearerTokenPadding(b *testing.B) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer a"+strings.Repeat("=", MaxTokenLen-1))
	for b.Loop() {
		if _, err := BearerToken(r); err != nil {
			b.Fatal(err)
		}
	}
}
