package jwtkeystest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtkeystest"
	"github.com/goodgo/rotation/secretenv"
)

type appClaims struct {
	jwtkeys.Claims
	Role string `json:"role,omitempty"`
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := jwtkeys.ClaimsFrom[appClaims](r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Write([]byte(c.Subject + " " + c.Role))
})

func get(h http.Handler, k *jwtkeystest.Kit[appClaims], token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	k.Authorize(r, token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestEveryKindThroughTheMiddleware(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	h := kit.Protect(hello)
	for kind := jwtkeystest.Current; kind <= jwtkeystest.UnknownKid; kind++ {
		rec := get(h, kit, kit.Token(kind, "user-7", appClaims{Role: "admin"}))
		if kind.Accepted() {
			if rec.Code != http.StatusOK || rec.Body.String() != "user-7 admin" {
				t.Errorf("%v: %d %q, want 200 with the claims", kind, rec.Code, rec.Body)
			}
		} else if rec.Code != http.StatusUnauthorized {
			t.Errorf("%v: %d, want 401", kind, rec.Code)
		}
	}
}

func TestKindsVerifyOnTheirSlot(t *testing.T) {
	obs := &slots{}
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{Observer: obs})
	want := map[jwtkeystest.Kind]jwtkeys.Reason{
		jwtkeystest.Expired: jwtkeys.ReasonExpired, jwtkeystest.WrongUse: jwtkeys.ReasonWrongUse,
		jwtkeystest.UnknownKid: jwtkeys.ReasonUnknownKid,
	}
	for kind, reason := range want {
		_, err := kit.Service.VerifyAccess(kit.Token(kind, "u", appClaims{}))
		if got := jwtkeys.ReasonOf(err); got != reason {
			t.Errorf("%v: reason %q, want %q", kind, got, reason)
		}
	}
	if _, err := kit.Service.VerifyAccess(kit.Token(jwtkeystest.WrongRing, "u", appClaims{})); err == nil {
		t.Error("a token signed with the refresh ring's key verified as access")
	}
	for _, kind := range []jwtkeystest.Kind{jwtkeystest.Previous, jwtkeystest.Next, jwtkeystest.Current} {
		if _, err := kit.Service.VerifyAccess(kit.Token(kind, "u", appClaims{})); err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
	}
	if strings.Join(obs.seen, ",") != "access/previous,access/next,access/current" {
		t.Errorf("slots that verified: %v", obs.seen)
	}
}

type slots struct {
	jwtkeys.NopObserver
	seen []string
}

func (s *slots) Verified(r jwtkeys.RingID, sl secretenv.Slot) {
	s.seen = append(s.seen, r.String()+"/"+sl.String())
}

func TestHostileTokensRefused(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{Issuer: "api", Audience: []string{"web"}})
	h := kit.Protect(hello)
	cases := kit.Hostile()
	if len(cases) < 25 {
		t.Fatalf("only %d hostile tokens", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := kit.Service.VerifyAccess(c.Token)
			if got := jwtkeys.ReasonOf(err); got != c.Reason {
				t.Errorf("reason %q (%v), want %q", got, err, c.Reason)
			}
			if rec := get(h, kit, c.Token); rec.Code != http.StatusUnauthorized && rec.Code != http.StatusBadRequest {
				t.Errorf("middleware answered %d", rec.Code)
			}
		})
	}
}

func TestPassRetireTime(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	kit.PassRetireTime()
	for _, kind := range []jwtkeystest.Kind{jwtkeystest.Previous, jwtkeystest.LegacyPrevious} {
		_, err := kit.Service.VerifyAccess(kit.Token(kind, "u", appClaims{}))
		if !errors.Is(err, jwtkeys.ErrRetiredKey) {
			t.Errorf("%v after PassRetireTime: %v, want ErrRetiredKey", kind, err)
		}
	}
	if _, err := kit.Service.VerifyAccess(kit.Token(jwtkeystest.Current, "u", appClaims{})); err != nil {
		t.Errorf("current after PassRetireTime: %v", err)
	}
}

func TestStagePromoteRetire(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	next := kit.Fingerprint(jwtkeys.Access, secretenv.SlotNext)
	cur := kit.Fingerprint(jwtkeys.Access, secretenv.SlotCurrent)
	kit.Promote()
	if kit.LiveKeyring.Keyring().CurrentKid(jwtkeys.Access) != next || kit.Fingerprint(jwtkeys.Access, secretenv.SlotPrevious) != cur {
		t.Fatalf("after Promote: current %s previous %s", kit.LiveKeyring.Keyring().CurrentKid(jwtkeys.Access), kit.Fingerprint(jwtkeys.Access, secretenv.SlotPrevious))
	}
	if got := kit.RetireAt(jwtkeys.Access); !got.Equal(kit.Clock.Now().Add(15*time.Minute + 24*time.Hour)) {
		t.Errorf("RetireAt = %v", got)
	}
	kit.Stage()
	if kit.Fingerprint(jwtkeys.Access, secretenv.SlotNext) == "" {
		t.Fatal("Stage left next empty")
	}
	kit.Retire()
	if kit.Fingerprint(jwtkeys.Access, secretenv.SlotPrevious) != "" || kit.RetireAt(jwtkeys.Access) != (time.Time{}) {
		t.Error("Retire left a previous key")
	}
}

// The kit's configuration reaches a second instance through Env.
func TestEnvConfiguresAnotherInstance(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	other, err := jwtkeys.Open(secretenv.Map(kit.Vars()), jwtkeys.Options{Now: kit.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := jwtkeys.NewService[appClaims](other)
	if _, err := svc.VerifyAccess(kit.Token(jwtkeystest.Previous, "u", appClaims{})); err != nil {
		t.Fatal(err)
	}
}

func TestRotateWellWired(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	rep := kit.Rotate(t, kit.Protect(hello), jwtkeystest.RotateOptions[appClaims]{Claims: appClaims{Role: "user"}})
	if !rep.OK() {
		t.Fatalf("rotation through the package middleware:\n%s", rep)
	}
	if len(rep.Phases) != 5 || rep.Phases[4].Name != "retired" {
		t.Fatalf("phases: %s", rep)
	}
	n := 0
	for _, p := range rep.Phases {
		n += p.Requests
	}
	if n < 8*8 {
		t.Errorf("only %d requests", n)
	}
}

// A service that loaded its keyring once and never reloads is the mistake
// Rotate exists to catch: new logins on the promoted key get 401.
func TestRotateCatchesAStaleKeyring(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	stale, err := jwtkeys.Open(secretenv.Map(kit.Vars()), jwtkeys.Options{Now: kit.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := jwtkeys.NewService[appClaims](stale)
	rep := kit.Rotate(t, svc.Middleware(jwtkeys.MiddlewareOptions{})(hello), jwtkeystest.RotateOptions[appClaims]{})
	if rep.Unauthorized() == 0 {
		t.Fatalf("a stale keyring went unnoticed:\n%s", rep)
	}
	if !strings.Contains(rep.String(), "401") {
		t.Errorf("report does not say what failed:\n%s", rep)
	}
}

// A handler that is not behind the middleware admits what must be refused.
func TestRotateCatchesAnUnprotectedHandler(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	open := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	rep := kit.Rotate(t, open, jwtkeystest.RotateOptions[appClaims]{Sessions: 2})
	if rep.Admitted() != 2 || rep.Unauthorized() != 0 {
		t.Fatalf("unprotected handler: %s", rep)
	}
}

func TestSecretsNeverInReport(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	stale, _ := jwtkeys.Open(secretenv.Map(kit.Vars()), jwtkeys.Options{Now: kit.Clock.Now})
	svc, _ := jwtkeys.NewService[appClaims](stale)
	env := kit.Vars()
	rep := kit.Rotate(t, svc.Middleware(jwtkeys.MiddlewareOptions{})(hello), jwtkeystest.RotateOptions[appClaims]{Sessions: 2})
	for n, v := range kit.Vars() {
		env[n+"#after"] = v
	}
	for _, v := range env {
		if len(v) > 20 && strings.Contains(rep.String(), v) {
			t.Fatal("report contains a secret")
		}
	}
}
