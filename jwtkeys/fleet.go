package jwtkeys

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// FleetReport is what one instance has loaded, as FleetHandler serves it and
// "rotate jwt fleet" reads it: per ring and slot the fingerprint, state,
// since and retire time. It never holds a secret. JSON keys are snake_case,
// times RFC 3339 in UTC, fingerprints 16 hex characters.
type FleetReport struct {
	Algorithm string `json:"algorithm"`
	// LoadedAt is when the keyring in use was loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// Watch is how the instance follows secret changes (WatchMode).
	Watch WatchMode   `json:"watch"`
	Slots []FleetSlot `json:"slots"`
}

// FleetSlot is one slot of one ring in a FleetReport. Ring is "access",
// "refresh", or a ring another component adds (FleetOptions.Extra), such as
// "field".
type FleetSlot struct {
	Ring        string         `json:"ring"`
	Slot        secretenv.Slot `json:"slot"`
	Var         string         `json:"variable"`
	State       State          `json:"state"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Since       *time.Time     `json:"since,omitempty"`
	RetireAt    *time.Time     `json:"retire_at,omitempty"`
}

// FleetOptions configure FleetHandler.
type FleetOptions struct {
	// Extra, when set, adds the slots of other keyrings the instance holds
	// (its field-encryption keys, for one) to every report.
	Extra func() []FleetSlot
}

// FleetReport describes the keyring in use now.
func (k *LiveKeyring) FleetReport() FleetReport {
	kr := k.Keyring()
	r := FleetReport{Algorithm: kr.Algorithm(), LoadedAt: kr.LoadedAt().UTC(), Watch: k.WatchHealth().Mode}
	for _, s := range kr.Slots() {
		fs := FleetSlot{Ring: s.Ring.String(), Slot: s.Slot, Var: s.Var, State: s.State, Fingerprint: s.Fingerprint}
		if !s.Since.IsZero() {
			t := s.Since.UTC()
			fs.Since = &t
		}
		if !s.RetireAt.IsZero() {
			t := s.RetireAt.UTC()
			fs.RetireAt = &t
		}
		r.Slots = append(r.Slots, fs)
	}
	return r
}

// FleetHandler serves k's FleetReport as JSON on GET, for an internal port
// (it says which keys an instance trusts; it holds no secret, but the
// fleet's layout is nobody else's business). "rotate jwt fleet" reads it
// from every instance to confirm a staged key is loaded everywhere before
// promotion, and that no instance still signs with the old key after.
func (k *LiveKeyring) FleetHandler(o FleetOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep := k.FleetReport()
		if o.Extra != nil {
			rep.Slots = append(rep.Slots, o.Extra()...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(rep)
	})
}
