package main

import (
	"strings"
	"testing"
)

// FuzzSplitHeaders: "rotate payment smoke --callback webhook" parses header
// lines and a body from stdin. Any input gives headers and a body or an
// error, never a panic.
func FuzzSplitHeaders(f *testing.F) {
	f.Add("webhook-id: msg_1\nwebhook-timestamp: 1795000000\nwebhook-signature: v1,abc\n\n{\"a\":1}")
	f.Add("garbage{")
	f.Add("\n\nbody only")
	f.Add("a: b\r\n c\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		h, body, err := splitHeaders([]byte(in))
		if err != nil {
			return
		}
		if len(body) > len(in) {
			t.Fatalf("body longer than the input")
		}
		_ = h.Get("webhook-id")
	})
}

// FuzzReadSecret: a secret read from stdin loses at most one trailing
// newline ("\n" or "\r\n") and nothing else; empty input is refused.
func FuzzReadSecret(f *testing.F) {
	for _, s := range []string{"secret", "secret\n", "secret\r\n", "secret\n\n", "\n", "", "\r", "a\rb"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, keep bool) {
		env := &Env{Stdin: strings.NewReader(in)}
		b, err := readSecret(env, "", keep)
		want := in
		if !keep {
			if strings.HasSuffix(want, "\r\n") {
				want = want[:len(want)-2]
			} else {
				want = strings.TrimSuffix(want, "\n")
			}
		}
		switch {
		case want == "" && err == nil:
			t.Fatalf("empty secret accepted from %d bytes of input", len(in))
		case want != "" && len(in) <= maxSecretInput && (err != nil || string(b) != want):
			// Lengths only: the input stands for a secret.
			t.Fatalf("readSecret(%d bytes, keep=%v) = %d bytes, %v; want %d bytes", len(in), keep, len(b), err, len(want))
		}
	})
}
