package redisauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
)

// TestNoSecretInOutput: a plan, its steps, an apply error and the retire
// options, printed with any fmt verb or logged through slog, show neither
// the password nor its whole hash in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	pw := []byte("redis-new-password-B5n6m7k8j9")
	hash := Hash(pw)
	step := Step{Node: "10.0.0.5:6379", Phase: PhaseCreate, Command: "ACL SETUSER app #" + hash[:16] + "…", args: []any{"ACL", "SETUSER", "app", "#" + hash}}
	plan := &Plan{Strategy: "dual", Old: "app", New: "app", Nodes: []Node{{Addr: "10.0.0.5:6379"}}, Steps: []Step{step},
		password: fingerprint.NewSecret(pw), hash: hash}
	if s := plan.String(); !strings.Contains(s, plan.Fingerprint()) {
		t.Fatalf("String %q does not name the fingerprint", s)
	}
	applyErr := &ApplyError{Failed: step, Err: errors.New("boom")}
	secrets := [][]byte{pw, []byte(hash)}
	for name, v := range map[string]any{
		"*Plan": plan, "Plan": *plan, "Step": step, "[]Step": []Step{step},
		"*ApplyError": applyErr, "error": error(applyErr), "ApplyError": *applyErr,
		"RetireOptions": plan.RetireOptions(),
		"[]any":         []any{plan, step, applyErr},
	} {
		leakcheck.Check(t, name, v, secrets...)
	}
}
