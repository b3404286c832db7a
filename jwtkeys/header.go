package jwtkeys

import (
	"encoding/json"
)

// hdrFields is what the verifier reads from a JOSE header: the raw JSON
// values of alg and kid (nil when absent), kept raw so a non-string value is
// detected and nothing is copied.
type hdrFields struct {
	Alg, Kid []byte
}

// parseHeader reads alg and kid from a JOSE header. A fast path handles the
// flat objects every JWT library writes, without allocating; anything else
// (escapes, nested values, keys that match alg/kid only case-insensitively,
// malformed JSON) goes through encoding/json, so the result is always what
// encoding/json would give. ok is false for invalid JSON or a non-object.
func parseHeader(b []byte) (h hdrFields, ok bool) {
	if h, ok, sure := parseHeaderFast(b); sure {
		return h, ok
	}
	var raw struct {
		Alg json.RawMessage `json:"alg"`
		Kid json.RawMessage `json:"kid"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return hdrFields{}, false
	}
	return hdrFields{Alg: raw.Alg, Kid: raw.Kid}, true
}

// parseHeaderFast returns sure=false whenever it is not certain to agree
// with encoding/json.
func parseHeaderFast(b []byte) (h hdrFields, ok, sure bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return h, false, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return h, skipWS(b, i+1) == len(b), true
	}
	for {
		// key
		if i >= len(b) || b[i] != '"' {
			return h, false, false
		}
		ks, ke, next, simple := scanString(b, i)
		if !simple {
			return h, false, false
		}
		key := b[ks:ke]
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return h, false, false
		}
		i = skipWS(b, i+1)
		// value
		vs := i
		if i >= len(b) {
			return h, false, false
		}
		switch c := b[i]; {
		case c == '"':
			_, _, next, simple := scanString(b, i)
			if !simple {
				return h, false, false
			}
			i = next
		case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
			j := i
			for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
				j++
			}
			if !json.Valid(b[i:j]) { // a single scalar: no allocation
				return h, false, false
			}
			i = j
		default: // objects, arrays, anything else
			return h, false, false
		}
		val := b[vs:i]
		switch {
		case string(key) == "alg":
			h.Alg = val
		case string(key) == "kid":
			h.Kid = val
		case len(key) == 3 && (equalFold3(key, "alg") || equalFold3(key, "kid")):
			return h, false, false // encoding/json matches keys case-insensitively
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return h, false, false
		}
		if b[i] == '}' {
			if skipWS(b, i+1) != len(b) {
				return hdrFields{}, false, true
			}
			return h, true, true
		}
		if b[i] != ',' {
			return h, false, false
		}
		i = skipWS(b, i+1)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString scans the JSON string starting at b[i] == '"'. simple is false
// when it has escapes, control or non-ASCII bytes, or is unterminated.
func scanString(b []byte, i int) (start, end, next int, simple bool) {
	start = i + 1
	for j := start; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			return start, j, j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}

func equalFold3(b []byte, s string) bool {
	for i := 0; i < 3; i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
