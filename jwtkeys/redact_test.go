package jwtkeys

import (
	"testing"

	"github.com/goodgo/rotation/internal/leakcheck"
	"github.com/goodgo/rotation/secretenv"
)

// TestNoSecretInOutput: a LiveKeyring (on a map source), its Keyring and a
// minted Pair, printed with any fmt verb or logged through slog, show no
// key and no token in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	access := "jwt-access-current-secret-0123456789abcdef0123"
	refresh := "jwt-refresh-current-secret-fedcba9876543210fedc"
	keys, err := Open(secretenv.Map(map[string]string{"JWT_SECRET": access, "JWT_REFRESH_SECRET": refresh}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService[Claims](keys)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := svc.Issue("user-1", Claims{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{[]byte(access), []byte(refresh), []byte(pair.Access), []byte(pair.Refresh)}
	for name, v := range map[string]any{
		"*LiveKeyring": keys, "*Keyring": keys.Keyring(), "Pair": pair, "*Pair": &pair,
		"Source": secretenv.Map(map[string]string{"JWT_SECRET": access}),
		// A Pair nested in a value that slog hands to encoding/json is
		// marshalled with its tokens, by design: its exported fields are
		// the response to send. Top-level, it logs redacted.
		"[]any": []any{keys, keys.Keyring(), secretenv.Map(map[string]string{"JWT_SECRET": access})},
	} {
		leakcheck.Check(t, name, v, secrets...)
	}
}
