package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{`{}`, ` { } `, `{"a":1,"b":{"a":2,"A":3}}`, `[{"a":1},{"a":1}]`, `"x"`, `{"amount":1,"amounts":2}`,
		`{"a":"}\",\"a\":","b":[1,{"c":"]"}]}`, `not json`, `{"a"`} {
		if err := Check([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, dup := range []string{`{"a":1,"a":2}`, `{"amount":1,"Amount":2}`, `{"x":[1,{"y":2}],"X":2}`, `{"k":1,"\u212a":2}`,
		`{"s":1,"\u017f":2}`, `{"a\u006d":1, "AM":2}`, "{\n\"t\" : {\"t\":1} ,\r\"T\":2}"} {
		if err := Check([]byte(dup)); !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: %v, want ErrDuplicateKey", dup, err)
		}
	}
}

// FuzzCheck: on any valid JSON object, Check reports a duplicate exactly
// when encoding/json's case-insensitive reading of the top-level keys
// would see two keys fold to one.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"amount":1,"Amount":2}`))
	f.Add([]byte(`{"a":{"b":[1,2,{"c":null}]},"\u0041":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return
		}
		if err == nil {
			// No duplicate reported: the exact keys are distinct, so the
			// map has one entry per key in the text.
			var keys []string
			d := json.NewDecoder(bytesReader(b))
			if _, e := d.Token(); e != nil {
				return
			}
			for d.More() {
				k, e := d.Token()
				if e != nil {
					return
				}
				keys = append(keys, k.(string))
				var skip json.RawMessage
				if d.Decode(&skip) != nil {
					return
				}
			}
			if len(keys) != len(m) {
				t.Fatalf("%q: %d keys, %d distinct, no duplicate reported", b, len(keys), len(m))
			}
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// String decodes every JSON value as json.Unmarshal into a string does.
func FuzzString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`, "\"\xff\xfe\"", `"\"\\\/\b\f\n\r\t"`, `null`, `1`, `"\ud800\u0041"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got, want string
		gotErr := String(raw, &got)
		wantErr := json.Unmarshal(raw, &want)
		if (gotErr == nil) != (wantErr == nil) || got != want {
			t.Fatalf("String(%q) = %q, %v; encoding/json %q, %v", raw, got, gotErr, want, wantErr)
		}
	})
}

// valid accepts exactly what json.Valid accepts.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":[1,2.5e-3,{"b":null}],"c":"\u00e9"} `, `[`, `01`, `-`, `1.`, `"\x"`, "\"\xff\"", `[1,]`, `{"a" 1}`, `tru`, `nul`, `{"a":1}x`, "\"a\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}

// Fold: two keys fold alike exactly when bytes.EqualFold calls them equal
// (how encoding/json matches a key to a field name).
func FuzzFold(f *testing.F) {
	for _, p := range [][2]string{{"k", "\u212a"}, {"S", "\u017f"}, {"\xff", "\xfe"}, {"\xff", "\ufffd"}, {"orderId", "ORDERID"}, {"ǅ", "ǆ"}, {"a", "b"}} {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if got, want := bytes.Equal(Fold(nil, a), Fold(nil, b)), bytes.EqualFold(a, b); got != want {
			t.Fatalf("Fold(%q) = %q, Fold(%q) = %q; EqualFold %v", a, Fold(nil, a), b, Fold(nil, b), want)
		}
	})
}

// Fields reads what encoding/json reads: on valid JSON it fails exactly
// for a value that is neither an object nor null and for top-level keys
// that repeat up to case, and otherwise hands over each member as
// json.Decoder sees it (the key folded, the value's exact bytes).
func FuzzFields(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,{"c":"}"}],"d":"\u00e9"}`, `null`, ` {} `, `[1]`, `"x"`, `{"a":1,"A":2}`, `{"\u006b":1,"\u212a":2}`,
		`{"a" : 1 , "b" : null }`, `{"a":1}x`, `{"a":}`, "{\"\xff\":1,\"\xfe\":2}", `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		err := Fields(b, func(fold, raw []byte) error {
			got = append(got, string(fold)+"\x00"+string(raw))
			return nil
		})
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("%q is not JSON, Fields accepted it", b)
			}
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		tok, terr := d.Token()
		if terr != nil { // valid JSON Token cannot read: a number beyond float64
			if err == nil {
				t.Fatalf("%q is not an object, Fields accepted it", b)
			}
			return
		}
		if tok == nil {
			if err != nil || len(got) != 0 {
				t.Fatalf("%q: null read as %q, %v", b, got, err)
			}
			return
		}
		if tok != json.Delim('{') {
			if err == nil {
				t.Fatalf("%q is not an object, Fields accepted it", b)
			}
			return
		}
		var want []string
		seen := map[string]bool{}
		dup := false
		for d.More() {
			k, _ := d.Token()
			var raw json.RawMessage
			if e := d.Decode(&raw); e != nil {
				t.Fatalf("%q: %v", b, e)
			}
			fold := string(Fold(nil, []byte(k.(string))))
			dup = dup || seen[fold]
			seen[fold] = true
			want = append(want, fold+"\x00"+string(raw))
		}
		if dup {
			if !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("%q repeats a key up to case: %v", b, err)
			}
			return
		}
		if err != nil || len(got) != len(want) {
			t.Fatalf("%q: Fields %q, %v; encoding/json %q", b, got, err, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: Fields %q; encoding/json %q", b, got, want)
			}
		}
	})
}

// appendValidString accepts exactly the strings stringEnd accepts, ends
// where it ends, and decodes them as json.Unmarshal into a string does
// (appendUnquoted), after whatever dst held, wherever the string sits.
func FuzzAppendValidString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\"\\\/\b\f\n\r\t x"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, "\"\xff\xfe\"", `"abc`, `"a\`, `"\x"`,
		"\"a\x01\"", `"{\"app_id\":2553,\"embed_data\":\"{\\\"a\\\":1}\"}" tail`, `"\u12"`, `"\"`} {
		f.Add([]byte(s), []byte("pre"))
	}
	f.Fuzz(func(t *testing.T, b, pre []byte) {
		if len(b) == 0 || b[0] != '"' {
			return
		}
		got, end, ok := appendValidString(slices.Clone(pre), b, 0)
		wantEnd, wantOK := stringEnd(b, 0)
		if ok != wantOK || ok && end != wantEnd {
			t.Fatalf("appendValidString(%q) ends at %d, %v; stringEnd %d, %v", b, end, ok, wantEnd, wantOK)
		}
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(b[:end], &want); err != nil {
			t.Fatalf("%q: encoding/json: %v", b[:end], err)
		}
		if string(got) != string(pre)+want {
			t.Fatalf("appendValidString(%q) = %q, want %q", b[:end], got, string(pre)+want)
		}
	})
}

// FieldsInto hands fn the same members and errors as Fields, and leaves
// in the buffer exactly what String decodes from the value.
func FuzzFieldsInto(f *testing.F) {
	for _, s := range []string{`{"data":"{\"a\":1}","mac":"ab"}`, `{"DATA":null}`, `{"data":1}`, `{"data":"\u00e9\ud800"}`, "{\"data\":\"\xff\"}",
		`{"data":"x","Data":"y"}`, `{"data":"x`, `{"data":"x"}x`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got []string
		wantErr := Fields(b, func(fold, raw []byte) error {
			want = append(want, string(fold)+"\x00"+string(raw))
			return nil
		})
		buf := []byte("stale")
		gotErr := FieldsInto(b, nil, func(fold []byte) *[]byte {
			if string(fold) == "DATA" {
				return &buf
			}
			return nil
		}, func(fold, raw []byte) error {
			got = append(got, string(fold)+"\x00"+string(raw))
			if string(fold) == "DATA" && raw[0] == '"' {
				var s string
				if err := String(raw, &s); err != nil || s != string(buf) {
					t.Fatalf("%q: buffer %q, String %q (%v)", b, buf, s, err)
				}
			}
			return nil
		})
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !slices.Equal(got, want) {
			t.Fatalf("%q: FieldsInto %q, %v; Fields %q, %v", b, got, gotErr, want, wantErr)
		}
	})
}

// A Shape changes nothing in what FieldsInto reads: after an object a
// (or b itself) has primed it, b gives the same members, folded keys and
// errors (a repeated key above all) as Fields, whether b has a's keys, a
// prefix of them, more, or others.
func FuzzShape(f *testing.F) {
	for _, p := range [][2]string{
		{`{"a":1,"b":2}`, `{"a":1,"b":2}`}, {`{"a":1,"b":2}`, `{"a":1,"A":2}`}, {`{"a":1,"b":2}`, `{"a":1,"b":2,"B":3}`},
		{`{"a":1,"b":2}`, `{"a":1}`}, {`{"a":1,"b":2}`, `{"b":1,"a":2,"a":3}`}, {`{"\u0061":1,"b":2}`, `{"a":1,"\u0061":2}`},
		{`{}`, `{"a":1,"a":1}`}, {`{"k":1,"K":2}`, `{"k":1,"K":2}`}, {`{"amount":1}`, `{"amount":1,"Amount":2}`},
	} {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	read := func(b []byte, sh *Shape) ([]string, error) {
		var got []string
		err := FieldsInto(b, sh, nil, func(fold, raw []byte) error {
			got = append(got, string(fold)+"\x00"+string(raw))
			return nil
		})
		return got, err
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want, wantErr := read(b, nil)
		for _, prime := range [][]byte{a, b} {
			var sh Shape
			_, _ = read(prime, &sh)
			for range 2 { // the second read may use a shape b stored
				got, err := read(b, &sh)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || !slices.Equal(got, want) {
					t.Fatalf("primed with %q, %q: %q, %v; without a shape %q, %v", prime, b, got, err, want, wantErr)
				}
			}
		}
	})
}

// Invalid UTF-8 bytes become three-byte U+FFFD, so a decoded string can
// outgrow its raw form; the ASCII after them must still be copied.
func TestUnquoteOutgrowsRaw(t *testing.T) {
	raw := []byte("\"" + strings.Repeat("\xff", 40) + strings.Repeat("a", 40) + "\"")
	var got, want string
	if err := String(raw, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &want)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// plainRun and backslash (eight bytes at a time) find the same byte as a
// byte-by-byte scan: every byte value at every position of a word, after
// plain bytes and before arbitrary ones (borrows must not hide the first).
func TestWordScansMatchByteScans(t *testing.T) {
	naivePlain := func(b []byte, j int) int {
		for j < len(b) && strPlain[b[j]] {
			j++
		}
		return j
	}
	naiveBackslash := func(b []byte, i int) int {
		for i < len(b) && b[i] != '\\' {
			i++
		}
		return i
	}
	for n := 1; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				for _, fill := range []byte{'a', 0x00, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xff} {
					b := make([]byte, n)
					for i := range b {
						b[i] = 'a'
						if i > pos {
							b[i] = fill
						}
					}
					b[pos] = byte(c)
					if got, want := plainRun(b, 0), naivePlain(b, 0); got != want {
						t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
					}
					if got, want := backslash(b, 0), naiveBackslash(b, 0); got != want {
						t.Fatalf("backslash(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}

// asciiPlain says true exactly for checked JSON strings whose content is
// ASCII without a backslash, wherever the byte that says otherwise sits.
func TestASCIIPlain(t *testing.T) {
	for n := range 20 {
		for at := range n {
			for _, c := range []byte{'\\', 0x80, 0xff, 'a'} {
				in := []byte(strings.Repeat("x", n))
				in[at] = c
				raw := []byte(`"` + string(in) + `"`)
				want := bytes.IndexByte(in, '\\') < 0 && bytes.IndexFunc(in, func(r rune) bool { return r >= 0x80 }) < 0
				if got := asciiPlain(raw); got != want {
					t.Errorf("asciiPlain(%q) = %v", raw, got)
				}
			}
		}
	}
}
