package webhook

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small strict JSON parser and the two canonical forms the
// bank-transfer notifiers sign: Casso's key-sorted JSON (as JavaScript's
// JSON.stringify prints it) and PayOS's key=value&… string.
//
// The parser is strict where the notifiers' own code is lenient, so that two
// different bodies never map to the same canonical bytes with different
// meanings: duplicate keys, invalid UTF-8 and lone surrogate escapes are
// refused. Numbers are kept as float64, as the notifiers' JavaScript keeps
// them, so two literals with one value (3000 and 3000.0) sign alike and
// mean alike; typed integer fields refuse values JavaScript cannot hold
// exactly (beyond 2^53-1).

const maxDepth = 32

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNum
	jStr
	jArr
	jObj
)

type jvalue struct {
	kind jkind
	b    bool
	s    string  // string value, or the number literal
	f    float64 // number value
	// obj holds an object's members in received order, or an array's
	// elements (with empty keys).
	obj []jmember
}

type jmember struct {
	key string
	val jvalue
}

func (v *jvalue) get(key string) (*jvalue, bool) {
	for i := range v.obj {
		if v.obj[i].key == key {
			return &v.obj[i].val, true
		}
	}
	return nil, false
}

var (
	errJSON         = errors.New("not valid JSON")
	errDuplicateKey = errors.New("duplicate object key")
	errTooDeep      = errors.New("JSON nested too deeply")
	errSurrogate    = errors.New("lone UTF-16 surrogate escape")
	errUTF8         = errors.New("body is not valid UTF-8")
)

// parser reads from a string copy of the body, so keys and values without
// escapes are substrings of it: one allocation for the copy instead of one
// per string.
type parser struct {
	b   string
	i   int
	err error
}

// parseJSON parses one JSON value filling the whole input (surrounding
// whitespace allowed).
func parseJSON(b []byte) (jvalue, error) {
	if !utf8.Valid(b) {
		return jvalue{}, errUTF8
	}
	p := parser{b: string(b)}
	p.ws()
	v := p.value(0)
	p.ws()
	if p.err == nil && p.i != len(p.b) {
		p.err = errJSON
	}
	if p.err != nil {
		return jvalue{}, p.err
	}
	return v, nil
}

func (p *parser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) lit(s string) {
	if len(p.b)-p.i >= len(s) && p.b[p.i:p.i+len(s)] == s {
		p.i += len(s)
		return
	}
	p.fail(errJSON)
}

func (p *parser) value(depth int) jvalue {
	if p.err != nil {
		return jvalue{}
	}
	if depth > maxDepth {
		p.fail(errTooDeep)
		return jvalue{}
	}
	if p.i >= len(p.b) {
		p.fail(errJSON)
		return jvalue{}
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		v := jvalue{kind: jObj, obj: make([]jmember, 0, 4)}
		var seen map[string]struct{} // keys, once the object is too large for a linear scan
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return v
		}
		for p.err == nil {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				p.fail(errJSON)
				break
			}
			k := p.str()
			if p.dupKey(&v, &seen, k) {
				p.fail(errDuplicateKey)
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				p.fail(errJSON)
				break
			}
			p.i++
			p.ws()
			val := p.value(depth + 1)
			v.obj = append(v.obj, jmember{k, val})
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				return v
			}
			p.fail(errJSON)
		}
		return jvalue{}
	case c == '[':
		p.i++
		v := jvalue{kind: jArr}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return v
		}
		for p.err == nil {
			p.ws()
			v.obj = append(v.obj, jmember{val: p.value(depth + 1)})
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				return v
			}
			p.fail(errJSON)
		}
		return jvalue{}
	case c == '"':
		return jvalue{kind: jStr, s: p.str()}
	case c == 't':
		p.lit("true")
		return jvalue{kind: jBool, b: true}
	case c == 'f':
		p.lit("false")
		return jvalue{kind: jBool}
	case c == 'n':
		p.lit("null")
		return jvalue{kind: jNull}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	p.fail(errJSON)
	return jvalue{}
}

// linearKeys is the member count up to which dupKey scans the object
// instead of keeping a set: a webhook's objects are small, but a hostile body
// of a megabyte of keys must not cost a quadratic scan.
const linearKeys = 16

// dupKey reports whether k is already a key of the object v, whose key set
// (built once v outgrows linearKeys) is *seen.
func (p *parser) dupKey(v *jvalue, seen *map[string]struct{}, k string) bool {
	if len(v.obj) < linearKeys {
		for i := range v.obj {
			if v.obj[i].key == k {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(v.obj))
		for i := range v.obj {
			(*seen)[v.obj[i].key] = struct{}{}
		}
	}
	if _, dup := (*seen)[k]; dup {
		return true
	}
	(*seen)[k] = struct{}{}
	return false
}

func (p *parser) num() jvalue {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.b[intStart] == '0') {
		p.fail(errJSON)
		return jvalue{}
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.fail(errJSON)
			return jvalue{}
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.fail(errJSON)
			return jvalue{}
		}
	}
	lit := p.b[start:p.i]
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		p.fail(errJSON)
		return jvalue{}
	}
	return jvalue{kind: jNum, s: lit, f: f}
}

// str parses a JSON string at p.i (which is '"').
func (p *parser) str() string {
	p.i++
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			return s
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.fail(errJSON)
			return ""
		}
		p.i++
	}
	var sb strings.Builder
	sb.WriteString(p.b[start:p.i])
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String()
		case c < 0x20:
			p.fail(errJSON)
			return ""
		case c != '\\':
			sb.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return ""
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
					p.fail(errSurrogate)
					return ""
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok {
					return ""
				}
				if r2 < 0xDC00 || r2 > 0xDFFF {
					p.fail(errSurrogate)
					return ""
				}
				r = utf16.DecodeRune(r, r2)
			}
			sb.WriteRune(r)
		default:
			p.fail(errJSON)
			return ""
		}
	}
	p.fail(errJSON)
	return ""
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		p.fail(errJSON)
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.b[p.i : p.i+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			p.fail(errJSON)
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, true
}

// appendJSString appends s as JavaScript's JSON.stringify prints it: only
// '"', '\\' and control characters are escaped (\b \f \n \r \t, otherwise
// \u00xx with lowercase hex); '/', '&', '<', '>', U+2028, U+2029 and all
// non-ASCII text stay as they are. (Go's json.Marshal differs: it escapes
// &<> and U+2028/2029.)
func appendJSString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSNumber appends f as JavaScript's Number.prototype.toString does
// (ECMA-262 Number::toString): shortest round-trip digits, plain notation
// for 1e-7 < |f| < 1e21, otherwise d.ddde±x.
func appendJSNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // d.dddde±xx
	mant, exp, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // position of the decimal point
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := k; i < n; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// appendCanonical appends v as compact JSON in JSON.stringify's style. With
// sortKeys, object keys are sorted (byte order, which is JavaScript's order
// for the ASCII keys the notifiers use) at every depth; without it they stay
// in received order.
func appendCanonical(dst []byte, v *jvalue, sortKeys bool) []byte {
	switch v.kind {
	case jNull:
		return append(dst, "null"...)
	case jBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case jNum:
		return appendJSNumber(dst, v.f)
	case jStr:
		return appendJSString(dst, v.s)
	case jArr:
		dst = append(dst, '[')
		for i := range v.obj {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, &v.obj[i].val, sortKeys)
		}
		return append(dst, ']')
	}
	var buf [24]int
	var order []int
	if sortKeys {
		order = keyOrder(v.obj, buf[:0])
	}
	return appendMembers(dst, v.obj, order, sortKeys)
}

// appendMembers appends the object with members ms, in the given order of
// indexes (nil: received order).
func appendMembers(dst []byte, ms []jmember, order []int, sortKeys bool) []byte {
	dst = append(dst, '{')
	for i := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		m := &ms[i]
		if order != nil {
			m = &ms[order[i]]
		}
		dst = appendJSString(dst, m.key)
		dst = append(dst, ':')
		dst = appendCanonical(dst, &m.val, sortKeys)
	}
	return append(dst, '}')
}

// keyOrder returns the indexes of ms sorted by key (byte order), appended
// to buf. Sorting indexes avoids moving the members.
func keyOrder(ms []jmember, buf []int) []int {
	order := buf[:0]
	sorted := true
	for i := range ms {
		order = append(order, i)
		if i > 0 && ms[i-1].key > ms[i].key {
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(ms[a].key, ms[b].key) })
	}
	return order
}
