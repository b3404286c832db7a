package scram

import "math"

// pgAccepts reports whether PostgreSQL (parse_scram_secret in
// src/backend/libpq/auth-scram.c, with pg_b64_decode of src/common/base64.c,
// as in 15 to 17) takes s as a SCRAM-SHA-256 verifier; if not, CREATE/ALTER
// ROLE … PASSWORD stores s as a plaintext password, hashed again. It models
// the server's rules, quirks included: strtok skips runs of delimiters, the
// iteration count goes through strtol (leading white space and a sign
// allowed, any value that fits a long, truncated to int), base64 refuses
// white space, and padding may carry stray bits. Parse accepts a strict
// subset of it.
func pgAccepts(s string) bool {
	tok := strtok{s: s}
	scheme, ok1 := tok.next("$")
	iter, ok2 := tok.next(":")
	salt, ok3 := tok.next("$")
	stored, ok4 := tok.next(":")
	server, ok5 := tok.rest()
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || scheme != "SCRAM-SHA-256" {
		return false
	}
	if !strtolWhole(iter) {
		return false
	}
	if _, ok := pgB64Decode(salt); !ok {
		return false
	}
	if b, ok := pgB64Decode(stored); !ok || b != 32 {
		return false
	}
	if b, ok := pgB64Decode(server); !ok || b != 32 {
		return false
	}
	return true
}

// strtok models C's strtok on one string: each call skips leading
// delimiters and returns the (non-empty) token up to the next delimiter,
// which it consumes.
type strtok struct {
	s    string
	done bool
}

func (t *strtok) next(delims string) (string, bool) {
	if t.done {
		return "", false
	}
	i := 0
	for i < len(t.s) && isDelim(t.s[i], delims) {
		i++
	}
	if i == len(t.s) {
		t.done = true
		return "", false
	}
	j := i
	for j < len(t.s) && !isDelim(t.s[j], delims) {
		j++
	}
	tok := t.s[i:j]
	if j == len(t.s) {
		t.s, t.done = "", true
	} else {
		t.s = t.s[j+1:]
	}
	return tok, true
}

// rest is strtok(NULL, ""): whatever is left, if anything.
func (t *strtok) rest() (string, bool) {
	if t.done || t.s == "" {
		return "", false
	}
	r := t.s
	t.s, t.done = "", true
	return r, true
}

func isDelim(c byte, delims string) bool {
	for i := 0; i < len(delims); i++ {
		if c == delims[i] {
			return true
		}
	}
	return false
}

// strtolWhole reports whether strtol(s, &end, 10) consumes all of s without
// ERANGE (a 64-bit long).
func strtolWhole(s string) bool {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			over = true
		} else {
			v = v*10 + d
		}
		i++
	}
	if i == start {
		return false // no digits: end = s, *end != 0 (tokens are never empty)
	}
	if i != len(s) {
		return false
	}
	if over || (!neg && v > math.MaxInt64) || (neg && v > 1<<63) {
		return false // ERANGE
	}
	return true
}

// pgB64Decode models pg_b64_decode: the decoded length, or false.
func pgB64Decode(s string) (int, bool) {
	n, pos, end := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return 0, false
		case c == '=':
			if end == 0 {
				switch pos {
				case 2:
					end = 1
				case 3:
					end = 2
				default:
					return 0, false
				}
			}
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		default:
			return 0, false
		}
		pos++
		if pos == 4 {
			n++
			if end == 0 || end > 1 {
				n++
			}
			if end == 0 || end > 2 {
				n++
			}
			pos = 0
		}
	}
	if pos != 0 {
		return 0, false
	}
	return n, true
}
