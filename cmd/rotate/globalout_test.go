package main

import (
	"strings"
	"testing"
)

// TestOutputFlagsBeforeTheCommand: --json and -o given before the command
// (rotate -o json inventory) are the command's, as if given after it; alone
// they name what is missing.
func TestOutputFlagsBeforeTheCommand(t *testing.T) {
	want := runCLI(t, nil, "", "inventory", "--json")
	if want.code == exitUsage || !strings.HasPrefix(want.stdout, "[") {
		t.Fatalf("inventory --json: %v", want)
	}
	for _, args := range [][]string{
		{"--json", "inventory"},
		{"-o", "json", "inventory"},
		{"-o=json", "inventory"},
		{"--tz", "UTC", "-o", "json", "inventory"},
	} {
		if got := runCLI(t, nil, "", args...); got.code != want.code || got.stdout != want.stdout {
			t.Errorf("rotate %s: %v", strings.Join(args, " "), got)
		}
	}
	if r := runCLI(t, nil, "", "-o", "json"); r.code != exitUsage || !strings.Contains(r.stderr, "needs a command") {
		t.Errorf("rotate -o json: %v", r)
	}
	if r := runCLI(t, nil, "", "-o"); r.code != exitUsage || !strings.Contains(r.stderr, "needs a value") {
		t.Errorf("rotate -o: %v", r)
	}
	if r := runCLI(t, nil, "", "-o", "yaml", "inventory"); r.code != exitUsage {
		t.Errorf("rotate -o yaml inventory: %v", r)
	}
}
