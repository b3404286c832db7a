package pgrole_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goodgo/rotation/pgrole"
)

// Issue 11.15: a non-ASCII role name is refused with the character named
// as written, never as the mojibake of its first byte ("Ã" for "é").
func TestNonASCIINameErrorReadable(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"café", `character 'é' (not ASCII) at byte 3`},
		{"app_ứng", `character 'ứ' (not ASCII) at byte 4`},
		{"bad\xffname", `byte 0xff (not UTF-8) at byte 3`},
		{strings.Repeat("é", 40), `character 'é'`},
	} {
		err := pgrole.ValidateName(tc.name)
		if !errors.Is(err, pgrole.ErrInvalidName) && !errors.Is(err, pgrole.ErrNameTooLong) {
			t.Fatalf("%q: %v", tc.name, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "Ã") || !utf8.ValidString(msg) {
			t.Errorf("%q: mojibake or broken UTF-8 in %q", tc.name, msg)
		}
		if len(tc.name) <= pgrole.MaxNameLen && !strings.Contains(msg, tc.want) {
			t.Errorf("%q: %q does not say %q", tc.name, msg, tc.want)
		}
	}
}
