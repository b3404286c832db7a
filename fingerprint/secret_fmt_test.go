package fingerprint_test

import (
	"fmt"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
)

// holder keeps a Secret where fmt cannot call its methods: an unexported
// field, as a client or a keyring does.
type holder struct {
	name string
	key  fingerprint.Secret
}

// app holds a *holder in an unexported field, as an application's server
// struct holds a library client: on %s and %q fmt cannot format the pointer
// and re-prints the pointee with methods off.
type app struct {
	h *holder
}

// A Secret held unexported, directly, through a pointer, in a slice of
// pointers, printed with every verb (the bad-verb path included) and through
// slog, never shows its bytes in any encoding.
func TestSecretHeldUnexportedNeverPrinted(t *testing.T) {
	raw := []byte("s3cr3t-key-material-0123456789abcdef")
	h := &holder{name: "client", key: fingerprint.NewSecret(raw)}
	for name, v := range map[string]any{
		"holder":             *h,
		"*holder":            h,
		"app":                app{h: h},
		"[]*holder":          []*holder{h},
		"map[string]*holder": map[string]*holder{"a": h},
		"nested struct":      struct{ a app }{a: app{h: h}},
	} {
		leakcheck.Check(t, name, v, raw)
		for _, verb := range []string{"%s", "%q", "%v", "%+v", "%#v", "%x", "%d", "%t"} {
			if out := fmt.Sprintf(verb, v); leakcheck.Leaks(out, raw) != nil {
				t.Errorf("%s under %s shows the secret (%d encodings)", name, verb, len(leakcheck.Leaks(out, raw)))
			}
		}
	}
	if got := h.key.Bytes(); string(got) != string(raw) || h.key.Len() != len(raw) || h.key.IsZero() {
		t.Fatalf("the Secret lost its bytes: len %d", h.key.Len())
	}
	var zero fingerprint.Secret
	if zero.Bytes() != nil || !zero.IsZero() || zero.Len() != 0 || zero.String() != "[secret empty]" {
		t.Fatal("zero Secret")
	}
}
