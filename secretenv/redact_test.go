package secretenv

import (
	"testing"

	"github.com/goodgo/rotation/internal/leakcheck"
)

// TestNoSecretInOutput: a map source, printed with any fmt verb or logged
// through slog (alone or nested), shows none of its values, and neither
// does a looked-up Value.
func TestNoSecretInOutput(t *testing.T) {
	v1, v2 := "secretenv-value-one-D4f5g6h7", "secretenv-value-two-Y2u3i4o5"
	src := Map(map[string]string{"A_SECRET": v1, "B_SECRET": v2})
	got, err := Require(src, "A_SECRET", Rule{})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"Source": src, "[]Source": []Source{src}, "struct": struct{ Vars Source }{src}, "Secret": got, "[]any": []any{src, got},
	} {
		leakcheck.Check(t, name, v, []byte(v1), []byte(v2))
	}
}
