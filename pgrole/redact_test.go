package pgrole

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/pgrole/scram"
)

// verifierSecrets returns the forms of v that must never be printed: its
// text and the raw salt, StoredKey and ServerKey (as fmt would print the
// Verifier's []byte fields).
func verifierSecrets(t *testing.T, v scram.Verifier) [][]byte {
	t.Helper()
	text := strings.Trim(v.SQLLiteral(), "'")
	out := [][]byte{[]byte(text)}
	// SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
	_, rest, _ := strings.Cut(text, ":")
	salt, keys, _ := strings.Cut(rest, "$")
	stored, server, _ := strings.Cut(keys, ":")
	for _, b64 := range []string{salt, stored, server} {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(b) < 16 {
			t.Fatalf("verifier part %d bytes: %v", len(b), err)
		}
		out = append(out, b)
	}
	return out
}

// TestNoSecretInOutput: plans, steps, apply errors and the option and
// state types that carry a verifier or password, printed with any fmt verb
// or logged through slog, show neither the password nor the verifier (text
// or bytes) in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	pw := []byte("pgrole-new-password-A1s2d3f4")
	bgPw := []byte("pgrole-breakglass-password-Q9w8e7r6")
	v, err := scram.New(fingerprint.NewSecret(pw), scram.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := scram.New(fingerprint.NewSecret(bgPw), scram.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := append([][]byte{pw, bgPw}, append(verifierSecrets(t, v), verifierSecrets(t, bg)...)...)

	b := &builder{p: &Plan{New: "app_b"}}
	b.cur = &Phase{Name: "create"}
	b.addPassword("", "ALTER ROLE app_b PASSWORD %s", v)
	step := b.cur.Steps[0]
	if !strings.Contains(step.exec, v.SQLLiteral()) {
		t.Fatalf("the executor text should carry the verifier, so this test means something: %q", step.SQL)
	}
	plan := &Plan{
		Strategy: "alternate", Old: "app_a", New: "app_b", Retire: "break-glass",
		Phases:   []Phase{*b.cur},
		verifier: v, breakGlass: bg, breakGlassPassword: fingerprint.NewSecret(bgPw),
	}
	applyErr := &ApplyError{Phase: "create", Failed: step, Err: errors.New("boom")}
	for name, val := range map[string]any{
		"*Plan": plan, "Plan": *plan,
		"Step": step, "*Step": &step, "Phase": *b.cur, "[]Step": []Step{step},
		"*ApplyError": applyErr, "ApplyError": *applyErr, "error": error(applyErr),
		"RetireOptions": RetireOptions{Role: "app_a", BreakGlass: bg},
		"RotationState": RotationState{Old: "app_a", New: "app_b", Started: time.Unix(0, 0), Verifier: v},
		"[]any":         []any{plan, step, applyErr},
	} {
		leakcheck.Check(t, name, val, secrets...)
	}
}
