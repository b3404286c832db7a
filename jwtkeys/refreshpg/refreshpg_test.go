package refreshpg_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/refreshpg"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	sA  = strings.Repeat("a", 40)
	sRA = strings.Repeat("r", 40)
	sRB = strings.Repeat("s", 40)
)

type appClaims struct {
	jwtkeys.Claims
	Role string `json:"role,omitempty"`
}

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	db    *testsvc.DB
	store *refreshpg.Store
	svc   *jwtkeys.Service[appClaims]
	ref   *jwtkeys.Refresher[appClaims]
	clk   *clock
	roles sync.Map // sub -> role, the "user table"
}

func newFixture(t *testing.T, kv map[string]string, legacy jwtkeys.LegacyRefresh) *fixture {
	t.Helper()
	f := &fixture{db: testsvc.Postgres(t), clk: &clock{}}
	f.clk.ns.Store(time.Now().UnixNano())
	ctx := context.Background()
	if err := refreshpg.Migrate(ctx, f.db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := refreshpg.Migrate(ctx, f.db.Pool); err != nil { // idempotent
		t.Fatal(err)
	}
	f.store = refreshpg.New(f.db.Pool)
	keys, err := jwtkeys.Open(mapSource(kv), jwtkeys.Options{Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, _ = jwtkeys.NewService[appClaims](keys)
	f.ref, err = jwtkeys.NewRefresher(f.svc, jwtkeys.RefresherConfig[appClaims]{
		Store: f.store, NoStatusCheck: true, Legacy: legacy,
		Claims: func(_ context.Context, sub string) (appClaims, error) {
			r, ok := f.roles.Load(sub)
			if !ok {
				return appClaims{}, jwtkeys.ErrUserDisabled
			}
			return appClaims{Role: r.(string)}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type mapSource map[string]string

func (m mapSource) Lookup(n string) (string, bool, error) { v, ok := m[n]; return v, ok, nil }
func (mapSource) String() string                          { return "test map" }

var base = map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA}

func (f *fixture) login(t *testing.T, sub, role string) jwtkeys.Pair {
	t.Helper()
	f.roles.Store(sub, role)
	p, err := f.ref.Issue(context.Background(), sub, appClaims{Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func role(t *testing.T, f *fixture, access string) string {
	t.Helper()
	c, err := f.svc.VerifyAccess(access)
	if err != nil {
		t.Fatal(err)
	}
	return c.Role
}

// One-time use with rotation; a reuse revokes the family, including the
// token the legitimate refresh produced; claims come from the loader.
func TestRotateOnceAndReuseRevokesFamily(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	p0 := f.login(t, "u1", "admin")
	other := f.login(t, "u2", "user")
	f.roles.Store("u1", "user") // demoted after login
	p1, err := f.ref.Refresh(ctx, p0.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if r := role(t, f, p1.Access); r != "user" {
		t.Fatalf("role after refresh %q: claims were copied, not loaded", r)
	}
	p2, err := f.ref.Refresh(ctx, p1.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ref.Refresh(ctx, p0.Refresh); !errors.Is(err, jwtkeys.ErrRefreshReused) {
		t.Fatalf("second use of a spent token: %v", err)
	}
	if _, err := f.ref.Refresh(ctx, p2.Refresh); !errors.Is(err, jwtkeys.ErrRefreshRevoked) {
		t.Fatalf("latest token of a reused family: %v, want revoked", err)
	}
	if _, err := f.ref.Refresh(ctx, other.Refresh); err != nil {
		t.Fatalf("another user's session was touched: %v", err)
	}
	// A user the loader no longer knows gets nothing.
	p3 := f.login(t, "u3", "user")
	f.roles.Delete("u3")
	if _, err := f.ref.Refresh(ctx, p3.Refresh); !errors.Is(err, jwtkeys.ErrUserDisabled) {
		t.Fatalf("loader refusal: %v", err)
	}
	// An access token is not a refresh token.
	if _, err := f.ref.Refresh(ctx, p1.Access); !errors.Is(err, jwtkeys.ErrWrongUse) {
		t.Fatalf("access token as refresh: %v", err)
	}
}

// Concurrent refreshes of one token: exactly one wins, the others are
// refused, and the family (the winner's new token too) is revoked.
func TestConcurrentRefreshOneWins(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		p := f.login(t, "u", "user")
		const n = 8
		var wg sync.WaitGroup
		var wins atomic.Int32
		var winner atomic.Value
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				np, err := f.ref.Refresh(ctx, p.Refresh)
				if err == nil {
					wins.Add(1)
					winner.Store(np)
					return
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners", round, wins.Load())
		}
		for err := range errs {
			if !errors.Is(err, jwtkeys.ErrRefreshReused) && !errors.Is(err, jwtkeys.ErrRefreshRevoked) {
				t.Fatalf("loser: %v", err)
			}
		}
		if _, err := f.ref.Refresh(ctx, winner.Load().(jwtkeys.Pair).Refresh); !errors.Is(err, jwtkeys.ErrRefreshRevoked) {
			t.Fatalf("winner's token after a concurrent reuse: %v, want revoked", err)
		}
	}
}

// Revoke-all while refreshes run: after RevokeAll returns, no token minted
// before it, nor any token rotated from one, refreshes.
func TestRevokeAllUnderLoad(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	const users = 20
	var mu sync.Mutex
	latest := make([]string, users)
	for i := range latest {
		latest[i] = f.login(t, "u"+string(rune('a'+i)), "user").Refresh
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < users; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				tok := latest[i]
				mu.Unlock()
				np, err := f.ref.Refresh(ctx, tok)
				if err != nil {
					return // revoked: this session is over
				}
				mu.Lock()
				latest[i] = np.Refresh
				mu.Unlock()
			}
		}(i)
	}
	time.Sleep(200 * time.Millisecond)
	n, err := f.store.RevokeAll(ctx)
	if err != nil || n == 0 {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i, tok := range latest {
		if _, err := f.ref.Refresh(ctx, tok); !errors.Is(err, jwtkeys.ErrRefreshRevoked) && !errors.Is(err, jwtkeys.ErrRefreshReused) {
			t.Fatalf("user %d refreshed after revoke-all: %v", i, err)
		}
	}
	if live, _ := f.store.CountLive(ctx, "", f.clk.Now()); live != 0 {
		t.Fatalf("%d live tokens after revoke-all", live)
	}
	// New logins work again.
	p := f.login(t, "fresh", "user")
	if _, err := f.ref.Refresh(ctx, p.Refresh); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeSubjectAndCount(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	a1, a2, b := f.login(t, "alice", "user"), f.login(t, "alice", "user"), f.login(t, "bob", "user")
	if n, _ := f.store.CountLive(ctx, "alice", f.clk.Now()); n != 2 {
		t.Fatalf("alice live = %d", n)
	}
	if n, err := f.store.RevokeSubject(ctx, "alice"); err != nil || n != 2 {
		t.Fatalf("RevokeSubject = %d, %v", n, err)
	}
	for _, p := range []jwtkeys.Pair{a1, a2} {
		if _, err := f.ref.Refresh(ctx, p.Refresh); !errors.Is(err, jwtkeys.ErrRefreshRevoked) {
			t.Fatalf("alice after revoke: %v", err)
		}
	}
	if _, err := f.ref.Refresh(ctx, b.Refresh); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

func TestDeleteExpired(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	old := f.login(t, "u", "user")
	f.clk.Advance(29 * 24 * time.Hour)
	fresh := f.login(t, "v", "user")
	f.clk.Advance(2 * 24 * time.Hour) // old expired a day ago, fresh has 28 days
	n, err := f.store.DeleteExpired(ctx, f.clk.Now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v", n, err)
	}
	if _, err := f.ref.Refresh(ctx, old.Refresh); !errors.Is(err, jwtkeys.ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	if _, err := f.ref.Refresh(ctx, fresh.Refresh); err != nil {
		t.Fatal(err)
	}
}

// Restart in the middle: a rotation cut off before commit leaves the old
// token usable (nothing half-done), and a new process on the same table
// keeps every decision made by the old one.
func TestRestartInTheMiddle(t *testing.T) {
	f := newFixture(t, base, jwtkeys.LegacyAuto)
	ctx := context.Background()
	p0 := f.login(t, "u", "user")
	// The rotation's transaction dies with its connection: terminate the
	// backend while it holds the row lock.
	conn, err := f.db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := conn.Begin(ctx)
	var pid int
	tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
	if _, err := tx.Exec(ctx, `UPDATE jwt_refresh_tokens SET spent_at = now() WHERE sub = 'u'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	// A cancelled Rotate leaves nothing behind either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.ref.Refresh(cctx, p0.Refresh); err == nil {
		t.Fatal("refresh with a cancelled context succeeded")
	}
	p1, err := f.ref.Refresh(ctx, p0.Refresh)
	if err != nil {
		t.Fatalf("token after an interrupted rotation: %v", err)
	}
	// "Restart": a new pool, a new service, the same table.
	pool2, err := pgxpool.New(ctx, f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	ref2, _ := jwtkeys.NewRefresher(f.svc, jwtkeys.RefresherConfig[appClaims]{Store: refreshpg.New(pool2), NoStatusCheck: true,
		Claims: func(context.Context, string) (appClaims, error) { return appClaims{Role: "user"}, nil }})
	if _, err := ref2.Refresh(ctx, p0.Refresh); !errors.Is(err, jwtkeys.ErrRefreshReused) {
		t.Fatalf("spent token after restart: %v", err)
	}
	if _, err := ref2.Refresh(ctx, p1.Refresh); !errors.Is(err, jwtkeys.ErrRefreshRevoked) {
		t.Fatalf("family after reuse across a restart: %v", err)
	}
}

// Legacy refresh tokens (not in the store, e.g. minted by the Node service
// without jti) are accepted once while the refresh ring has a previous key,
// then rotated into the store; a second use is a reuse.
func TestLegacyRefreshAdoptedOnce(t *testing.T) {
	legacyTok := func(t *testing.T, f *fixture, secret string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "node-user", "exp": f.clk.Now().Add(time.Hour).Unix(), "iat": f.clk.Now().Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ctx := context.Background()
	// During the migration window: previous refresh key configured.
	f := newFixture(t, map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRB, "JWT_REFRESH_SECRET_PREVIOUS": sRA}, jwtkeys.LegacyAuto)
	f.roles.Store("node-user", "user")
	tok := legacyTok(t, f, sRA)
	p, err := f.ref.Refresh(ctx, tok)
	if err != nil {
		t.Fatalf("legacy token during migration: %v", err)
	}
	if _, err := f.ref.Refresh(ctx, p.Refresh); err != nil {
		t.Fatalf("rotated legacy session: %v", err)
	}
	if _, err := f.ref.Refresh(ctx, tok); !errors.Is(err, jwtkeys.ErrRefreshReused) {
		t.Fatalf("legacy token used twice: %v", err)
	}
	// Concurrent first uses of one legacy token: one wins.
	tok2 := legacyTok(t, f, sRB)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.ref.Refresh(ctx, tok2); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners for one legacy token", wins.Load())
	}
	// No previous refresh key: the default refuses tokens unknown to the store.
	g := newFixture(t, base, jwtkeys.LegacyAuto)
	g.roles.Store("node-user", "user")
	if _, err := g.ref.Refresh(ctx, legacyTok(t, g, sRA)); !errors.Is(err, jwtkeys.ErrRefreshUnknown) {
		t.Fatalf("legacy token without a legacy ring: %v", err)
	}
	h := newFixture(t, base, jwtkeys.LegacyAccept)
	h.roles.Store("node-user", "user")
	if _, err := h.ref.Refresh(ctx, legacyTok(t, h, sRA)); err != nil {
		t.Fatalf("LegacyAccept: %v", err)
	}
}

func TestNewRefresherNeedsItsParts(t *testing.T) {
	keys, _ := jwtkeys.Open(mapSource(base), jwtkeys.Options{})
	svc, _ := jwtkeys.NewService[appClaims](keys)
	load := func(context.Context, string) (appClaims, error) { return appClaims{}, nil }
	for _, cfg := range []jwtkeys.RefresherConfig[appClaims]{
		{Claims: load, NoStatusCheck: true},
		{Store: refreshpg.New(nil), NoStatusCheck: true},
		{Store: refreshpg.New(nil), Claims: load},
	} {
		if _, err := jwtkeys.NewRefresher(svc, cfg); !errors.Is(err, jwtkeys.ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// TestMigrateConcurrently: instances starting together all migrate the same
// fresh database. Without the advisory lock, concurrent CREATE TABLE IF NOT
// EXISTS fails in all but one with a duplicate key on pg_type (found with
// three examples/api instances started at once).
func TestMigrateConcurrently(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() { errs <- refreshpg.Migrate(ctx, db.Pool) }()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
}
