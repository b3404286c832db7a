package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

// TestKeygenOut: -o FILE writes 0600 without a trailing newline, prints the
// fingerprint of exactly those bytes, and never replaces a file unless
// --force.
func TestKeygenOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	r := runCLI(t, nil, "", "keygen", "db", "-o", path)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("%v", r)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 || len(b) != 32 || strings.ContainsAny(string(b), "\r\n") {
		t.Fatalf("mode %v, %d bytes", st.Mode().Perm(), len(b))
	}
	if !strings.Contains(r.stderr, "fingerprint: "+fingerprint.Of(b)) {
		t.Fatalf("fingerprint is not of the file's bytes: %v", r)
	}
	if r := runCLI(t, nil, "", "keygen", "-o", path, "jwt"); r.code != exitUsage || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("existing file: %v", r)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Fatal("an existing file was replaced without --force")
	}
	if r := runCLI(t, nil, "", "keygen", "-o", path, "--force", "jwt"); r.code != 0 {
		t.Fatalf("--force: %v", r)
	}
	if b2, _ := os.ReadFile(path); string(b2) == string(b) || len(b2) != 64 {
		t.Fatal("--force did not replace the file")
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("%d files left behind", len(ents))
	}
	audit := filepath.Join(t.TempDir(), "a.jsonl")
	runCLI(t, nil, "", "--audit-log", audit, "keygen", "jwt")
	runCLI(t, nil, "", "--audit-log", audit, "keygen", "field", "-o", filepath.Join(filepath.Dir(path), "k"))
	if recs := readAuditLines(t, audit); len(recs) != 1 || recs[0].After["field"] == "" {
		t.Fatalf("audit: only -o FILE is a change: %+v", recs)
	}
}

func TestVersionAndMissingFlag(t *testing.T) {
	r := runCLI(t, nil, "", "--version")
	if r.code != 0 || !regexp.MustCompile(`^rotate \S+ .*go1\.\d+`).MatchString(r.stdout) {
		t.Fatalf("--version: %v", r)
	}
	if r := runCLI(t, nil, "", "jwt", "sign"); r.code != exitUsage || !strings.HasPrefix(r.stderr, "rotate jwt sign: missing required flag --sub\n") {
		t.Fatalf("jwt sign without --sub: %v", r)
	}
	if r := runCLI(t, nil, "", "keygen"); r.code != exitUsage || !strings.Contains(r.stderr, "rotate keygen: want one class") {
		t.Fatalf("keygen without class: %v", r)
	}
	if r := runCLI(t, nil, "", "checklist", "jwt"); r.code != exitUsage || !strings.Contains(r.stderr, `want two arguments: <class> <environment>, got "jwt"`) {
		t.Fatalf("checklist one arg: %v", r)
	}
}

func TestKeygenJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	r := runCLI(t, nil, "", "keygen", "field", "-o", path, "--json")
	b, _ := os.ReadFile(path)
	want := `{
  "class": "field",
  "fingerprint": "` + fingerprint.Of(b) + `",
  "file": "` + path + `"
}
`
	if r.code != 0 || r.stdout != want || strings.Contains(r.stdout, string(b)) {
		t.Fatalf("%v", r)
	}
}
