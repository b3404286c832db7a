package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

// The rollback in docs/rotation-procedures.md, as written (issue 13 point
// 9): after promotion (new in JWT_SECRET, old in _PREVIOUS with _SINCE),
// put the old value back into JWT_SECRET, the new one into _NEXT, and
// remove _PREVIOUS and _SINCE. The old step (leaving _PREVIOUS) is refused.
func TestJWTRollbackAsDocumented(t *testing.T) {
	write := func(dir string, kv map[string]string) {
		for k, v := range kv {
			p := filepath.Join(dir, k)
			if v == "" {
				os.Remove(p)
				continue
			}
			if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	promoted := map[string]string{
		"JWT_SECRET": jwtB, "JWT_SECRET_PREVIOUS": jwtA, "JWT_SECRET_PREVIOUS_SINCE": "2026-11-27T08:00:00Z",
		"JWT_REFRESH_SECRET": jwtRA,
	}
	// The old wording: _PREVIOUS still holds the old value.
	dir := t.TempDir()
	write(dir, promoted)
	write(dir, map[string]string{"JWT_SECRET": jwtA, "JWT_SECRET_NEXT": jwtB})
	if r := runCLI(t, nil, "", "jwt", "status", "--dir", dir); r.code == exitOK || !strings.Contains(r.stderr, "same secret in two places") {
		t.Fatalf("old rollback step accepted: %+v", r)
	}
	// As documented now.
	dir = t.TempDir()
	write(dir, promoted)
	write(dir, map[string]string{"JWT_SECRET": jwtA, "JWT_SECRET_NEXT": jwtB, "JWT_SECRET_PREVIOUS": "", "JWT_SECRET_PREVIOUS_SINCE": ""})
	r := runCLI(t, nil, "", "jwt", "status", "--dir", dir)
	if r.code != exitOK {
		t.Fatalf("documented rollback: %+v", r)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 7 {
			rows[f[2]] = f
		}
	}
	if rows["JWT_SECRET"][3] != "signing" || rows["JWT_SECRET"][4] != fingerprint.OfString(jwtA) ||
		rows["JWT_SECRET_NEXT"][3] != "staged" || rows["JWT_SECRET_NEXT"][4] != fingerprint.OfString(jwtB) {
		t.Fatalf("after rollback: %s", r.stdout)
	}
}
