package payment

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/goodgo/rotation/secretenv"
)

// FuzzVerifyHex: no panic on any signature text, and only the hex of the
// right MAC (either case) accepted.
func FuzzVerifyHex(f *testing.F) {
	set := rotating()
	good := hex.EncodeToString(mac(cur, "m"))
	old := hex.EncodeToString(mac(prev, "m"))
	for _, s := range []string{good, strings.ToUpper(good), old, "", "0", "zz", good + "00", strings.Repeat("f", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		slot, err := set.VerifyHex(sha256.New, []byte("m"), sig, t0)
		if err != nil {
			return
		}
		l := strings.ToLower(sig)
		if !(slot == secretenv.SlotCurrent && l == good) && !(slot == secretenv.SlotPrevious && l == old) {
			t.Fatalf("accepted %q as %s", sig, slot)
		}
	})
}
