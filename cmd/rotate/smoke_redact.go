package main

import (
	"fmt"
	"io"
	"strings"
)

// Format prints the secret's variable name and fingerprints for every fmt
// verb: its set sits in an unexported field, where fmt would print the
// secrets' bytes.
func (s smokeSecret) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "smokeSecret{"+s.name+"="+s.set.Redacted()+"}")
}

// Format prints the smoke test's secrets by fingerprint for every fmt verb.
func (s smoke) Format(f fmt.State, _ rune) {
	parts := make([]string, len(s.secrets))
	for i, sec := range s.secrets {
		parts[i] = sec.name + "=" + sec.set.Redacted()
	}
	_, _ = io.WriteString(f, "smoke{"+strings.Join(parts, " ")+"}")
}
