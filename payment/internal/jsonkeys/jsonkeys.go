// Package jsonkeys refuses JSON objects that repeat a key, also up to case:
// encoding/json matches struct fields case-insensitively and lets the last
// duplicate win, while another JSON reader of the same signed body may take
// the first, so "amount" and "Amount" in one object could mean two amounts
// to two readers.
package jsonkeys

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf16"
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

// isSpace marks JSON whitespace.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// ws skips JSON whitespace from i.
func ws(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i // the common case, inlined
	}
	return wsRun(b, i)
}

// wsRun is ws past the fast check.
func wsRun(b []byte, i int) int {
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

// Fold appends to dst the case-folded form of key: every rune replaced by
// the smallest rune of its simple case-folding orbit (ASCII letters by
// their uppercase), an invalid UTF-8 byte by U+FFFD. Two keys have the
// same folded form exactly when bytes.EqualFold reports them equal, as
// encoding/json matches a key to a field name, so callers match keys by
// comparing folded forms ("ORDERID" for orderId).
func Fold(dst, key []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(key))[:n+len(key)]
	out := dst[n:]
	for i, c := range key {
		u := asciiUpper[c]
		if u == 0 {
			return foldRunes(dst[:n+i], key[i:])
		}
		out[i] = u
	}
	return dst
}

// asciiUpper maps each ASCII byte but NUL to its uppercase; NUL and every
// byte from 0x80 map to 0, which sends Fold to its slow path.
var asciiUpper = func() (t [256]byte) {
	for c := 1; c < utf8.RuneSelf; c++ {
		t[c] = byte(c)
		if 'a' <= c && c <= 'z' {
			t[c] = byte(c - ('a' - 'A'))
		}
	}
	return t
}()

// foldRunes is Fold past the first non-ASCII byte.
func foldRunes(dst, key []byte) []byte {
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(key[i:])
		i += size
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		dst = utf8.AppendRune(dst, low)
	}
	return dst
}

// linearKeys is the key count up to which Fields looks for a repeated key
// by scanning the keys seen; a larger object uses a set, so a hostile body
// of many keys does not cost a quadratic scan.
const linearKeys = 16

var (
	errNotJSON   = errors.New("not JSON")
	errNotObject = errors.New("not a JSON object")
)

// foldBufs holds Fields' scratch for folded keys (fn may keep what it is
// given, as far as the compiler knows, so a stack array would escape).
var foldBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Fields reads b as one JSON value (surrounding whitespace allowed), which
// must be an object or null, and calls fn with each top-level key in its
// folded form (Fold) and its value's raw bytes (exact: no surrounding
// whitespace). It accepts exactly what json.Valid accepts, in one pass:
// fn may have been called for earlier keys when b turns out not to be
// JSON. A repeated key, exactly or up to case, is ErrDuplicateKey; null is
// an object without keys. It is the reading encoding/json gives a flat
// struct, without reflection. fold and raw alias b or scratch space and
// are valid only during the call.
func Fields(b []byte, fn func(fold, raw []byte) error) error {
	return FieldsInto(b, nil, nil, fn)
}

// FieldsInto is Fields that decodes, for the keys into names, a string
// value into a buffer while it checks it, in one pass: into(fold) returns
// nil, or a buffer that a string value of that key is decoded into (as
// String decodes it: escapes resolved, invalid UTF-8 replaced), replacing
// what the buffer held, before fn is called with the raw value as usual.
// A value of another kind is only checked. sh, when not nil, remembers
// the keys of the last object read (see Shape). into and sh change
// nothing in what is accepted, refused or handed to fn.
func FieldsInto(b []byte, sh *Shape, into func(fold []byte) *[]byte, fn func(fold, raw []byte) error) error {
	i := ws(b, 0)
	if i >= len(b) {
		return errNotJSON
	}
	if b[i] != '{' {
		if !valid(b) {
			return errNotJSON
		}
		if b[i] == 'n' {
			return nil // encoding/json leaves a struct untouched for null
		}
		return errNotObject
	}
	fb := foldBufs.Get().(*[]byte)
	folds := (*fb)[:0] // every key folded, one after the other
	defer func() {
		if cap(folds) <= 4<<10 {
			*fb = folds[:0] // keep what it grew to
			foldBufs.Put(fb)
		}
	}()
	var endBuf [linearKeys]int
	ends := endBuf[:0] // where each folded key ends in folds
	var sigBuf [linearKeys]uint64
	sigs := sigBuf[:0] // keySig of each folded key
	var set map[string]struct{}
	// The keys of the last object read: while this object's keys are
	// its keys, byte for byte and in order, each is distinct from the
	// ones before it (a shape's keys are) and its folded form is known.
	var cur *shape
	if sh != nil {
		cur = sh.p.Load()
	}
	matched := 0       // keys read as cur's
	left := cur == nil // this object is not (or no longer) cur's
	var rawBuf [linearKeys][2]int
	raws := rawBuf[:0]  // where each key after cur's is in b, for a new shape
	var prefix []string // cur's keys this object began with
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return errNotJSON
			}
			e, ok := stringEnd(b, i)
			if !ok {
				return errNotJSON
			}
			key := b[i+1 : e-1]
			var fold []byte
			start := len(folds)
			if !left && matched < len(cur.raw) && string(key) == cur.raw[matched] {
				fold = cur.folds[matched]
				matched++
			} else {
				if !left { // the keys so far are cur's first ones: check the rest against them
					for _, f := range cur.folds[:matched] {
						folds = append(folds, f...)
						ends = append(ends, len(folds))
						sigs = append(sigs, keySig(f))
					}
					start = len(folds)
					left, prefix = true, cur.raw[:matched]
				}
				if len(prefix)+len(raws) < linearKeys {
					raws = append(raws, [2]int{i + 1, e - 1})
				}
				if bytes.IndexByte(key, '\\') >= 0 {
					folds = Fold(folds, []byte(unquote(b[i:e])))
				} else {
					folds = Fold(folds, key)
				}
				fold = folds[start:]
				if set == nil && len(ends) < linearKeys {
					sig := keySig(fold)
					for j, end := range ends {
						// Equal folded keys have equal signatures; most
						// keys differ in length or in their first bytes.
						if sigs[j] == sig {
							prev := 0
							if j > 0 {
								prev = ends[j-1]
							}
							if bytes.Equal(folds[prev:end], fold) {
								return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
							}
						}
					}
					ends = append(ends, len(folds))
					sigs = append(sigs, sig)
				} else {
					if set == nil {
						set = make(map[string]struct{}, 4*linearKeys)
						prev := 0
						for _, end := range ends {
							set[string(folds[prev:end])] = struct{}{}
							prev = end
						}
					}
					if _, dup := set[string(fold)]; dup {
						return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
					}
					set[string(fold)] = struct{}{}
					folds = folds[:start+len(fold)]
				}
			}
			i = ws(b, e)
			if i >= len(b) || b[i] != ':' {
				return errNotJSON
			}
			i = ws(b, i+1)
			vs := i
			var dst *[]byte
			if into != nil && i < len(b) && b[i] == '"' {
				dst = into(fold)
			}
			if dst != nil {
				if *dst, i, ok = appendValidString((*dst)[:0], b, i); !ok {
					return errNotJSON
				}
			} else if i, ok = value(b, i, 1); !ok {
				return errNotJSON
			}
			if err := fn(fold, b[vs:i]); err != nil {
				return err
			}
			if set != nil {
				folds = folds[:start] // the set holds it
			}
			i = ws(b, i)
			if i < len(b) && b[i] == ',' {
				i = ws(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return errNotJSON
		}
	}
	if ws(b, i) != len(b) {
		return errNotJSON
	}
	if sh != nil && left && set == nil && len(prefix)+len(raws) == len(ends) {
		sh.p.Store(newShape(b, prefix, raws, folds, ends))
	}
	return nil
}

// Shape remembers the keys of the last object FieldsInto read with it. A
// provider sends its notifications with the same keys in the same order
// every time; while an object's keys are the remembered ones, byte for
// byte, FieldsInto takes each key's folded form from the shape and knows
// it differs from the keys before it, instead of folding it and comparing
// it with them. A Shape only holds key names; it is safe for concurrent
// use, and its zero value remembers nothing yet.
type Shape struct{ p atomic.Pointer[shape] }

// shape is an immutable key sequence: each key as received and folded.
type shape struct {
	raw   []string
	folds [][]byte
}

// newShape returns the shape of an object whose keys are prefix (a
// shape's own strings, kept as they are), then the keys of b at raws
// (copied), folded one after the other in folds up to ends.
func newShape(b []byte, prefix []string, raws [][2]int, folds []byte, ends []int) *shape {
	n := len(folds)
	for _, r := range raws {
		n += r[1] - r[0]
	}
	buf := make([]byte, 0, n)
	buf = append(buf, folds...)
	for _, r := range raws {
		buf = append(buf, b[r[0]:r[1]]...)
	}
	keys := len(prefix) + len(raws)
	sh := &shape{raw: make([]string, keys), folds: make([][]byte, keys)}
	copy(sh.raw, prefix)
	text := string(buf[len(folds):])
	off := 0
	for k, r := range raws {
		sh.raw[len(prefix)+k] = text[off : off+r[1]-r[0]]
		off += r[1] - r[0]
	}
	prev := 0
	for k, end := range ends {
		sh.folds[k] = buf[prev:end:end]
		prev = end
	}
	return sh
}

// keySig is a word made of a folded key's length and first bytes: two
// keys with different signatures differ.
func keySig(fold []byte) uint64 {
	n := uint64(len(fold))
	if len(fold) >= 8 {
		return binary.LittleEndian.Uint64(fold) ^ n<<56
	}
	var w uint64
	for i, c := range fold {
		w |= uint64(c) << (8 * i)
	}
	return w ^ n<<56
}

// String stores the JSON string raw in dst as encoding/json would: null
// leaves dst alone, another kind of value is an error.
func String(raw []byte, dst *string) error {
	raw = trim(raw)
	if string(raw) == "null" {
		return nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return errors.New("not a string")
	}
	if plainString(raw) {
		*dst = string(raw[1 : len(raw)-1])
		return nil
	}
	if !validString(raw) {
		return errors.New("not a JSON string")
	}
	*dst = unquote(raw)
	return nil
}

// Text is a JSON body with its string copy, so that the strings read from
// it are substrings of one allocation instead of one allocation each.
type Text struct {
	b []byte
	s string
}

// NewText returns the Text of b; s must be string(b) (given when the
// caller has it already), or "" to make the copy.
func NewText(b []byte, s string) Text {
	if s == "" {
		s = string(b)
	}
	return Text{b, s}
}

// String is String for raw a value Fields handed over from t's body (so
// valid JSON, which it does not check again): a string without escapes
// and in valid UTF-8 is a substring of t's copy.
func (t Text) String(raw []byte, dst *string) error {
	// raw is valid JSON: a string holds no control character, so one
	// without '\\' in valid UTF-8 is its own content.
	if len(raw) < 2 || raw[0] != '"' {
		return String(raw, dst) // null, or not a string
	}
	if asciiPlain(raw) || bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw[1:len(raw)-1]) {
		off := cap(t.b) - cap(raw) // raw is t.b[off:…]
		*dst = t.s[off+1 : off+len(raw)-1]
		return nil
	}
	*dst = unquote(raw) // valid (Fields checked it): no need to check again
	return nil
}

// Sub returns raw, a slice of t's body, as a substring of t's copy.
func (t Text) Sub(raw []byte) string {
	off := cap(t.b) - cap(raw)
	return t.s[off : off+len(raw)]
}

// trim cuts JSON whitespace around raw.
func trim(raw []byte) []byte {
	if len(raw) == 0 || !isSpace[raw[0]] && !isSpace[raw[len(raw)-1]] {
		return raw // what Fields hands over: nothing to cut
	}
	raw = raw[ws(raw, 0):]
	for len(raw) > 0 && (raw[len(raw)-1] == ' ' || raw[len(raw)-1] == '\t' || raw[len(raw)-1] == '\n' || raw[len(raw)-1] == '\r') {
		raw = raw[:len(raw)-1]
	}
	return raw
}

// validString reports whether raw is exactly one JSON string (bytes not
// UTF-8 are allowed, as encoding/json allows and replaces them).
func validString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	for i := 1; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			return i == len(raw)-1
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(raw) {
				return false
			}
			switch raw[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(raw) {
					return false
				}
				for _, h := range raw[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 5
			default:
				return false
			}
		}
	}
	return false
}

// asciiPlain reports whether the content of the JSON string raw (quotes
// included, checked: no control byte, no unescaped quote) is ASCII
// without escapes, eight bytes at a time: then it is the string itself.
func asciiPlain(raw []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	in := raw[1 : len(raw)-1]
	i := 0
	for ; i+8 <= len(in); i += 8 {
		w := binary.LittleEndian.Uint64(in[i:])
		x := w ^ '\\'*ones
		if (w|(x-ones)&^x)&highs != 0 {
			return false
		}
	}
	for ; i < len(in); i++ {
		if in[i] >= utf8.RuneSelf || in[i] == '\\' {
			return false
		}
	}
	return true
}

// Plain reports whether raw is a JSON string without escapes, control
// characters or invalid UTF-8, whose content raw[1:len(raw)-1] is then
// the string as encoding/json decodes it.
// raw must be a value Fields handed over (so valid JSON).
func Plain(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	return asciiPlain(raw) || plainString(raw)
}

// plainString reports whether raw is a JSON string without escapes,
// control characters or invalid UTF-8: its content is the string itself.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(in)
}

// unquote decodes the valid JSON string raw (quotes included) as
// encoding/json does: escapes resolved, a lone or mismatched surrogate and
// each invalid UTF-8 byte replaced by U+FFFD.
func unquote(raw []byte) string {
	var buf [256]byte
	return string(appendUnquoted(buf[:0], raw))
}

// appendUnquoted appends the decoded valid JSON string raw to out.
func appendUnquoted(out, raw []byte) []byte {
	out = slices.Grow(out, len(raw))
	end := len(raw) - 1
	if utf8.Valid(raw[1:end]) {
		// Nothing to replace: copy the runs between escapes whole.
		for i := 1; i < end; {
			j := backslash(raw[:end], i)
			out = append(out, raw[i:j]...)
			if j == end {
				break
			}
			out, i = appendEscape(out, raw, j)
		}
		return out
	}
	for i := 1; i < end; {
		switch c := raw[i]; {
		case c == '\\':
			out, i = appendEscape(out, raw, i)
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:end])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, raw[i:i+size]...)
			}
			i += size
		}
	}
	return out
}

// appendValidString checks the string opened at b[i] as stringEnd does
// and appends its content, decoded as appendUnquoted decodes it, to dst,
// in one pass over the common case (escapes other than \u, valid UTF-8).
// It returns dst, the index after the string and whether it is valid.
func appendValidString(dst, b []byte, i int) ([]byte, int, bool) {
	start := len(dst)
	// The decoded string is at most as long as the rest of b; with 8
	// bytes more, a run is copied a word at a time, each word stored
	// whole (bytes past the run are overwritten or cut off later).
	dst = slices.Grow(dst, len(b)-i+8)
	out := dst[:cap(dst)]
	n := len(dst)
	j := i + 1
	var hi uint64 // the bytes looked at, or'ed: below 0x80 if all are ASCII
	for j < len(b) {
		if j+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[j:])
			hi |= w
			binary.LittleEndian.PutUint64(out[n:], w)
			m := special8(w)
			if m == 0 {
				j, n = j+8, n+8
				continue
			}
			k := bits.TrailingZeros64(m) >> 3 // b[j+k] is special
			j, n = j+k, n+k
		} else {
			for j < len(b) && strPlain[b[j]] {
				hi |= uint64(b[j])
				out[n] = b[j]
				j, n = j+1, n+1
			}
			if j >= len(b) {
				break
			}
		}
		switch c := b[j]; {
		case c == '"':
			dst = out[:n]
			// Escapes other than \u decode to ASCII, so the decoded
			// string is valid UTF-8 exactly when the raw one is; all
			// ASCII (every byte looked at, and more, below 0x80), it is.
			if hi&0x8080808080808080 != 0 && !utf8.Valid(dst[start:]) {
				return appendUnquoted(dst[:start], b[i:j+1]), j + 1, true
			}
			return dst, j + 1, true
		case c < 0x20:
			return out[:n], j, false
		}
		// '\\'
		if j+1 >= len(b) {
			return out[:n], j, false
		}
		e := unescaped[b[j+1]]
		if e == 0 { // \u or not an escape: the two-pass way
			end, ok := stringEnd(b, i)
			if !ok {
				return out[:start], end, false
			}
			return appendUnquoted(out[:start], b[i:end]), end, true
		}
		out[n] = e
		j, n = j+2, n+1
	}
	return out[:n], len(b), false
}

// unescaped maps the byte after '\\' of a one-byte JSON escape to what it
// stands for; 0 for 'u' and for bytes that are no escape.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// backslash returns the index of the first '\\' in b from i on (len(b) if
// none), eight bytes at a time.
func backslash(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:]) ^ '\\'*ones
		if m := (x - ones) &^ x & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && b[i] != '\\' {
		i++
	}
	return i
}

// appendEscape decodes the escape at raw[i] ('\\') of the valid JSON
// string raw, and returns out and the index after it.
func appendEscape(out, raw []byte, i int) ([]byte, int) {
	e := raw[i+1]
	i += 2
	switch e {
	case 'b':
		out = append(out, '\b')
	case 'f':
		out = append(out, '\f')
	case 'n':
		out = append(out, '\n')
	case 'r':
		out = append(out, '\r')
	case 't':
		out = append(out, '\t')
	case 'u':
		r := hex4(raw[i:])
		i += 4
		if utf16.IsSurrogate(r) {
			if i+6 <= len(raw)-1 && raw[i] == '\\' && raw[i+1] == 'u' {
				if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != utf8.RuneError {
					return utf8.AppendRune(out, d), i + 6
				}
			}
			r = utf8.RuneError
		}
		out = utf8.AppendRune(out, r)
	default: // " \ /
		out = append(out, e)
	}
	return out, i
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Int stores the JSON number raw in dst as encoding/json stores it in an
// int64: null leaves dst alone; a string, a fraction, an exponent or a
// value out of range is an error.
func Int(raw []byte, dst *int64) error {
	raw = trim(raw)
	if string(raw) == "null" {
		return nil
	}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return errors.New("not a number")
	}
	if n, ok := smallInt(raw); ok {
		*dst = n
		return nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return errors.New("not an int64")
	}
	*dst = n
	return nil
}

// smallInt parses raw when it is an optional '-' then 1 to 18 digits
// (no overflow possible), the common case; ok false leaves raw to
// strconv.
func smallInt(raw []byte) (int64, bool) {
	d := raw
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if raw[0] == '-' {
		n = -n
	}
	return n, true
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// valid reports whether b is one JSON value (surrounded by whitespace), as
// json.Valid does, without its decoder's setup.
func valid(b []byte) bool {
	i, ok := value(b, ws(b, 0), 0)
	return ok && ws(b, i) == len(b)
}

// value checks the value at b[i] and returns the index after it.
func value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return i, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = ws(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				e, ok := stringEnd(b, i)
				if !ok {
					return i, false
				}
				i = ws(b, e)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = ws(b, i+1)
			}
			var ok bool
			if i, ok = value(b, i, depth+1); !ok {
				return i, false
			}
			i = ws(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == closing {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = ws(b, i+1)
		}
	case c == '"':
		return stringEnd(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return numberEnd(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, false
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// strPlain marks the bytes a JSON string holds as they are: any but
// control characters, '"' and '\\' (json.Valid does not check UTF-8).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte from j on that is not
// strPlain (len(b) if none), eight bytes at a time.
func plainRun(b []byte, j int) int {
	for j+8 <= len(b) {
		if m := special8(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && strPlain[b[j]] {
		j++
	}
	return j
}

// special8 marks, in the high bit of each byte of the little-endian word
// w, the bytes that are not strPlain: below 0x20, '"' or '\\'. Borrows
// can set bits above a marked byte, never below, so the lowest set bit is
// exactly the first such byte.
func special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := func(x, n uint64) uint64 { return (x - n*ones) &^ x & highs } // bytes below n
	return below(w, 0x20) | below(w^'"'*ones, 1) | below(w^'\\'*ones, 1)
}

// stringEnd checks the string at b[i] and returns the index after it.
func stringEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		j = plainRun(b, j)
		if j >= len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c == '\\':
			if j+1 >= len(b) {
				return j, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(b) {
					return j, false
				}
				for _, h := range b[j+2 : j+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return j, false
					}
				}
				j += 5
			default:
				return j, false
			}
		}
	}
	return len(b), false
}

// numberEnd checks the number at b[i] and returns the index after it.
func numberEnd(b []byte, i int) (int, bool) {
	digits := func() bool {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}
