package fingerprint_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

// FuzzValid: Valid accepts exactly 16 lowercase hex characters (what the
// CLI's --fingerprint flag takes), and every fingerprint Of makes is valid.
func FuzzValid(f *testing.F) {
	for _, s := range []string{fingerprint.OfString("x"), "", "0123456789abcdef", "0123456789ABCDEF", "0123456789abcdeg", "SHA2-256(stdin)="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := hex.DecodeString(s)
		want := len(s) == fingerprint.Len && err == nil && s == strings.ToLower(s)
		if got := fingerprint.Valid(s); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", s, got, want)
		}
		if fp := fingerprint.OfString(s); !fingerprint.Valid(fp) {
			t.Fatalf("OfString gives an invalid fingerprint %q", fp)
		}
	})
}

// FuzzSecretNeverPrints: whatever bytes a Secret holds, fmt and JSON show
// only its redacted form.
func FuzzSecretNeverPrints(f *testing.F) {
	f.Add([]byte("kc6tTSHu+jKgSig6NGFEUEaeIMGDC++DhIl5kOrrqK9y"))
	f.Add([]byte("\x00\xff%v%s"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := fingerprint.NewSecret(b)
		j, _ := json.Marshal(s)
		for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), string(j)} {
			if len(b) >= 8 && strings.Contains(out, string(b)) {
				t.Fatal("secret printed (message withheld)")
			}
			if len(b) >= 8 && strings.Contains(out, hex.EncodeToString(b)) {
				t.Fatal("secret printed as hex (message withheld)")
			}
		}
	})
}
