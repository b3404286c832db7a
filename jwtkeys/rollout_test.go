package jwtkeys

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The rolling-deploy harness: four in-process API instances, each with its
// own secret source and keyring, behind a round-robin client; clients log
// in, call an authenticated endpoint and refresh continuously while the
// test drives a rotation one instance at a time, as a Kubernetes rolling
// update does.

type apiInstance struct {
	src  *mutableSource
	keys *LiveKeyring
	svc  *Service[appClaims]
	srv  *httptest.Server
	obs  *recObserver
}

type harness struct {
	t         *testing.T
	clk       *fakeClock
	inst      []*apiInstance
	rr        atomic.Uint64
	http      *http.Client
	iters     []atomic.Int64
	unexpired atomic.Int64 // 401 (or failed refresh) for a token that was still valid
	requests  atomic.Int64
	refreshes atomic.Int64
	mu        sync.Mutex
	samples   []string
}

func newHarness(t *testing.T, clients int) *harness {
	h := &harness{t: t, clk: newClock(), iters: make([]atomic.Int64, clients)}
	for i := 0; i < 4; i++ {
		in := &apiInstance{src: newSource("JWT_SECRET", sA, "JWT_REFRESH_SECRET", sRA), obs: newRec()}
		var err error
		if in.keys, err = Open(in.src, Options{Now: h.clk.Now, Observer: in.obs}); err != nil {
			t.Fatal(err)
		}
		in.svc, _ = NewService[appClaims](in.keys)
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			p, err := in.svc.Issue(r.URL.Query().Get("sub"), appClaims{Role: "customer"})
			writePair(w, p, err)
		})
		mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(io.LimitReader(r.Body, MaxTokenLen))
			p, err := in.svc.RefreshUnchecked(string(b))
			writePair(w, p, err)
		})
		mux.Handle("GET /api/me", in.svc.Middleware(MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := ClaimsFrom[appClaims](r.Context())
			io.WriteString(w, c.Subject)
		})))
		in.srv = httptest.NewServer(mux)
		t.Cleanup(in.srv.Close)
		h.inst = append(h.inst, in)
	}
	h.http = &http.Client{Timeout: 10 * time.Second}
	return h
}

func writePair(w http.ResponseWriter, p Pair, err error) {
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, string(ReasonOf(err)), http.StatusUnauthorized)
		return
	}
	json.NewEncoder(w).Encode(p)
}

// next returns the base URL of the next instance, round robin.
func (h *harness) next() string {
	return h.inst[h.rr.Add(1)%uint64(len(h.inst))].srv.URL
}

func (h *harness) note(format string, args ...any) {
	h.unexpired.Add(1)
	h.mu.Lock()
	if len(h.samples) < 5 {
		h.samples = append(h.samples, fmt.Sprintf(format, args...))
	}
	h.mu.Unlock()
}

func (h *harness) post(path, body string) (Pair, int) {
	resp, err := h.http.Post(h.next()+path, "text/plain", strings.NewReader(body))
	if err != nil {
		h.t.Error(err)
		return Pair{}, 0
	}
	defer resp.Body.Close()
	var p Pair
	if resp.StatusCode == 200 {
		json.NewDecoder(resp.Body).Decode(&p)
	}
	return p, resp.StatusCode
}

// client runs one user session until stop is closed.
func (h *harness) client(id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	sub := fmt.Sprintf("user-%d", id)
	p, code := h.post("/login?sub="+sub, "")
	if code != 200 {
		h.t.Errorf("login: %d", code)
		return
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if i%3 == 0 || !h.clk.Now().Add(time.Minute).Before(p.AccessExpiresAt) {
			np, code := h.post("/refresh", p.Refresh)
			h.refreshes.Add(1)
			switch {
			case code == 200:
				p = np
			case h.clk.Now().Before(p.RefreshExpiresAt):
				h.note("refresh refused with a valid refresh token (code %d)", code)
				p, _ = h.post("/login?sub="+sub, "")
			default:
				p, _ = h.post("/login?sub="+sub, "") // session really expired
			}
		}
		req, _ := http.NewRequest("GET", h.next()+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+p.Access)
		resp, err := h.http.Do(req)
		if err != nil {
			h.t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h.requests.Add(1)
		if resp.StatusCode == 401 && h.clk.Now().Before(p.AccessExpiresAt) {
			h.note("401 for a valid access token: %s", resp.Header.Get("WWW-Authenticate"))
			p, _ = h.post("/login?sub="+sub, "") // what a real client ends up doing
		} else if resp.StatusCode != 200 && resp.StatusCode != 401 {
			h.t.Errorf("GET /api/me: %d", resp.StatusCode)
		}
		h.iters[id].Add(1)
	}
}

// progress waits until every client has completed n more iterations.
func (h *harness) progress(n int64) {
	start := make([]int64, len(h.iters))
	for i := range h.iters {
		start[i] = h.iters[i].Load()
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := range h.iters {
		for h.iters[i].Load() < start[i]+n {
			if time.Now().After(deadline) {
				h.t.Fatalf("client %d made no progress", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func (h *harness) run(procedure func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range h.iters {
		wg.Add(1)
		go h.client(i, stop, &wg)
	}
	h.progress(5)
	procedure()
	h.progress(5)
	close(stop)
	wg.Wait()
}

// setAll changes instance i's secrets and reloads it, like a pod restarting
// with a new secret version.
func (h *harness) set(i int, kv ...string) {
	h.inst[i].src.set(kv...)
	if err := h.inst[i].keys.Reload(); err != nil {
		h.t.Fatalf("instance %d reload: %v", i, err)
	}
}

// TestRollingDeployStagedRotation is the proof that the staged procedure is
// zero-downtime: stage next everywhere, promote one instance at a time,
// retire after the window (fake clock), with clients calling and refreshing
// throughout. Zero 401 for valid tokens.
func TestRollingDeployStagedRotation(t *testing.T) {
	h := newHarness(t, 8)
	h.run(func() {
		// 1. Stage B as next on every instance, one at a time.
		for i := range h.inst {
			h.set(i, "JWT_SECRET_NEXT", sB, "JWT_REFRESH_SECRET_NEXT", sRB)
			h.progress(4)
		}
		// 2. Promote: B current, A previous, one instance at a time.
		for i := range h.inst {
			h.set(i, "JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_SECRET_NEXT", "",
				"JWT_REFRESH_SECRET", sRB, "JWT_REFRESH_SECRET_PREVIOUS", sRA, "JWT_REFRESH_SECRET_NEXT", "")
			h.progress(4)
		}
		// 3. Let the window pass: 30 d refresh TTL + 24 h margin, in 12 h
		// steps with sessions active (and refreshing) at every step.
		retire := h.inst[0].keys.Slots()[5].RetireAt
		for h.clk.Now().Before(retire.Add(time.Hour)) {
			h.clk.Advance(12 * time.Hour)
			h.progress(2)
		}
		for i, in := range h.inst {
			st := in.keys.Slots()
			if st[2].State != StateRetired || st[5].State != StateRetired {
				t.Errorf("instance %d: previous not retired after the window: %+v %+v", i, st[2], st[5])
			}
		}
		// 4. Remove the previous keys, one instance at a time.
		for i := range h.inst {
			h.set(i, "JWT_SECRET_PREVIOUS", "", "JWT_REFRESH_SECRET_PREVIOUS", "")
			h.progress(4)
		}
	})
	t.Logf("staged: %d requests, %d refreshes, %d unexpected 401", h.requests.Load(), h.refreshes.Load(), h.unexpired.Load())
	if n := h.unexpired.Load(); n != 0 {
		t.Fatalf("staged rotation: %d 401s for valid tokens, e.g. %q", n, h.samples)
	}
	var next, prev int
	for _, in := range h.inst {
		next += in.obs.count("access/next")
		prev += in.obs.count("access/previous")
	}
	if next == 0 || prev == 0 {
		t.Errorf("the roll never exercised the next (%d) and previous (%d) slots: the test proves nothing", next, prev)
	}
}

// TestRollingDeploySingleStepBreaksSessions runs the runbook's §3.2 single-
// step procedure (JWT_SECRET=new, JWT_SECRET_PREVIOUS=old, one instance at a
// time) in the same harness and shows the 401 burst it causes: tokens minted
// by already-updated pods carry a kid the old pods do not know. This is the
// documented reason the keyring stages a next key first.
func TestRollingDeploySingleStepBreaksSessions(t *testing.T) {
	h := newHarness(t, 8)
	h.run(func() {
		for i := range h.inst {
			h.set(i, "JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_REFRESH_SECRET", sRB, "JWT_REFRESH_SECRET_PREVIOUS", sRA)
			h.progress(6)
		}
	})
	t.Logf("single-step: %d requests, %d refreshes, %d unexpected 401 (e.g. %q)", h.requests.Load(), h.refreshes.Load(), h.unexpired.Load(), h.samples)
	if h.unexpired.Load() == 0 {
		t.Fatal("single-step rotation produced no 401: the harness cannot tell staged from unstaged")
	}
}
