package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
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
