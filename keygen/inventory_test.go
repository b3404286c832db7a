package keygen

import (
	"strings"
	"testing"

	"github.com/goodgo/rotation/secretenv"
)

// TestClassesAreInventoryClasses keeps the link secretenv.Class.ID documents:
// every keygen class is the ID of an inventory class, and what it generates
// passes that class's rules for the secrets it replaces (the password of a
// URL variable, the value itself otherwise), so "rotate keygen <id>" is the
// generator of inventory class <id>.
func TestClassesAreInventoryClasses(t *testing.T) {
	for _, c := range Classes() {
		ic, ok := secretenv.LookupClass(string(c))
		if !ok {
			t.Errorf("keygen class %q is no inventory class", c)
			continue
		}
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, v := range ic.Vars {
			if v.Identifier || strings.HasPrefix(v.Name, "CASSO_") || strings.HasPrefix(v.Name, "PAYOS_") {
				continue // account names, and keys their notifier issues
			}
			r := v.Rule
			if r.Encoding == secretenv.URLPassword {
				r = secretenv.Rule{Encoding: secretenv.Raw, MinLen: r.MinLen}
			}
			if _, err := secretenv.Decode(v.Name, s, r); err != nil {
				t.Errorf("rotate keygen %s makes a secret %s refuses: %v", c, v.Name, err)
			}
			checked++
		}
		if checked == 0 {
			t.Errorf("inventory class %q has no variable a %s secret goes in", ic.ID, c)
		}
	}
}
