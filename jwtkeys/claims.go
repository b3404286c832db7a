package jwtkeys

import (
	"encoding/json"
	"errors"
	"strings"
	"unsafe"
)

// registered are the claim names checked here: RFC 7519 §4.1 plus
// token_use. encoding/json matches object keys to struct fields
// case-insensitively (with Unicode folding: "ſub" matches sub), so without
// this check "EXP" would satisfy the required exp.
var registered = [...]string{"exp", "nbf", "iat", "iss", "sub", "aud", "jti", "token_use"}

var (
	errClaimCase      = errors.New("a registered claim name is spelled in another case (claim names are case-sensitive, RFC 7519 §4)")
	errClaimDuplicate = errors.New("a registered claim appears twice")
	errNumericDate    = errors.New("exp, nbf and iat must be JSON numbers (NumericDate, RFC 7519 §2), not strings or other values")
	errClaimsShape    = errors.New("claims are not a JSON object")
)

// checkRegistered scans the top-level keys of the claims object b and
// refuses what encoding/json would otherwise accept as a registered claim:
// a key equal to a registered name only case-insensitively, a registered
// name given twice (encoding/json keeps the last), and exp/nbf/iat given as
// anything but a JSON number (encoding/json turns "exp":"9999999999" into a
// json.Number). It does not allocate for keys without escapes.
func checkRegistered(b []byte) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errClaimsShape
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	var seen uint16
	for {
		if i >= len(b) || b[i] != '"' {
			return errClaimsShape
		}
		end, ok := stringEnd(b, i)
		if !ok {
			return errClaimsShape
		}
		var key string
		if ks, ke, _, simple := scanString(b, i); simple {
			key = viewString(b[ks:ke]) // only compared, never retained
		} else if err := json.Unmarshal(b[i:end], &key); err != nil {
			return errClaimsShape
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return errClaimsShape
		}
		i = skipWS(b, i+1)
		vs := i
		i, ok = skipValue(b, i, 0)
		if !ok {
			return errClaimsShape
		}
		if err := checkClaim(key, b[vs:i], &seen); err != nil {
			return err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return errClaimsShape
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] != ',' {
			return errClaimsShape
		}
		i = skipWS(b, i+1)
	}
}

func checkClaim(key string, val []byte, seen *uint16) error {
	for n, name := range registered {
		if key == name {
			if *seen&(1<<n) != 0 {
				return errClaimDuplicate
			}
			*seen |= 1 << n
			if n < 3 && !isNumber(val) { // exp, nbf, iat
				return errNumericDate
			}
			return nil
		}
	}
	if len(key) > 4*len("token_use") { // longer than any fold of a registered name
		return nil
	}
	for _, name := range registered {
		if strings.EqualFold(key, name) {
			return errClaimCase
		}
	}
	return nil
}

func isNumber(v []byte) bool {
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

// stringEnd returns the index just past the JSON string starting at
// b[i] == '"', honouring escapes.
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

const maxClaimsDepth = 64

// skipValue returns the index just past the JSON value starting at b[i].
// It checks structure only as far as needed to find the value's end; the
// full decode that follows validates the rest.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxClaimsDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, false
				}
				if i, ok = stringEnd(b, i); !ok {
					return 0, false
				}
				i = skipWS(b, i)
				if i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipWS(b, i+1)
			}
			if i, ok = skipValue(b, i, depth+1); !ok {
				return 0, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipWS(b, i+1)
		}
	default: // number or literal
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}

// viewString views b as a string without copying; b must not change while
// the string is in use.
func viewString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
