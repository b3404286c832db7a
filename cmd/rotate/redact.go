package main

import (
	"bytes"
	"io"
	"regexp"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

// redactor passes error output through, replacing every secret it knows of
// (the inventory's variables as set in the environment, and their decoded
// forms) with its redacted form, and the password of any URL with
// "[redacted]". It is the last line of defence: commands already never print
// secrets on stderr.
type redactor struct {
	w       io.Writer
	secrets [][]byte
	repl    [][]byte
}

// minRedacted is the shortest value the redactor looks for.
const minRedacted = 8

var urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]+@`)

func newRedactor(w io.Writer, src secretenv.Source) io.Writer {
	if _, ok := w.(*redactor); ok {
		return w
	}
	r := &redactor{w: w}
	for _, c := range secretenv.Inventory() {
		for _, v := range c.Vars {
			raw, ok, err := src.Lookup(v.Name)
			// Identifiers (partner codes, app ids) are not secret, and values
			// this short would redact ordinary words.
			if err != nil || !ok || v.Identifier || len(raw) < minRedacted {
				continue
			}
			r.add([]byte(raw))
			if s, err := secretenv.Decode(v.Name, raw, v.Rule); err == nil && s.Len() >= minRedacted {
				r.add(s.Bytes())
			}
		}
	}
	return r
}

func (r *redactor) add(secret []byte) {
	r.secrets = append(r.secrets, secret)
	r.repl = append(r.repl, []byte(fingerprint.NewSecret(secret).Redacted()))
}

// Write redacts p and writes it whole. Redaction works per Write call: the
// commands write whole lines.
func (r *redactor) Write(p []byte) (int, error) {
	out := urlPassword.ReplaceAll(p, []byte("${1}[redacted]@"))
	for i, s := range r.secrets {
		out = bytes.ReplaceAll(out, s, r.repl[i])
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
