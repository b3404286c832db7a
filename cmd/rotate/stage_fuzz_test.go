package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/secretenv"
)

// FuzzStageStdin: any stdin given to "jwt stage --stdin" gives keys or an
// error, never a panic, and an error never shows what was read.
func FuzzStageStdin(f *testing.F) {
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n")
	f.Add("one-line-only-secret-value\n")
	f.Add("\r\n\r\n")
	f.Add(" padded-secret-with-space \nsecond-secret-value-xxxxxxxx")
	f.Fuzz(func(t *testing.T, in string) {
		var errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(in), Stderr: &errb, Vars: secretenv.Map(nil)}
		keys, err := newKeys(env, keygen.Class("jwt"), []string{"access", "refresh"}, true)
		if err == nil {
			if len(keys) != 2 || keys[0] == "" || keys[1] == "" {
				t.Fatalf("%d keys", len(keys))
			}
			return
		}
		for _, line := range strings.Split(in, "\n") {
			if s := strings.TrimSpace(line); len(s) >= 12 && strings.Contains(err.Error(), s) {
				t.Fatal("the error shows the input")
			}
		}
	})
}

// FuzzFleetReport: whatever an instance answers, comparing it with the
// expected keys never panics, and a report that matches is in sync.
func FuzzFleetReport(f *testing.F) {
	f.Add([]byte(`{"slots":[{"ring":"access","slot":"next","fingerprint":"0123456789abcdef"}]}`))
	f.Add([]byte(`{"slots":[{"ring":"field","slot":"previous"},{"ring":"field","slot":"previous","fingerprint":"x"}]}`))
	f.Add([]byte(`{"slots":null}`))
	want := fleetWant{}
	want.add("access", "next", "0123456789abcdef")
	want.add("access", "current", "")
	want.add("field", "previous", "fedcba9876543210")
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep jwtkeys.FleetReport
		if json.Unmarshal(b, &rep) != nil {
			return
		}
		diffs := compareFleet(&rep, want)
		for _, d := range diffs {
			_ = d.String()
		}
	})
}
