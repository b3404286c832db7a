package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The bash completion script completes commands, verbs and a verb's flags,
// as bash itself runs it.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	r := runCLI(t, nil, "", "completion", "bash")
	if r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	script := filepath.Join(t.TempDir(), "rotate.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _rotate; printf '%s\\n' \"${COMPREPLY[@]}\""
		out, err := exec.Command("bash", "--norc", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.Fields(string(out))
	}
	for _, c := range []struct {
		line string
		want []string
	}{
		{"rotate jw", []string{"jwt"}},
		{"rotate --t", []string{"--ticket", "--tz"}},
		{"rotate --ver", []string{"--version"}},
		{"rotate pg plan --js", []string{"--json"}},
		{"rotate pg rollback --dr", []string{"--dry-run"}},
		{"rotate payment smoke --callback vnpay --j", []string{"--json"}},
		{"rotate pg ap", []string{"apply"}},
		{"rotate pg apply --res", []string{"--resume"}},
		{"rotate --ticket GOO-1 jwt flush-sessions --ye", []string{"--yes"}},
		{"rotate keygen ", []string{"--force", "--json", "--o", "--out", "db", "field", "jwt", "redis", "webhook", "--help"}},
	} {
		got := complete(c.line)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q completes to %q, want %q", c.line, got, c.want)
		}
	}
}
