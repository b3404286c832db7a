// Package jsonkeys refuses JSON objects that repeat a key, also up to case:
// encoding/json matches struct fields case-insensitively and lets the last
// duplicate win, while another JSON reader of the same signed body may take
// the first, so "amount" and "Amount" in one object could mean two amounts
// to two readers.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrDuplicateKey: an object repeats a key, exactly or up to case.
var ErrDuplicateKey = errors.New("JSON object repeats a key (exactly or up to case)")

// Check returns an error wrapping ErrDuplicateKey when b is a JSON object
// with two top-level keys equal under case folding (as encoding/json
// matches them). Only the top level is checked: the bodies it guards are
// decoded into flat structs, which read nothing below it. It does not
// validate b: a caller decodes b with encoding/json afterwards, which
// refuses what is not JSON. It allocates nothing for keys without escapes.
func Check(b []byte) error {
	i := ws(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	var arr [32][]byte
	seen := arr[:0]
	i++
	for {
		i = ws(b, i)
		if i >= len(b) || b[i] == '}' || b[i] != '"' {
			return nil // end, or not JSON: left to the decoder
		}
		end, esc := str(b, i)
		if end < 0 {
			return nil
		}
		key := b[i+1 : end]
		if esc {
			var s string
			if json.Unmarshal(b[i:end+1], &s) != nil {
				return nil
			}
			key = []byte(s)
		}
		for _, k := range seen {
			if bytes.EqualFold(k, key) {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
		}
		seen = append(seen, key)
		i = ws(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return nil
		}
		// Skip the value: strings whole, brackets counted.
		depth := 0
	value:
		for i++; i < len(b); i++ {
			switch b[i] {
			case '"':
				e, _ := str(b, i)
				if e < 0 {
					return nil
				}
				i = e
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					return nil // the object's end
				}
				depth--
			case ',':
				if depth == 0 {
					i++
					break value
				}
			}
		}
		if i >= len(b) {
			return nil
		}
	}
}

// ws skips JSON whitespace from i.
func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// str returns the index of the quote closing the string opened at b[i], or
// -1, and whether the string has escapes.
func str(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j, esc
		}
	}
	return -1, esc
}

// Fields reads b, which must be valid JSON (json.Valid), as one object and
// calls fn with each top-level key, exactly as spelled after unescaping,
// and its value's raw bytes. A repeated key, exactly or up to case, is
// ErrDuplicateKey; null is an object without keys, anything else that is
// not a JSON object is an error. It is
// the reading encoding/json gives a flat struct, without reflection: keys
// are matched by the caller (case-insensitively, as encoding/json does).
// key and raw alias b (or a scratch copy for an escaped key) and are valid
// only during the call.
func Fields(b []byte, fn func(key, raw []byte) error) error {
	if !json.Valid(b) {
		return errors.New("not JSON")
	}
	i := ws(b, 0)
	if bytes.HasPrefix(b[i:], []byte("null")) {
		return nil // encoding/json leaves a struct untouched for null
	}
	if b[i] != '{' {
		return errors.New("not a JSON object")
	}
	var arr [32][]byte
	seen := arr[:0]
	i++
	for {
		i = ws(b, i)
		if b[i] == '}' {
			return nil
		}
		end, esc := str(b, i)
		key := b[i+1 : end]
		if esc {
			var k string
			if err := json.Unmarshal(b[i:end+1], &k); err != nil {
				return err
			}
			key = []byte(k)
		}
		for _, k := range seen {
			if bytes.EqualFold(k, key) {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
		}
		seen = append(seen, key)
		i = ws(b, end+1) + 1 // past ':'
		i = ws(b, i)
		start := i
		depth := 0
	value:
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i, _ = str(b, i)
				if depth == 0 {
					i++
					break value
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					break value
				}
				depth--
				if depth == 0 {
					i++
					break value
				}
			case ',', ' ', '\t', '\n', '\r':
				if depth == 0 {
					break value
				}
			}
		}
		if err := fn(key, b[start:i]); err != nil {
			return err
		}
		i = ws(b, i)
		if b[i] == ',' {
			i++
		}
	}
}

// String stores the JSON string raw in dst as encoding/json would: null
// leaves dst alone, another kind of value is an error.
func String(raw []byte, dst *string) error {
	if string(raw) == "null" {
		return nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return errors.New("not a string")
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		*dst = string(raw[1 : len(raw)-1])
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// Int stores the JSON number raw in dst as encoding/json stores it in an
// int64: null leaves dst alone; a string, a fraction, an exponent or a
// value out of range is an error.
func Int(raw []byte, dst *int64) error {
	if string(raw) == "null" {
		return nil
	}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return errors.New("not a number")
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return errors.New("not an int64")
	}
	*dst = n
	return nil
}
