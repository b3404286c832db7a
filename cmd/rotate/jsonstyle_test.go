package main

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	snakeKey  = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	hex16     = regexp.MustCompile(`^[0-9a-f]{16}$`)
	timeShape = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d`)
	// A whole value that is one quoted SQL identifier ("\"users\"", or
	// "public.\"users\""); SQL text and sentences may quote inside.
	quotedIdent = regexp.MustCompile(`^([a-z_][a-z0-9_]*\.)?"[^"]*"$`)
)

// assertJSONStyle fails unless out is one JSON document in the style of
// output.go: snake_case keys, times RFC 3339 in UTC, fingerprints and key
// ids 16 hex, identifiers unquoted, durations in seconds.
func assertJSONStyle(t *testing.T, name, out string) {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON document:\n%s", name, out)
	}
	checkJSONValue(t, name, "", v)
}

func checkJSONValue(t *testing.T, name, key string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			// Maps keyed by data (node addresses, secret slots) are not
			// schema keys.
			if key != "per_node" && !strings.HasPrefix(key, "fingerprints_") && !snakeKey.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", name, k)
			}
			if strings.HasSuffix(k, "_ns") || strings.HasSuffix(k, "_ms") || k == "elapsed" || k == "eta" {
				t.Errorf("%s: key %q: durations are _seconds", name, k)
			}
			checkJSONValue(t, name, k, e)
		}
	case []any:
		for _, e := range x {
			checkJSONValue(t, name, key, e)
		}
	case string:
		switch {
		case quotedIdent.MatchString(x):
			t.Errorf("%s: %s = %q: identifiers are plain, not quoted", name, key, x)
		case timeShape.MatchString(x):
			if tm, err := time.Parse(time.RFC3339, x); err != nil || tm.Location() != time.UTC || !strings.HasSuffix(x, "Z") {
				t.Errorf("%s: %s = %q: times are RFC 3339 in UTC", name, key, x)
			}
		case strings.HasSuffix(key, "fingerprint") || strings.HasPrefix(key, "fingerprints_") || key == "kid" || strings.HasSuffix(key, "key_id") || key == "primary":
			if !hex16.MatchString(x) {
				t.Errorf("%s: %s = %q: fingerprints are 16 hex", name, key, x)
			}
		}
	}
}

// TestEveryCommandHasJSON: every command and verb that rotate --help lists
// (read from the same --help texts as the completion script) takes --json and
// -o, or is in noJSON with its reason.
func TestEveryCommandHasJSON(t *testing.T) {
	tree := completionTree(t.Context())
	var leaves []string
	for path, words := range tree {
		if path == "" {
			continue
		}
		verbs := false
		for _, w := range words {
			if !strings.HasPrefix(w, "-") {
				if _, ok := tree[path+" "+w]; ok {
					verbs = true
				}
			}
		}
		if !verbs {
			leaves = append(leaves, path)
		}
	}
	sort.Strings(leaves)
	if len(leaves) < 39 {
		t.Fatalf("only %d commands found: %v", len(leaves), leaves)
	}
	for _, path := range leaves {
		has := map[string]bool{}
		for _, w := range tree[path] {
			has[w] = true
		}
		if reason, ok := noJSON[path]; ok {
			if reason == "" || has["--json"] {
				t.Errorf("%s: in noJSON (%q) but has --json", path, reason)
			}
			continue
		}
		if !has["--json"] {
			t.Errorf("%s has no --json and no reason in noJSON", path)
		}
		if !has["--o"] && path != "keygen" {
			t.Errorf("%s has no -o json", path)
		}
	}
	for path := range noJSON {
		if _, ok := tree[path]; !ok {
			t.Errorf("noJSON names %q, which is not a command", path)
		}
	}
}

// TestEveryMutatingCommandHasDryRun (issue 15 point 4): every command the
// audit trail records as changing something takes --dry-run, except keygen
// (its only change is the -o file it creates: without -o it changes nothing).
func TestEveryMutatingCommandHasDryRun(t *testing.T) {
	tree := completionTree(t.Context())
	for name := range mutating {
		if name == "keygen" {
			continue
		}
		words, ok := tree[name]
		if !ok {
			t.Errorf("mutating names %q, which is not a command", name)
			continue
		}
		has := false
		for _, w := range words {
			has = has || w == "--dry-run"
		}
		if !has {
			t.Errorf("%s changes something but has no --dry-run", name)
		}
	}
}

// TestOutputFormatRefusesOtherValues: -o takes text or json only; a file
// name (meant for --out) is bad usage, exit 2, and nothing runs.
func TestOutputFormatRefusesOtherValues(t *testing.T) {
	for _, args := range [][]string{
		{"pg", "plan", "--role", "app", "-o", "plan.txt"},
		{"jwt", "status", "-o", "yaml"},
	} {
		r := runCLI(t, jwtVars, "pw-0123456789abcdef", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "for flag -o: want text or json") || r.stdout != "" {
			t.Errorf("%v: %v; want exit 2 naming -o", args, r)
		}
	}
	if r := runCLI(t, jwtVars, "", "jwt", "status", "-o", "text"); r.code != exitOK || !strings.HasPrefix(r.stdout, "times in ") {
		t.Errorf("-o text: %v", r)
	}
}
