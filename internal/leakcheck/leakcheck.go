// Package leakcheck is the test helper behind the project's rule that a
// secret never reaches output: it formats values the ways a program or a
// test prints them (every fmt verb, log/slog's text and JSON handlers) and
// fails the test if any common encoding of a known secret shows up.
//
// fmt cannot call a field's own redacting Format method when the field is
// unexported, so a struct holding a fingerprint.Secret in an unexported
// field prints the secret's bytes (as a decimal list under %v, as hex under
// %x) unless the struct itself redacts. Check is what catches that.
package leakcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// Encodings returns the forms in which secret could appear in output: the
// raw text, fmt's decimal list of its bytes ("115 101 99", as %v prints a
// []byte in a struct), %#v's "0x73, 0x65" list, lower- and upper-case hex,
// standard and URL base64 (padded and raw), and Go-quoted text.
func Encodings(secret []byte) []string {
	dec := make([]string, len(secret))
	gox := make([]string, len(secret))
	for i, b := range secret {
		dec[i] = strconv.Itoa(int(b))
		gox[i] = fmt.Sprintf("0x%x", b)
	}
	q := strconv.Quote(string(secret))
	out := []string{
		string(secret),
		strings.Join(dec, " "),
		strings.Join(gox, ", "),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		q[1 : len(q)-1],
	}
	return out
}

// Outputs returns v printed with %v, %+v, %#v, %s, %x, %X, %q and %d, and
// as an attribute through slog's text and JSON handlers.
func Outputs(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("msg", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("msg", "v", v)
	out["slog text"] = text.String()
	out["slog json"] = js.String()
	return out
}

// Leaks returns, for each way of printing v that shows one of secrets,
// a description naming the output and the encoding (never the secret).
func Leaks(v any, secrets ...[]byte) []string {
	var found []string
	for how, s := range Outputs(v) {
		for i, sec := range secrets {
			for j, enc := range Encodings(sec) {
				if len(enc) > 0 && strings.Contains(s, enc) {
					found = append(found, fmt.Sprintf("%s shows secret #%d (encoding #%d)", how, i, j))
				}
			}
		}
	}
	return found
}

// Check fails t if printing v in any way of Outputs shows any of secrets
// in any encoding of Encodings. The failure names the output and the
// encoding, not the secret. Secrets should be long and random enough (16
// bytes or more) not to occur in the output by chance.
func Check(t testing.TB, name string, v any, secrets ...[]byte) {
	t.Helper()
	for _, l := range Leaks(v, secrets...) {
		t.Errorf("%s: %s", name, l)
	}
}
