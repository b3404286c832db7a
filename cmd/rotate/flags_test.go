package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

// Flags are accepted after positional arguments, as kubectl, gh and git
// accept them; "--" still ends the flags.
func TestFlagsAnywhere(t *testing.T) {
	for _, c := range []struct {
		args       string
		stdin      bool
		out        string
		positional []string
	}{
		{"jwt prod --stdin", true, "", []string{"jwt", "prod"}},
		{"--stdin jwt prod", true, "", []string{"jwt", "prod"}},
		{"jwt --out f prod", false, "f", []string{"jwt", "prod"}},
		{"jwt --out=f prod --stdin", true, "f", []string{"jwt", "prod"}},
		{"jwt -- --stdin", false, "", []string{"jwt", "--stdin"}},
		{"-- --out x", false, "", []string{"--out", "x"}},
		{"- --stdin", true, "", []string{"-"}},
		{"", false, "", nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		stdin := fs.Bool("stdin", false, "")
		out := fs.String("out", "", "")
		if err := fs.Parse(flagsFirst(fs, strings.Fields(c.args))); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		got := fs.Args()
		if len(got) == 0 {
			got = nil
		}
		if *stdin != c.stdin || *out != c.out || !reflect.DeepEqual(got, c.positional) {
			t.Errorf("%q: stdin=%v out=%q args=%q, want %v %q %q", c.args, *stdin, *out, got, c.stdin, c.out, c.positional)
		}
	}
}

func TestFlagAfterArgumentsThroughTheCLI(t *testing.T) {
	r := runCLI(t, nil, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "checklist", "jwt", "production", "--stdin")
	if r.code != exitOK || !strings.Contains(r.stdout, "Rotation — JWT signing keys — production") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
