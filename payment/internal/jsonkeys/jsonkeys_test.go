package jsonkeys

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{`{}`, `{"a":1,"b":{"a":2}}`, `[{"a":1},{"a":2}]`, `"x"`, `{"amount":1,"amounts":2}`} {
		if err := Check([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, dup := range []string{`{"a":1,"a":2}`, `{"amount":1,"Amount":2}`, `{"x":[{"k":1,"\u212a":2}]}`, `{"s":1,"\u017f":2}`} {
		if err := Check([]byte(dup)); !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: %v, want ErrDuplicateKey", dup, err)
		}
	}
	for _, bad := range []string{`{`, `{"a":1}{}`, `{"a":}`} {
		if err := Check([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"amount":1,"Amount":2}`))
	f.Add([]byte(`[[[{"a":{"b":[1,2,{"c":null}]}}]]]`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = Check(b) })
}
