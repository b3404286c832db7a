package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/jwtexp"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/secretenv"
)

// mutableSource is an instance's secret store: the drill edits it, then the
// instance reloads, as a pod does when its mounted secret changes.
type mutableSource struct {
	mu   sync.Mutex
	vars map[string]string
}

func (m *mutableSource) Lookup(name string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vars[name]
	return v, ok, nil
}

func (m *mutableSource) String() string { return "drill secret store" }

func (m *mutableSource) set(kv map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range kv {
		if v == "" {
			delete(m.vars, k)
		} else {
			m.vars[k] = v
		}
	}
}

// apiInstance is one in-process API server with its own keyring.
type apiInstance struct {
	src  *mutableSource
	keys *jwtkeys.LiveKeyring
	svc  *jwtkeys.Service[jwtkeys.Claims]
	srv  *httptest.Server
}

func newInstance(vars map[string]string, opts jwtkeys.Options) (*apiInstance, error) {
	src := &mutableSource{vars: map[string]string{}}
	src.set(vars)
	keys, err := jwtkeys.Open(src, opts)
	if err != nil {
		return nil, err
	}
	svc, err := jwtkeys.NewService[jwtkeys.Claims](keys)
	if err != nil {
		return nil, err
	}
	in := &apiInstance{src: src, keys: keys, svc: svc}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		pair, err := svc.Issue(r.URL.Query().Get("sub"), jwtkeys.Claims{})
		writePair(w, pair, err)
	})
	// The drill measures the key rotation, not the refresh-token store: each
	// instance refreshes unchecked (a service uses Refresher.Refresh).
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 16<<10))
		pair, err := svc.RefreshUnchecked(string(b))
		writePair(w, pair, err)
	})
	mux.Handle("GET /api/me", svc.Middleware(jwtkeys.MiddlewareOptions{Realm: "drill"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[jwtkeys.Claims](r.Context())
		fmt.Fprint(w, c.Subject)
	})))
	in.srv = httptest.NewServer(mux)
	return in, nil
}

// writePair answers a login or refresh. A refusal's body is its reason
// (jwtkeys.Reason), so the drill's clients can tell a token that expired in
// their hands from one the rotation broke.
func writePair(w http.ResponseWriter, pair jwtkeys.Pair, err error) {
	if err != nil {
		http.Error(w, string(jwtkeys.ReasonOf(err)), http.StatusUnauthorized)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"access": pair.Access, "refresh": pair.Refresh})
}

// fleet is the instances behind a round-robin client.
type fleet struct {
	instances []*apiInstance
	next      atomic.Uint64
	client    *http.Client
	calls     atomic.Int64
	unauth    atomic.Int64 // 401 on a request with a token we hold as valid
	refreshes atomic.Int64
	refused   atomic.Int64 // refresh refused
	other     atomic.Int64 // transport or unexpected errors
	expired   atomic.Int64 // refusals of tokens that expired in the client's hands (reason "expired")

	mu      sync.Mutex
	reasons map[string]int // auth errors (unauth + refused) by refusal reason
}

// authError counts a refusal the rotation caused, by its reason.
func (f *fleet) authError(counter *atomic.Int64, reason string) {
	counter.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reasons == nil {
		f.reasons = map[string]int{}
	}
	f.reasons[reason]++
}

// reasonSummary is "unknown_kid ×3, bad_signature ×1", or "none".
func (f *fleet) reasonSummary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reasons) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(f.reasons))
	for k := range f.reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, f.reasons[k])
	}
	return strings.Join(parts, ", ")
}

func (f *fleet) pick() *apiInstance {
	return f.instances[int(f.next.Add(1))%len(f.instances)]
}

func (f *fleet) post(ctx context.Context, path, body string) (map[string]string, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.pick().srv.URL+path, strings.NewReader(body))
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	var m map[string]string
	err = json.NewDecoder(resp.Body).Decode(&m)
	return m, resp.StatusCode, err
}

// session is one client: it calls the API round robin and refreshes its
// pair every refreshEvery, or sooner when its access token's exp (read from
// the token, as a client does; exp is in whole seconds, so a token lives
// between TTL-1s and TTL) is less than refreshEvery away. A refusal whose
// reason is "expired" is a token that expired in the client's hands (the
// client was starved of CPU and missed its refresh): it is counted as
// expired, not as an auth error, and the client refreshes or logs in again.
// Every other refusal is an auth error, counted with its reason.
func (f *fleet) session(ctx context.Context, sub string, refreshEvery time.Duration) {
	login := func() (map[string]string, bool) {
		tok, code, err := f.post(ctx, "/login?sub="+url.QueryEscape(sub), "")
		if err != nil || code != http.StatusOK {
			if ctx.Err() == nil {
				f.other.Add(1)
			}
			return nil, false
		}
		return tok, true
	}
	tok, ok := login()
	if !ok {
		return
	}
	lastRefresh := time.Now()
	for ctx.Err() == nil {
		exp := jwtexp.Of(tok["access"])
		if time.Since(lastRefresh) >= refreshEvery || (!exp.IsZero() && time.Until(exp) < refreshEvery) {
			nt, code, reason, err := f.refresh(ctx, tok["refresh"])
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				f.other.Add(1)
			case code != http.StatusOK && reason == string(jwtkeys.ReasonExpired):
				f.expired.Add(1)
				if tok, ok = login(); !ok {
					return
				}
			case code != http.StatusOK:
				f.authError(&f.refused, "refresh: "+reason)
			default:
				tok = nt
				f.refreshes.Add(1)
			}
			lastRefresh = time.Now()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.pick().srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok["access"])
		resp, err := f.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				f.other.Add(1)
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		f.calls.Add(1)
		if resp.StatusCode == http.StatusUnauthorized {
			challenge := resp.Header.Get("WWW-Authenticate")
			if strings.Contains(challenge, `error_description="the token expired"`) {
				f.expired.Add(1)
				lastRefresh = time.Time{} // refresh now
			} else {
				f.authError(&f.unauth, "access: "+challengeDescription(challenge))
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// refresh posts a refresh token; a refusal comes back with its reason.
func (f *fleet) refresh(ctx context.Context, refreshToken string) (pair map[string]string, code int, reason string, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.pick().srv.URL+"/refresh", strings.NewReader(refreshToken))
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, resp.StatusCode, strings.TrimSpace(string(b)), nil
	}
	err = json.NewDecoder(resp.Body).Decode(&pair)
	return pair, resp.StatusCode, "", err
}

// challengeDescription is the error_description of a Bearer challenge, or
// the whole challenge when it has none.
func challengeDescription(challenge string) string {
	const key = `error_description="`
	i := strings.Index(challenge, key)
	if i < 0 {
		return challenge
	}
	rest := challenge[i+len(key):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

func (f *fleet) close() {
	for _, in := range f.instances {
		in.srv.Close()
	}
}

// reloadAll applies kv to every instance, one at a time with a pause, as a
// rolling deploy does.
func (f *fleet) rollOut(ctx context.Context, kv map[string]string, pause time.Duration) error {
	for _, in := range f.instances {
		in.src.set(kv)
		if err := in.keys.Reload(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil
}

// startJWTDrill generates old and new access and refresh secrets and starts
// the fleet on the old ones, clients running. stop ends the clients and the
// instances; it may be called more than once.
func startJWTDrill(ctx context.Context, o *Options) (oldA, oldR, newA, newR string, f *fleet, stop func(), err error) {
	for _, s := range []*string{&oldA, &oldR, &newA, &newR} {
		if *s, err = keygen.New(keygen.JWT); err != nil {
			return
		}
	}
	f, stop, err = runFleet(ctx, o, map[string]string{"JWT_SECRET": oldA, "JWT_REFRESH_SECRET": oldR})
	return
}

// jwtDrillTTLs are short so the whole overlap window passes during the
// drill; the procedure is the same with 15 min / 30 days.
var jwtDrillOpts = jwtkeys.Options{AccessTTL: 2 * time.Second, RefreshTTL: 4 * time.Second, RetireMargin: time.Second, Leeway: -1}

// runFleet starts instances with vars and clients against them; it returns
// the fleet and a stop function that waits for the clients.
func runFleet(ctx context.Context, o *Options, vars map[string]string) (*fleet, func(), error) {
	f := &fleet{client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for i := 0; i < o.Instances; i++ {
		in, err := newInstance(vars, jwtDrillOpts)
		if err != nil {
			f.close()
			return nil, nil, err
		}
		f.instances = append(f.instances, in)
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < o.Clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f.session(cctx, fmt.Sprintf("user-%d", i), jwtDrillOpts.AccessTTL/2)
		}(i)
	}
	var once sync.Once
	return f, func() { once.Do(func() { cancel(); wg.Wait(); f.close() }) }, nil
}

func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// jwtStaged drives the staged rotation: stage next everywhere, promote one
// instance at a time, hold until the previous keys' retire time, retire.
func jwtStaged(ctx context.Context, o *Options, p *Phase) error {
	oldA, oldR, newA, newR, f, stop, err := startJWTDrill(ctx, o)
	if err != nil {
		return err
	}
	defer stop()
	p.FP("JWT_SECRET (old)", fingerprint.OfString(oldA))
	p.FP("JWT_REFRESH_SECRET (old)", fingerprint.OfString(oldR))
	p.FP("JWT_SECRET (new)", fingerprint.OfString(newA))
	p.FP("JWT_REFRESH_SECRET (new)", fingerprint.OfString(newR))
	p.Event("JWT: %d API instances up, %d clients calling and refreshing", o.Instances, o.Clients)
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	step := 150 * time.Millisecond
	p.Event("JWT: new secrets generated (fingerprints %s, %s)", fingerprint.OfString(newA), fingerprint.OfString(newR))
	if err := f.rollOut(ctx, map[string]string{"JWT_SECRET_NEXT": newA, "JWT_REFRESH_SECRET_NEXT": newR}, step); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	p.Event("JWT: next keys staged on every instance")
	promoted := time.Now()
	if err := f.rollOut(ctx, map[string]string{
		"JWT_SECRET": newA, "JWT_SECRET_PREVIOUS": oldA, "JWT_SECRET_NEXT": "",
		"JWT_REFRESH_SECRET": newR, "JWT_REFRESH_SECRET_PREVIOUS": oldR, "JWT_REFRESH_SECRET_NEXT": "",
	}, step); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	p.Event("JWT: new keys promoted, one instance at a time")
	// The previous keys may go once the last instance's retire time has
	// passed: the last instance promoted signed with the old keys until then.
	var retireAt time.Time
	for _, in := range f.instances {
		for _, s := range in.keys.Slots() {
			if s.Slot == secretenv.SlotPrevious && s.RetireAt.After(retireAt) {
				retireAt = s.RetireAt
			}
		}
	}
	if retireAt.IsZero() {
		return errors.New("status shows no previous slot after promotion")
	}
	p.Fact("Previous keys' retire time: the last instance's promotion + refresh TTL %s + margin %s = %s after the first promotion", jwtDrillOpts.RefreshTTL, jwtDrillOpts.RetireMargin, retireAt.Sub(promoted).Round(10*time.Millisecond))
	if err := pause(ctx, time.Until(retireAt)+100*time.Millisecond); err != nil {
		return err
	}
	p.Event("JWT: overlap window over")
	if err := f.rollOut(ctx, map[string]string{"JWT_SECRET_PREVIOUS": "", "JWT_REFRESH_SECRET_PREVIOUS": ""}, step); err != nil {
		return fmt.Errorf("retire: %w", err)
	}
	p.Event("JWT: previous keys retired")
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	stop()
	p.AuthErrors = int(f.unauth.Load() + f.refused.Load())
	p.Fact("Authenticated calls: %d, refreshes: %d, 401s: %d, refused refreshes: %d, transport errors: %d; tokens that expired in a starved client's hands (not counted as auth errors): %d",
		f.calls.Load(), f.refreshes.Load(), f.unauth.Load(), f.refused.Load(), f.other.Load(), f.expired.Load())
	p.Fact("Auth errors by reason: %s", f.reasonSummary())
	p.Fact("Token TTLs shortened for the drill: access %s, refresh %s (production: 15 min, 30 days)", jwtDrillOpts.AccessTTL, jwtDrillOpts.RefreshTTL)
	if p.AuthErrors > 0 || f.other.Load() > 0 {
		return fmt.Errorf("%d auth errors (%s) and %d transport errors during a staged rotation (want 0)", p.AuthErrors, f.reasonSummary(), f.other.Load())
	}
	p.Learn("Staged JWT rotation (next → current → previous) across %d instances: 0 auth errors in %d calls.", o.Instances, f.calls.Load())
	return nil
}

// jwtSingleStep runs the runbook's §3.2 procedure (JWT_SECRET=new,
// JWT_SECRET_PREVIOUS=old in one step, one instance at a time) under the same
// load, to show why we stage. Its 401s are expected and do not fail the drill.
func jwtSingleStep(ctx context.Context, o *Options, p *Phase) error {
	oldA, oldR, newA, newR, f, stop, err := startJWTDrill(ctx, o)
	if err != nil {
		return err
	}
	defer stop()
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	p.Event("JWT (runbook single-step, for comparison): rolling JWT_SECRET=new, JWT_SECRET_PREVIOUS=old")
	if err := f.rollOut(ctx, map[string]string{"JWT_SECRET": newA, "JWT_SECRET_PREVIOUS": oldA, "JWT_REFRESH_SECRET": newR, "JWT_REFRESH_SECRET_PREVIOUS": oldR}, 300*time.Millisecond); err != nil {
		return err
	}
	if err := pause(ctx, 300*time.Millisecond); err != nil {
		return err
	}
	stop()
	n := f.unauth.Load() + f.refused.Load()
	p.Fact("Runbook single-step roll: %d 401s and %d refused refreshes in %d calls", f.unauth.Load(), f.refused.Load(), f.calls.Load())
	if n == 0 {
		p.Learn("The single-step comparison saw no 401s this time (the roll was too quick for a token minted by a new instance to reach an old one).")
	} else {
		p.Learn("The runbook's single-step JWT rotation produced %d auth errors during the roll: new instances sign with a key old instances do not know yet. This is why keys are staged.", n)
	}
	return nil
}
