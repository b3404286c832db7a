package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtprom"
	"github.com/goodgo/rotation/jwtkeys/refreshpg"
	"github.com/goodgo/rotation/secretenv"
)

type config struct {
	SecretsDir string // "" reads the environment
	RedisURL   string // "" disables the user-status cache
	// IdemPrefix prefixes the payment idempotency keys in Redis; "" means
	// "api:idem:".
	IdemPrefix string
	// DatabaseURL holds the refresh-token store (jwtkeys/refreshpg); ""
	// keeps it in memory (one instance only, lost on restart).
	DatabaseURL string
	Log         *slog.Logger
	// Now is the clock for the keyring and payment verifiers (tests).
	Now func() time.Time
	// Token lifetimes, clock-skew leeway and the previous key's retire
	// margin (zero: the jwtkeys defaults 15 min, 30 days, 30 s, 24 h). A
	// drill shortens them (JWT_REFRESH_TTL=10m JWT_RETIRE_MARGIN=1m) so the
	// hold ends in minutes; never in production.
	AccessTTL, RefreshTTL, Leeway, RetireMargin time.Duration
}

// App is the service: its handler and what it must close.
type App struct {
	cfg       config
	src       secretenv.Source
	keys      *jwtkeys.LiveKeyring
	tokens    *jwtkeys.Service[AppClaims]
	refresher *jwtkeys.Refresher[AppClaims]
	store     jwtkeys.RefreshStore
	pool      *pgxpool.Pool
	status    *jwtkeys.StatusCache
	rdb       *redis.Client
	registry  *prometheus.Registry
	mux       *http.ServeMux
	metrics   *jwtprom.Observer
	cancel    context.CancelFunc
	watchEnd  <-chan error

	mu       sync.Mutex
	disabled map[string]bool   // the "user table" of this example
	roles    map[string]string // sub -> role ("customer" when absent)
	ledger   ledger
}

// AppClaims are the application's claims: the library's plus a role.
type AppClaims struct {
	jwtkeys.Claims
	Role string `json:"role,omitempty"`
}

func newApp(ctx context.Context, cfg config) (*App, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &App{cfg: cfg, registry: prometheus.NewRegistry(), mux: http.NewServeMux(), disabled: map[string]bool{}, roles: map[string]string{}}
	a.src = secretenv.Env()
	if cfg.SecretsDir != "" {
		a.src = secretenv.Dir(cfg.SecretsDir)
	}
	jwtObs := jwtprom.New(a.registry)
	a.metrics = jwtObs
	var err error
	a.keys, err = jwtkeys.Open(a.src, jwtkeys.Options{Observer: logReloads{jwtObs, cfg.Log, a}, Now: cfg.Now,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Leeway: cfg.Leeway, RetireMargin: cfg.RetireMargin})
	if err != nil {
		return nil, fmt.Errorf("jwt keys: %w", err)
	}
	if a.tokens, err = jwtkeys.NewService[AppClaims](a.keys); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	// StartWatch installs the SIGHUP handler before it returns and falls
	// back to polling when file events are unavailable; how it watches is
	// logged (logReloads.Watching), exported and part of readiness.
	a.watchEnd = a.keys.StartWatch(wctx, jwtkeys.WatchOptions{})

	mw := jwtkeys.MiddlewareOptions{Realm: "api"}
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("REDIS_URL: not a valid redis URL")
		}
		a.rdb = redis.NewClient(opt)
		a.status = jwtkeys.NewStatusCache(a.rdb, a.loadStatus, jwtkeys.StatusOptions{Observer: jwtObs})
		mw.Status = a.status
	}
	auth := a.tokens.Middleware(mw)
	if err := a.openRefreshStore(wctx); err != nil {
		a.Close()
		return nil, err
	}

	a.mux.HandleFunc("POST /login", a.login)
	a.mux.HandleFunc("POST /refresh", a.refresh)
	a.mux.Handle("GET /api/me", auth(http.HandlerFunc(a.me)))
	a.mux.HandleFunc("GET /health/ready", a.ready)
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
	if err := a.mountPayments(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.mux }

// Close stops the secret watcher and closes Redis.
func (a *App) Close() {
	if a.cancel != nil {
		a.cancel()
	}
	if a.rdb != nil {
		a.rdb.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}

// openRefreshStore sets up the refresh path: one-time refresh tokens in
// PostgreSQL (or memory), the user's status checked, claims loaded from the
// user table at every refresh.
func (a *App) openRefreshStore(ctx context.Context) error {
	if a.cfg.DatabaseURL == "" {
		a.store = jwtkeys.NewMemoryRefreshStore()
	} else {
		pool, err := pgxpool.New(ctx, a.cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("DATABASE_URL: not a valid database URL")
		}
		a.pool = pool
		if err := refreshpg.Migrate(ctx, pool); err != nil {
			return err
		}
		st := refreshpg.New(pool)
		a.store = st
		now := a.cfg.Now
		if now == nil {
			now = time.Now
		}
		go st.Cleanup(ctx, time.Hour, time.Minute, now, func(err error) { a.cfg.Log.Warn("refresh store cleanup", "err", err) })
	}
	rc := jwtkeys.RefresherConfig[AppClaims]{Store: a.store, Status: a.status, Claims: a.loadClaims}
	if a.status == nil {
		rc.NoStatusCheck = true // loadClaims refuses a disabled user itself
	}
	var err error
	a.refresher, err = jwtkeys.NewRefresher(a.tokens, rc)
	return err
}

// loadClaims is the user table's answer at refresh time: the current role,
// or ErrUserDisabled.
func (a *App) loadClaims(_ context.Context, sub string) (AppClaims, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.disabled[sub] {
		return AppClaims{}, jwtkeys.ErrUserDisabled
	}
	role := a.roles[sub]
	if role == "" {
		role = "customer"
	}
	return AppClaims{Role: role}, nil
}

// logReloads logs reloads and the watcher's state on top of the Prometheus
// observer.
type logReloads struct {
	*jwtprom.Observer
	log *slog.Logger
	app *App
}

func (l logReloads) Reloaded(err error) {
	l.Observer.Reloaded(err)
	if err != nil {
		l.log.Error("jwt keys: reload refused, keeping the previous keyring", "err", err)
		return
	}
	// The fingerprints loaded per ring and slot ("-" for an empty slot),
	// never a secret: access_current=3f2a… access_previous=… refresh_next=…
	attrs := []any{}
	for _, st := range l.app.keys.Slots() {
		fp := st.Fingerprint
		if fp == "" {
			fp = "-"
		}
		attrs = append(attrs, st.Ring.String()+"_"+st.Slot.String(), fp)
	}
	l.log.Info("jwt keys: reloaded", attrs...)
}

func (l logReloads) Watching(h jwtkeys.WatchHealth) {
	l.Observer.Watching(h)
	switch {
	case h.Mode == jwtkeys.WatchPolling:
		l.log.Warn("jwt keys: file events unavailable, polling for secret changes", "dir", h.Dir, "every", h.Poll, "err", h.Degraded)
	case !h.Running():
		l.log.Warn("jwt keys: watch stopped: secret changes are no longer picked up", "dir", h.Dir)
	default:
		l.log.Info("jwt keys: watching for secret changes", "mode", h.Mode, "dir", h.Dir)
	}
}

// login stands in for the application's real login flow (password, OTP…):
// it issues a token pair for the subject in the form.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	sub := r.FormValue("sub")
	if sub == "" {
		a.metrics.Login(false) // auth_login_total{result="failed"}
		http.Error(w, "sub required", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	role := a.roles[sub]
	a.mu.Unlock()
	if role == "" {
		role = "customer"
	}
	pair, err := a.refresher.Issue(r.Context(), sub, AppClaims{Role: role})
	if err != nil {
		a.metrics.Login(false)
		a.cfg.Log.Error("issue", "err", err)
		http.Error(w, "cannot issue tokens", http.StatusInternalServerError)
		return
	}
	a.metrics.Login(true)
	writeJSON(w, http.StatusOK, pairJSON(pair))
}

// refresh exchanges a refresh token (form field refresh_token) for a new
// pair signed with the current keys. The refresh token is spent (a second
// use revokes the session), a disabled user is refused, and the new access
// token's claims come from the user table, not from the refresh token.
func (a *App) refresh(w http.ResponseWriter, r *http.Request) {
	pair, err := a.refresher.Refresh(r.Context(), r.FormValue("refresh_token"))
	if errors.Is(err, jwtkeys.ErrStatusUnavailable) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, pairJSON(pair))
}

func (a *App) me(w http.ResponseWriter, r *http.Request) {
	c, _ := jwtkeys.ClaimsFrom[AppClaims](r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"sub": c.Subject, "role": c.Role})
}

// disable marks a user disabled in the example's user table.
func (a *App) disable(sub string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.disabled[sub] = true
}

func (a *App) loadStatus(_ context.Context, sub string) (jwtkeys.UserStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return jwtkeys.UserStatus{Disabled: a.disabled[sub]}, nil
}

// ready reports readiness: the keyring has signing keys and its watcher
// runs (polling instead of file events is reported, not a failure); Redis
// is reported but does not fail readiness (the status loader works without
// it).
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"jwt_keys": "ok"}
	code := http.StatusOK
	signing := 0
	for _, s := range a.keys.Slots() {
		if s.State == jwtkeys.StateSigning {
			signing++
		}
	}
	if signing != 2 { // one signing key per ring, access and refresh
		checks["jwt_keys"], code = "no signing key", http.StatusServiceUnavailable
	}
	switch h := a.keys.WatchHealth(); {
	case !h.Running():
		checks["jwt_watch"], code = "stopped: secret changes are not picked up", http.StatusServiceUnavailable
	case h.Degraded != nil:
		checks["jwt_watch"] = fmt.Sprintf("polling every %s: %v", h.Poll, h.Degraded)
	default:
		checks["jwt_watch"] = string(h.Mode)
	}
	if a.status != nil {
		// Bounded (the status cache's deadline): a hung Redis never hangs
		// readiness. Redis down does not fail readiness: checks go to the
		// status loader (circuit open), which readiness reports.
		perr := a.status.Ping(r.Context())
		switch st := a.status.RedisHealth(); {
		case st.Breaker == "open":
			checks["redis"] = fmt.Sprintf("circuit open since %s after %d failures: status loader used directly", st.OpenedAt.UTC().Format(time.RFC3339), st.Failures)
		case perr != nil:
			checks["redis"] = fmt.Sprintf("failing (%d in a row): status loader used for those checks", st.Failures)
		default:
			checks["redis"] = "ok"
		}
	}
	writeJSON(w, code, checks)
}

func pairJSON(p jwtkeys.Pair) map[string]any {
	return map[string]any{"access_token": p.Access, "refresh_token": p.Refresh, "token_type": "Bearer",
		"expires_in": int(time.Until(p.AccessExpiresAt).Seconds())}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// FleetHandler serves what this instance has loaded (per ring and slot:
// fingerprint, state, since, retire time; never a secret) for "rotate jwt
// fleet". main serves it on FLEET_ADDR, an internal port, never on the
// public listener.
func (a *App) FleetHandler() http.Handler { return a.keys.FleetHandler(jwtkeys.FleetOptions{}) }
