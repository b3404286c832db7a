package jwtkeys

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestParseHeader(t *testing.T) {
	cases := []struct {
		in       string
		alg, kid string
		ok       bool
	}{
		{`{"alg":"HS256","kid":"abc","typ":"JWT"}`, `"HS256"`, `"abc"`, true},
		{` { "typ" : "JWT" , "alg" : "HS256" } `, `"HS256"`, ``, true},
		{`{"alg":"HS256","kid":42}`, `"HS256"`, `42`, true},
		{`{"alg":"HS256","kid":null}`, `"HS256"`, `null`, true},
		{`{"alg":"HS256","kid":{"a":1}}`, `"HS256"`, `{"a":1}`, true},
		{`{"alg":"HS256","ALG":"none"}`, `"none"`, ``, true}, // encoding/json: case-insensitive, last wins
		{`{"alg":"HS256","alg":"none"}`, `"none"`, ``, true},
		{`{"alg":"HS\u0032\u0035\u0036"}`, `"HS\u0032\u0035\u0036"`, ``, true},
		{`{}`, ``, ``, true},
		{`{"alg":"HS256",}`, ``, ``, false},
		{`{"alg":"HS256"} x`, ``, ``, false},
		{`["alg"]`, ``, ``, false},
		{`{"alg":tru}`, ``, ``, false},
		{``, ``, ``, false},
	}
	for _, c := range cases {
		h, ok := parseHeader([]byte(c.in))
		if ok != c.ok || string(h.Alg) != c.alg || string(h.Kid) != c.kid {
			t.Errorf("parseHeader(%s) = %q %q %v, want %q %q %v", c.in, h.Alg, h.Kid, ok, c.alg, c.kid, c.ok)
		}
	}
}

// FuzzParseHeader checks that the allocation-free fast path agrees with
// encoding/json on every input it claims.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{`{"alg":"HS256","kid":"abc","typ":"JWT"}`, `{"alg":"HS256","kid":42}`, `{"Alg":"x"}`,
		`{"alg":"HS256","alg":"none"}`, ` {} `, `{"a":[1,2]}`, `{"alg":1e5,"kid":-0.5}`, `{"kid":true,"alg":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok, sure := parseHeaderFast(b)
		if !sure {
			return
		}
		var raw struct {
			Alg json.RawMessage `json:"alg"`
			Kid json.RawMessage `json:"kid"`
		}
		err := json.Unmarshal(b, &raw)
		if ok != (err == nil) {
			t.Fatalf("fast ok=%v, encoding/json err=%v for %q", ok, err, b)
		}
		if ok && (!bytes.Equal(h.Alg, raw.Alg) || !bytes.Equal(h.Kid, raw.Kid)) {
			t.Fatalf("fast %q %q, encoding/json %q %q for %q", h.Alg, h.Kid, raw.Alg, raw.Kid, b)
		}
	})
}
