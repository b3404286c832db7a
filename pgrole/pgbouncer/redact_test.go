package pgbouncer

import (
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/leakcheck"
)

// TestNoSecretInOutput: a Userlist printed with any fmt verb or logged
// through slog shows none of its secrets in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	s1 := []byte("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$c3RvcmVka2V5c3RvcmVka2V5:c2VydmVya2V5c2VydmVya2V5")
	s2 := []byte("md5-pgbouncer-admin-secret-X4c5v6")
	u := NewUserlist()
	if err := u.Set("app", fingerprint.NewSecret(s1)); err != nil {
		t.Fatal(err)
	}
	if err := u.Set("admin", fingerprint.NewSecret(s2)); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"*Userlist": u, "Userlist": *u, "[]any": []any{u, *u}} {
		leakcheck.Check(t, name, v, s1, s2)
	}
}
