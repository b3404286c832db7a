package webhook

import (
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
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

// jvalue is a value of a parsed document, as its readers see it: kind,
// then the boolean, the string (or the number's literal) and the number.
// An object's members and an array's elements stay in the document: len
// and member read them. A jvalue is valid until its document is released.
type jvalue struct {
	kind jkind
	b    bool
	s    string
	f    float64
	d    *jdoc
	// first and n locate an object's members in received order, or an
	// array's elements (with empty keys), in d.ms.
	first, n uint32
}

// len returns the number of members of an object or elements of an array.
func (v *jvalue) len() int { return int(v.n) }

// member returns the key and value of v's member (element) i.
func (v *jvalue) member(i int) (string, jvalue) {
	m := &v.d.ms[int(v.first)+i]
	return v.d.str(m.key), v.d.value(&m.val)
}

// members returns v's members (elements) as stored in its document.
func (v *jvalue) members() []jmember { return v.d.ms[v.first : v.first+v.n] }

// key returns the key of v's member i.
func (v *jvalue) key(i int) string { return v.d.str(v.d.ms[int(v.first)+i].key) }

func (v *jvalue) get(key string) (jvalue, bool) {
	for i := range v.len() {
		if v.key(i) == key {
			_, val := v.member(i)
			return val, true
		}
	}
	return jvalue{}, false
}

// The document stores values without pointers (strings as offsets into
// its text), so building the tree costs no GC write barrier and a pooled
// document's arena is never scanned.
type (
	// jstr is d.text[off:off+n], or d.strs[off] when esc (a string with
	// escapes, decoded).
	jstr struct {
		off, n uint32
		esc    bool
	}
	jnode struct {
		kind     jkind
		b        bool
		s        jstr
		f        float64
		first, n uint32
	}
	jmember struct {
		key jstr
		val jnode
	}
)

// jdoc is a parsed document: parse reads from a string copy of the body,
// so keys and values without escapes are substrings of it (one allocation
// for the copy instead of one per string).
type jdoc struct {
	text string
	strs []string  // decoded strings that had escapes
	ms   []jmember // every finished object's members and array's elements
	// stack holds the members of the objects and arrays being parsed.
	stack []jmember
	root  jnode
	// buf is scratch for the signed string, reused with the document,
	// ends for where its values end (PayOS).
	buf  []byte
	ends []uint32

	i   int
	err error
}

func (d *jdoc) str(s jstr) string {
	if s.esc {
		return d.strs[s.off]
	}
	return d.text[s.off : s.off+s.n]
}

func (d *jdoc) value(n *jnode) jvalue {
	return jvalue{kind: n.kind, b: n.b, s: d.str(n.s), f: n.f, d: d, first: n.first, n: n.n}
}

var (
	errJSON         = errors.New("not valid JSON")
	errDuplicateKey = errors.New("duplicate object key")
	errTooDeep      = errors.New("JSON nested too deeply")
	errSurrogate    = errors.New("lone UTF-16 surrogate escape")
	errUTF8         = errors.New("body is not valid UTF-8")
	errTooLarge     = errors.New("JSON too large")
)

// parseJSON parses one JSON value filling the whole input (surrounding
// whitespace allowed), into a document of its own.
func parseJSON(b []byte) (jvalue, error) {
	return new(jdoc).parse(b)
}

var docs = sync.Pool{New: func() any { return new(jdoc) }}

// getDoc returns a pooled document. The values parsed into it are valid
// until release; the strings read from them stay valid after it (they
// alias the body's string copy or are fresh).
func getDoc() *jdoc { return docs.Get().(*jdoc) }

// maxPooled caps the members and scratch bytes a pooled document keeps: a
// hostile body of a megabyte of keys must not stay in memory afterwards.
const maxPooled = 256

func (d *jdoc) release() {
	if cap(d.ms) > maxPooled || cap(d.stack) > maxPooled || cap(d.buf) > 16*maxPooled || cap(d.strs) > maxPooled || cap(d.ends) > maxPooled {
		return
	}
	clear(d.strs)
	*d = jdoc{ms: d.ms[:0], stack: d.stack[:0], buf: d.buf[:0], strs: d.strs[:0], ends: d.ends[:0]}
	docs.Put(d)
}

// parse parses one JSON value filling the whole input (surrounding
// whitespace allowed) into d, replacing what d held.
//
// Invalid UTF-8 is refused: inside strings by parseStr, and anywhere else
// a byte above 0x7F is not JSON.
func (d *jdoc) parse(b []byte) (jvalue, error) {
	if len(b) > math.MaxUint32/2 {
		return jvalue{}, errTooLarge
	}
	return d.parseText(string(b))
}

// parseView is parse reading b in place, without parse's string copy of
// it: the document's strings alias b, so nothing read from the document
// may be kept past the caller's use of b (or be read after b changes).
// A caller keeps copies only: PayOS.verify keeps its own copy of the
// signed string, and TestPayOSEventOutlivesBody checks that an event is
// unchanged when the body is overwritten afterwards.
func (d *jdoc) parseView(b []byte) (jvalue, error) {
	if len(b) > math.MaxUint32/2 {
		return jvalue{}, errTooLarge
	}
	if len(b) == 0 {
		return d.parseText("")
	}
	return d.parseText(unsafe.String(&b[0], len(b)))
}

// parseText is parse of the document text t.
func (d *jdoc) parseText(t string) (jvalue, error) {
	d.text, d.i, d.err = t, 0, nil
	d.ms, d.stack, d.strs = d.ms[:0], d.stack[:0], d.strs[:0]
	d.ws()
	d.root = d.parseValue(0)
	d.ws()
	if d.err == nil && d.i != len(d.text) {
		d.err = errJSON
	}
	if d.err != nil {
		return jvalue{}, d.err
	}
	return d.value(&d.root), nil
}

// peek returns the byte at d.i, or 0 at the end.
func (d *jdoc) peek() byte {
	if d.i < len(d.text) {
		return d.text[d.i]
	}
	return 0
}

func (d *jdoc) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *jdoc) ws() {
	for d.i < len(d.text) {
		switch d.text[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jdoc) lit(s string) {
	if len(d.text)-d.i >= len(s) && d.text[d.i:d.i+len(s)] == s {
		d.i += len(s)
		return
	}
	d.fail(errJSON)
}

func (d *jdoc) parseValue(depth int) jnode {
	if d.err != nil {
		return jnode{}
	}
	if depth > maxDepth {
		d.fail(errTooDeep)
		return jnode{}
	}
	if d.i >= len(d.text) {
		d.fail(errJSON)
		return jnode{}
	}
	switch c := d.text[d.i]; {
	case c == '{':
		d.i++
		v := jnode{kind: jObj}
		var seen map[string]struct{} // keys, once the object is too large for a linear scan
		var bloom uint64             // keyBit of every key so far
		d.ws()
		if d.i < len(d.text) && d.text[d.i] == '}' {
			d.i++
			return v
		}
		mark := len(d.stack)
		for d.err == nil {
			d.ws()
			if d.i >= len(d.text) || d.text[d.i] != '"' {
				d.fail(errJSON)
				break
			}
			k := d.parseStr()
			if d.dupKey(d.stack[mark:], &seen, &bloom, k) {
				d.fail(errDuplicateKey)
			}
			d.ws()
			if d.i >= len(d.text) || d.text[d.i] != ':' {
				d.fail(errJSON)
				break
			}
			d.i++
			d.ws()
			// Strings and numbers, most members, without the recursive
			// call (parseValue's frame is large).
			// (parseValue refuses any value, a string too, past maxDepth.)
			// The member is written in place, field by field: a jmember
			// built on the stack and copied whole costs store-forwarding
			// stalls, the largest item of a PayOS parse in the profile.
			idx := len(d.stack)
			d.stack = append(d.stack, jmember{})
			d.stack[idx].key = k
			switch c := d.peek(); {
			case depth+1 > maxDepth:
				d.stack[idx].val = d.parseValue(depth + 1)
			case c == '"':
				s := d.parseStr()
				d.stack[idx].val = jnode{kind: jStr, s: s}
			case c == '-' || (c >= '0' && c <= '9'):
				d.stack[idx].val = d.num()
			default:
				val := d.parseValue(depth + 1) // may grow d.stack: index after
				d.stack[idx].val = val
			}
			d.ws()
			if d.i < len(d.text) && d.text[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.text) && d.text[d.i] == '}' {
				d.i++
				v.first, v.n = d.finish(mark)
				return v
			}
			d.fail(errJSON)
		}
		d.stack = d.stack[:mark]
		return jnode{}
	case c == '[':
		d.i++
		v := jnode{kind: jArr}
		d.ws()
		if d.i < len(d.text) && d.text[d.i] == ']' {
			d.i++
			return v
		}
		mark := len(d.stack)
		for d.err == nil {
			d.ws()
			val := d.parseValue(depth + 1)
			d.stack = append(d.stack, jmember{val: val})
			d.ws()
			if d.i < len(d.text) && d.text[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.text) && d.text[d.i] == ']' {
				d.i++
				v.first, v.n = d.finish(mark)
				return v
			}
			d.fail(errJSON)
		}
		d.stack = d.stack[:mark]
		return jnode{}
	case c == '"':
		return jnode{kind: jStr, s: d.parseStr()}
	case c == 't':
		d.lit("true")
		return jnode{kind: jBool, b: true}
	case c == 'f':
		d.lit("false")
		return jnode{kind: jBool}
	case c == 'n':
		d.lit("null")
		return jnode{kind: jNull}
	case c == '-' || (c >= '0' && c <= '9'):
		return d.num()
	}
	d.fail(errJSON)
	return jnode{}
}

// linearKeys is the member count up to which dupKey scans the object
// instead of keeping a set: a webhook's objects are small, but a hostile body
// of a megabyte of keys must not cost a quadratic scan.
const linearKeys = 16

// finish moves the members the object or array being parsed pushed on
// the stack since mark into the arena and returns where they are.
func (d *jdoc) finish(mark int) (first, n uint32) {
	start := len(d.ms)
	d.ms = append(d.ms, d.stack[mark:]...)
	d.stack = d.stack[:mark]
	return uint32(start), uint32(len(d.ms) - start)
}

// dupKey reports whether k is already a key of the members ms, whose key
// set (built once they outgrow linearKeys) is *seen and whose keyBits are
// *bloom.
func (d *jdoc) dupKey(ms []jmember, seen *map[string]struct{}, bloom *uint64, k jstr) bool {
	ks := d.str(k)
	if len(ms) < linearKeys {
		bit := keyBit(ks)
		if *bloom&bit == 0 { // no key so far has k's length and ends
			*bloom |= bit
			return false
		}
		*bloom |= bit
		for i := range ms {
			if ms[i].key.n == k.n && d.str(ms[i].key) == ks {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(ms))
		for i := range ms {
			(*seen)[d.str(ms[i].key)] = struct{}{}
		}
	}
	if _, dup := (*seen)[ks]; dup {
		return true
	}
	(*seen)[ks] = struct{}{}
	return false
}

// keyBit maps a key to one of 64 bits by its length and its first and
// last bytes: equal keys have equal bits, so a key whose bit no earlier
// key of its object set repeats none of them.
func keyBit(k string) uint64 {
	h := uint(len(k))
	if len(k) > 0 {
		h = h*7 + uint(k[0])*3 + uint(k[len(k)-1])
	}
	return 1 << (h & 63)
}

func (d *jdoc) num() jnode {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.text) && d.text[d.i] >= '0' && d.text[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.text[d.i] == '-' {
		d.i++
	}
	intStart := d.i
	if n := digits(); n == 0 || (n > 1 && d.text[intStart] == '0') {
		d.fail(errJSON)
		return jnode{}
	}
	intEnd := d.i
	if d.i < len(d.text) && d.text[d.i] == '.' {
		d.i++
		if digits() == 0 {
			d.fail(errJSON)
			return jnode{}
		}
	}
	if d.i < len(d.text) && (d.text[d.i] == 'e' || d.text[d.i] == 'E') {
		d.i++
		if d.i < len(d.text) && (d.text[d.i] == '+' || d.text[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			d.fail(errJSON)
			return jnode{}
		}
	}
	lit := d.text[start:d.i]
	if intEnd == d.i && d.i-intStart <= 15 {
		// An integer of at most 15 digits: exact in a float64, so
		// converting it is what ParseFloat returns (-0 included).
		var u uint64
		for i := intStart; i < d.i; i++ {
			u = u*10 + uint64(d.text[i]-'0')
		}
		f := float64(u)
		if intStart > start {
			f = -f
		}
		return jnode{kind: jNum, s: jstr{off: uint32(start), n: uint32(d.i - start)}, f: f}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		d.fail(errJSON)
		return jnode{}
	}
	return jnode{kind: jNum, s: jstr{off: uint32(start), n: uint32(d.i - start)}, f: f}
}

// strPlain marks the bytes a string's fast path steps over: printable
// ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte of t from i on that is not
// strPlain (len(t) if none), eight bytes at a time.
func plainRun(t string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := func(x, n uint64) uint64 { return (x - n*ones) &^ x & highs } // bytes below n
	for i+8 <= len(t) {
		_ = t[i+7]
		w := uint64(t[i]) | uint64(t[i+1])<<8 | uint64(t[i+2])<<16 | uint64(t[i+3])<<24 |
			uint64(t[i+4])<<32 | uint64(t[i+5])<<40 | uint64(t[i+6])<<48 | uint64(t[i+7])<<56
		// Borrows can mark bytes above a marked one, never below: the
		// lowest set bit is exactly the first byte that is not plain.
		if m := w&highs | below(w, 0x20) | below(w^'"'*ones, 1) | below(w^'\\'*ones, 1); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(t) && strPlain[t[i]] {
		i++
	}
	return i
}

// parseStr parses a JSON string at d.i (which is '"').
func (d *jdoc) parseStr() jstr {
	t := d.text
	i := d.i + 1
	start := i
	// Fast path: no escapes.
	ascii := true
	for i < len(t) {
		i = plainRun(t, i)
		if i >= len(t) {
			break
		}
		c := t[i]
		if c >= utf8.RuneSelf {
			ascii = false
			i++
			continue
		}
		if c == '"' {
			if !ascii && !utf8.ValidString(t[start:i]) {
				d.i = i
				d.fail(errUTF8)
				return jstr{}
			}
			d.i = i + 1
			return jstr{off: uint32(start), n: uint32(i - start)}
		}
		if c == '\\' {
			break
		}
		d.i = i
		d.fail(errJSON) // a control character
		return jstr{}
	}
	d.i = i
	if !ascii && !utf8.ValidString(t[start:i]) {
		d.fail(errUTF8)
		return jstr{}
	}
	var sb strings.Builder
	sb.WriteString(d.text[start:d.i])
	for d.i < len(d.text) {
		c := d.text[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.ValidString(sb.String()) {
				d.fail(errUTF8)
				return jstr{}
			}
			d.strs = append(d.strs, sb.String())
			return jstr{off: uint32(len(d.strs) - 1), n: uint32(sb.Len()), esc: true}
		case c < 0x20:
			d.fail(errJSON)
			return jstr{}
		case c != '\\':
			sb.WriteByte(c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.text) {
			break
		}
		e := d.text[d.i]
		d.i++
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
			r, ok := d.hex4()
			if !ok {
				return jstr{}
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || d.i+1 >= len(d.text) || d.text[d.i] != '\\' || d.text[d.i+1] != 'u' {
					d.fail(errSurrogate)
					return jstr{}
				}
				d.i += 2
				r2, ok := d.hex4()
				if !ok {
					return jstr{}
				}
				if r2 < 0xDC00 || r2 > 0xDFFF {
					d.fail(errSurrogate)
					return jstr{}
				}
				r = utf16.DecodeRune(r, r2)
			}
			sb.WriteRune(r)
		default:
			d.fail(errJSON)
			return jstr{}
		}
	}
	d.fail(errJSON)
	return jstr{}
}

func (d *jdoc) hex4() (rune, bool) {
	if d.i+4 > len(d.text) {
		d.fail(errJSON)
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.text[d.i : d.i+4]) {
		var x byte
		switch {
		case c >= '0' && c <= '9':
			x = c - '0'
		case c >= 'a' && c <= 'f':
			x = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			x = c - 'A' + 10
		default:
			d.fail(errJSON)
			return 0, false
		}
		r = r<<4 | rune(x)
	}
	d.i += 4
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
		if c >= utf8.RuneSelf || strPlain[c] {
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
	if f == math.Trunc(f) && math.Abs(f) < 1e21 && math.Abs(f) <= 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10) // an integer JavaScript prints in full
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
func appendCanonical(dst []byte, v jvalue, sortKeys bool) []byte {
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
		for i := range v.len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			_, el := v.member(i)
			dst = appendCanonical(dst, el, sortKeys)
		}
		return append(dst, ']')
	}
	var buf [24]int
	var order []int
	if sortKeys {
		order = keyOrder(&v, buf[:0])
	}
	return appendMembers(dst, v, order, sortKeys)
}

// appendMembers appends the object v with its members in the given order
// of indexes (nil: received order).
func appendMembers(dst []byte, v jvalue, order []int, sortKeys bool) []byte {
	dst = append(dst, '{')
	for i := range v.len() {
		if i > 0 {
			dst = append(dst, ',')
		}
		j := i
		if order != nil {
			j = order[i]
		}
		k, val := v.member(j)
		dst = appendJSString(dst, k)
		dst = append(dst, ':')
		dst = appendCanonical(dst, val, sortKeys)
	}
	return append(dst, '}')
}

// keyOrder returns the indexes of v's members sorted by key (byte order),
// appended to buf. Sorting indexes avoids moving the members; a small
// object (every webhook's) is insertion-sorted over its keys gathered
// once, usually already nearly in order.
func keyOrder(v *jvalue, buf []int) []int {
	order := buf[:0]
	n := v.len()
	if n > 32 {
		for i := range n {
			order = append(order, i)
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(v.key(a), v.key(b)) })
		return order
	}
	// Compared by their first 8 bytes as a big-endian number (byte
	// order), then whole on a tie.
	var keys [32]string
	var prefix [32]uint64
	for i := range n {
		k := v.key(i)
		var p uint64
		for j := range 8 {
			p <<= 8
			if j < len(k) {
				p |= uint64(k[j])
			}
		}
		keys[i], prefix[i] = k, p
		order = append(order, i)
		for j := i; j > 0; j-- {
			a := order[j-1]
			if prefix[a] < p || prefix[a] == p && keys[a] <= k {
				break
			}
			order[j], order[j-1] = a, i
		}
	}
	return order
}
