package scram_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/pgrole/scram"
)

// FuzzNew: any password (read from stdin or a file by the CLI, so any bytes,
// invalid UTF-8 included) gives a verifier, ErrEmptyPassword or, exactly
// when some client would send it in another form, ErrUnportablePassword;
// never a panic. The verifier parses back, matches the password, and never
// shows it.
func FuzzNew(f *testing.F) {
	for _, s := range []string{"pw", "new password", "ünïcödé", "\u00a0spaced\u2003", "\xff\xfe", "a\x00b", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		v, err := scram.New(sec(pw), scram.Options{Iterations: 2, Rand: bytes.NewReader(make([]byte, 16))})
		if pw == "" {
			if err == nil {
				t.Fatal("empty password accepted")
			}
			return
		}
		if why := scram.Portable(pw); why != "" {
			if !errors.Is(err, scram.ErrUnportablePassword) {
				t.Fatalf("unportable password (%s) accepted: %v", why, err)
			}
			if len(pw) >= 8 && strings.Contains(err.Error(), pw) {
				t.Fatal("error shows the password")
			}
			return
		}
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := scram.Parse(string(v.Secret().Bytes())); err != nil {
			t.Fatalf("verifier does not parse back: %v", err)
		}
		if !v.Matches(sec(pw)) {
			t.Fatal("verifier does not match its password")
		}
		if len(pw) >= 8 {
			for _, s := range []string{v.String(), v.Redacted(), v.GoString()} {
				if strings.Contains(s, pw) {
					t.Fatal("verifier text shows the password")
				}
			}
		}
	})
}
