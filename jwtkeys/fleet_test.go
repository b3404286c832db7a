package jwtkeys

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFleetHandler: the report lists every slot of both rings with
// fingerprint, state, since and retire time (snake_case, RFC 3339 UTC),
// adds the Extra slots, answers only GET/HEAD, and never holds a secret.
func TestFleetHandler(t *testing.T) {
	clk := newClock()
	src := newSource("JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_SECRET_PREVIOUS_SINCE", "2026-05-01T09:00:00Z",
		"JWT_SECRET_NEXT", sC, "JWT_REFRESH_SECRET", sRA)
	keys, err := Open(src, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := keys.FleetHandler(FleetOptions{Extra: func() []FleetSlot {
		return []FleetSlot{{Ring: "field", Slot: "current", Var: "FIELD_ENCRYPTION_KEY", State: StateSigning, Fingerprint: "0123456789abcdef"}}
	}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/keys", nil))
	body := rec.Body.String()
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, s := range []string{sA, sB, sC, sRA} {
		if strings.Contains(body, s) {
			t.Fatal("the fleet report holds a secret")
		}
	}
	var rep FleetReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Slots) != 7 || rep.Algorithm != "HS256" || rep.Watch != WatchStopped {
		t.Fatalf("report: %+v", rep)
	}
	byKey := map[string]FleetSlot{}
	for _, s := range rep.Slots {
		byKey[s.Ring+"/"+s.Slot.String()] = s
	}
	if s := byKey["access/next"]; s.Fingerprint != fingerprintOf(sC) || s.State != StateStaged {
		t.Errorf("access next: %+v", s)
	}
	if s := byKey["access/current"]; s.Fingerprint != fingerprintOf(sB) || s.State != StateSigning || s.Var != "JWT_SECRET" {
		t.Errorf("access current: %+v", s)
	}
	p := byKey["access/previous"]
	wantRetire := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).Add(DefaultAccessTTL + DefaultRetireMargin)
	if p.Fingerprint != fingerprintOf(sA) || p.State != StateVerifying || p.RetireAt == nil || !p.RetireAt.Equal(wantRetire) {
		t.Errorf("access previous: %+v", p)
	}
	if s := byKey["refresh/next"]; s.Fingerprint != "" || s.State != StateEmpty || s.Since != nil {
		t.Errorf("refresh next: %+v", s)
	}
	if byKey["field/current"].Fingerprint != "0123456789abcdef" {
		t.Error("Extra slots missing")
	}
	for _, k := range []string{`"retire_at":"2026-05-02T09:15:00Z"`, `"loaded_at":`, `"variable":"JWT_SECRET_PREVIOUS"`} {
		if !strings.Contains(body, k) {
			t.Errorf("JSON lacks %s: %s", k, body)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/keys", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	// A reload shows at once.
	src.set("JWT_SECRET_NEXT", "")
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := keys.FleetReport(); r.Slots[0].State != StateEmpty {
		t.Errorf("after reload: %+v", r.Slots[0])
	}
}
