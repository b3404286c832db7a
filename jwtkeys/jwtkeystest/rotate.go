package jwtkeystest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

// RotateOptions tune Kit.Rotate. The zero value is valid.
type RotateOptions[C any] struct {
	// Request builds the request sent for a token (default GET / with
	// "Authorization: Bearer <token>"); token "" means a request without
	// credentials. Return a new request every call.
	Request func(token string) *http.Request
	// Sessions is the number of simulated clients (default 8).
	Sessions int
	// Claims are the application claims of every minted token.
	Claims C
	// Subject names session i (default "user-<i>").
	Subject func(i int) string
}

// Phase is what one step of the rotation sent and what came back.
type Phase struct {
	Name     string
	Requests int
	// Unauthorized counts 401 answers to tokens that must be accepted.
	Unauthorized int
	// Admitted counts non-401 answers to requests that must be refused (no
	// token, a token on the retired key): a handler that is not behind the
	// middleware admits them.
	Admitted int
	// Failures describe each 401 or admission (kind of token, status).
	Failures []string
}

// Report is the outcome of Kit.Rotate, phase by phase.
type Report struct{ Phases []Phase }

// Unauthorized is the total number of 401 answers to valid tokens.
func (r Report) Unauthorized() int {
	n := 0
	for _, p := range r.Phases {
		n += p.Unauthorized
	}
	return n
}

// Admitted is the total number of requests admitted that had to be refused.
func (r Report) Admitted() int {
	n := 0
	for _, p := range r.Phases {
		n += p.Admitted
	}
	return n
}

// OK reports whether every valid token was accepted and every invalid one
// refused.
func (r Report) OK() bool { return r.Unauthorized() == 0 && r.Admitted() == 0 }

// String summarises the report a phase per line, with up to five failures
// per phase. It holds no token.
func (r Report) String() string {
	var b strings.Builder
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "%-12s %4d requests, %d × 401 on valid tokens, %d refusals missed\n", p.Name, p.Requests, p.Unauthorized, p.Admitted)
		for i, f := range p.Failures {
			if i == 5 {
				fmt.Fprintf(&b, "             … %d more\n", len(p.Failures)-5)
				break
			}
			fmt.Fprintf(&b, "             %s\n", f)
		}
	}
	return b.String()
}

type session struct {
	sub  string
	pair jwtkeys.Pair
}

// Rotate runs h through a staged rotation of both rings, the way a rolling
// fleet goes through it, and reports every 401 h answered to a token a
// correctly wired service must accept:
//
//   - before: sessions log in (Service.Issue) and call h;
//   - staged: Stage; the sessions call again, and so do tokens from a peer
//     that has already promoted (signed with the staged key);
//   - promoted: Promote; the sessions call with the tokens they hold (now on
//     the previous key), new logins call, and so do tokens from a peer that
//     has not promoted yet (signed with the previous key);
//   - hold: the clock moves to just before the old access tokens expire, they
//     call again; then every session refreshes (Service.RefreshUnchecked,
//     with the refresh token minted before promotion: the kit tests h, not a
//     refresh endpoint) and calls with its new token;
//     the clock then moves past both rings' retire time, sessions refreshing
//     whenever their access token has expired, as clients do;
//   - retired: Retire; the sessions call; a token on the retired key and a
//     request without a token must be refused (401).
//
// h is the consumer's handler with its own middleware, built on k.LiveKeyring
// or k.Service (k.Protect(h) for the package's). The kit is left in the retired
// state with its clock moved on. A refresh that fails fails the test: the
// report is about h.
func (k *Kit[C]) Rotate(t testing.TB, h http.Handler, o RotateOptions[C]) Report {
	t.Helper()
	if o.Sessions <= 0 {
		o.Sessions = 8
	}
	if o.Request == nil {
		o.Request = func(token string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			return r
		}
	}
	if o.Subject == nil {
		o.Subject = func(i int) string { return fmt.Sprintf("user-%d", i) }
	}
	opts := k.LiveKeyring.Options()
	var rep Report
	var cur *Phase
	begin := func(name string) {
		rep.Phases = append(rep.Phases, Phase{Name: name})
		cur = &rep.Phases[len(rep.Phases)-1]
	}
	call := func(what, token string, mustAccept bool) {
		req := o.Request(token)
		if req == nil {
			t.Fatalf("jwtkeystest: Rotate: RotateOptions.Request returned nil in phase %s (%s): it must return a new request every call", cur.Name, what)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cur.Requests++
		switch {
		case mustAccept && rec.Code == http.StatusUnauthorized:
			cur.Unauthorized++
			cur.Failures = append(cur.Failures, fmt.Sprintf("%s: 401 %s", what, strings.TrimSpace(rec.Header().Get("WWW-Authenticate"))))
		case !mustAccept && rec.Code != http.StatusUnauthorized:
			cur.Admitted++
			cur.Failures = append(cur.Failures, fmt.Sprintf("%s: %d, want 401", what, rec.Code))
		}
	}
	refresh := func(s *session) {
		t.Helper()
		p, err := k.Service.RefreshUnchecked(s.pair.Refresh)
		if err != nil {
			t.Fatalf("jwtkeystest: Rotate: refresh of %s in phase %s: %v", s.sub, cur.Name, err)
		}
		s.pair = p
	}
	// fresh gives a session a live access token: refresh when it expired,
	// log in again when the refresh token expired too.
	fresh := func(s *session) {
		now := k.Clock.Now()
		if now.Before(s.pair.AccessExpiresAt) {
			return
		}
		if now.Before(s.pair.RefreshExpiresAt) {
			refresh(s)
			return
		}
		s.pair = k.Pair(s.sub, o.Claims)
	}

	begin("before")
	sessions := make([]*session, o.Sessions)
	for i := range sessions {
		sessions[i] = &session{sub: o.Subject(i), pair: k.Pair(o.Subject(i), o.Claims)}
		call("session token", sessions[i].pair.Access, true)
	}

	begin("staged")
	k.Stage()
	for i, s := range sessions {
		call("session token", s.pair.Access, true)
		call("peer token on the staged key", k.Token(Next, o.Subject(i), o.Claims), true)
	}

	begin("promoted")
	promoted := k.Clock.Now()
	k.Promote()
	for i, s := range sessions {
		call("session token from before promotion", s.pair.Access, true)
		call("new login", k.Pair(o.Subject(i), o.Claims).Access, true)
		call("peer token on the previous key", k.Token(Previous, o.Subject(i), o.Claims), true)
	}

	begin("hold")
	if d := promoted.Add(opts.AccessTTL - time.Second).Sub(k.Clock.Now()); d > 0 {
		k.Clock.Advance(d)
	}
	for _, s := range sessions {
		call("session token from before promotion, about to expire", s.pair.Access, true)
		refresh(s)
		call("session token after refresh", s.pair.Access, true)
	}
	retire := k.RetireAt(jwtkeys.Access)
	if r := k.RetireAt(jwtkeys.Refresh); r.After(retire) {
		retire = r
	}
	// Clients refresh within their refresh token's lifetime: stepping by a
	// third of it keeps every session alive across the hold.
	step := opts.RefreshTTL / 3
	if step <= 0 {
		step = time.Minute
	}
	for k.Clock.Now().Before(retire.Add(time.Second)) {
		k.Clock.Advance(min(step, retire.Add(time.Second).Sub(k.Clock.Now())))
		for _, s := range sessions {
			fresh(s)
			call("session token during the hold", s.pair.Access, true)
		}
	}

	begin("retired")
	old := k.sign(k.need(jwtkeys.Access, secretenv.SlotPrevious), true, "user-0", o.Claims, "access", opts.AccessTTL)
	k.Retire()
	for _, s := range sessions {
		fresh(s)
		call("session token after retire", s.pair.Access, true)
	}
	call("token on the retired key", old, false)
	call("request without a token", "", false)
	return rep
}
