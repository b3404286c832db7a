package fieldcrypt

import (
	"encoding/base64"
	"testing"

	"github.com/goodgo/rotation/internal/leakcheck"
)

// TestNoSecretInOutput: a keyring (primary, next, previous), printed with
// any fmt verb or logged through slog, shows no key in any encoding: not
// the base64 text it was given, not the raw 32 bytes.
func TestNoSecretInOutput(t *testing.T) {
	raw := [][]byte{
		[]byte("fieldcrypt-primary-key-32-bytes!"),
		[]byte("fieldcrypt-next-key-is-32-bytes!"),
		[]byte("fieldcrypt-previous-key-32bytes!"),
	}
	text := make([]string, len(raw))
	for i, k := range raw {
		text[i] = base64.StdEncoding.EncodeToString(k)
	}
	r, err := NewStagedKeyring(text[0], text[1], text[2])
	if err != nil {
		t.Fatal(err)
	}
	secrets := append([][]byte{[]byte(text[0]), []byte(text[1]), []byte(text[2])}, raw...)
	for name, v := range map[string]any{"*Keyring": r, "Keyring": *r, "[]any": []any{r, struct{ r *Keyring }{r}}} {
		leakcheck.Check(t, name, v, secrets...)
	}
}
