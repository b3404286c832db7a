package payment

import (
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// FuzzLoadSecretSet: the current, previous and deadline variables come from
// the environment. Any values give a set or an error, never a panic; an
// error never shows a secret; a set with a previous secret always has a
// deadline that was parsed from the deadline variable.
func FuzzLoadSecretSet(f *testing.F) {
	f.Add(cur, prev, "2026-11-28T02:00:00+07:00")
	f.Add(cur, "", "")
	f.Add(cur, prev, "")
	f.Add(cur, cur, "2026-11-28T02:00:00Z")
	f.Add("short", prev, "not-a-time-at-all")
	f.Add(cur, prev, "2026-13-45T99:99:99Z")
	vars := NewSecretVars("X_SECRET")
	f.Fuzz(func(t *testing.T, current, previous, until string) {
		src := secretenv.Map(map[string]string{vars.Current: current, vars.Previous: previous, vars.PreviousUntil: until})
		s, err := LoadSecretSet(src, vars, secretenv.ProviderSecretRule)
		if err != nil {
			for _, secret := range []string{current, previous} {
				if len(secret) >= 12 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a secret (message withheld)")
				}
			}
			return
		}
		if s.Current.IsZero() {
			t.Fatal("loaded without a current secret")
		}
		if !s.Previous.IsZero() {
			want, perr := time.Parse(time.RFC3339, until)
			if perr != nil || !s.PreviousUntil.Equal(want) {
				t.Fatalf("previous accepted until %v from %q", s.PreviousUntil, until)
			}
			if s.Previous.Equal(s.Current) {
				t.Fatal("the same secret loaded as current and previous")
			}
		}
	})
}
