package pgrole_test

import (
	"strconv"
	"testing"

	"github.com/goodgo/rotation/pgrole"
)

// FuzzSplitLoginName: role names come from the operator (--role) and from
// pg_roles. SplitLoginName never panics and round-trips through LoginName;
// NextLoginName never returns the current name or an invalid one, and its
// answer splits back to the same base.
func FuzzSplitLoginName(f *testing.F) {
	for _, s := range []string{"goodgo_app", "goodgo_app_v2", "goodgo_app_v10", "app_v1", "app_v02", "app_v+3",
		"_v2", "x_v3_v2", "app_v99999999999999999999", "", "ü_v2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		base, gen := pgrole.SplitLoginName(name)
		switch {
		case gen == 1:
			if base != name {
				t.Fatalf("SplitLoginName(%q) = %q, 1: base must be the name itself", name, base)
			}
		case gen >= 2:
			if want := base + "_v" + strconv.Itoa(gen); want != name {
				t.Fatalf("SplitLoginName(%q) = %q, %d: does not rebuild the name", name, base, gen)
			}
			if got, err := pgrole.LoginName(base, gen); err == nil && got != name {
				t.Fatalf("LoginName(%q, %d) = %q, want %q", base, gen, got, name)
			}
		default:
			t.Fatalf("SplitLoginName(%q): generation %d", name, gen)
		}
		next, err := pgrole.NextLoginName(base, name, func(string) bool { return false })
		if err != nil {
			return
		}
		if next == name || pgrole.ValidateName(next) != nil {
			t.Fatalf("NextLoginName(%q, %q) = %q", base, name, next)
		}
		if b, g := pgrole.SplitLoginName(next); b != base || g < 2 {
			t.Fatalf("NextLoginName(%q, %q) = %q splits to %q, %d", base, name, next, b, g)
		}
	})
}
