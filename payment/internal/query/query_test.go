package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
)

func TestParse(t *testing.T) {
	keepA := func(k string) bool { return strings.HasPrefix(k, "a") }
	got, err := Parse("&&a1=x+y&b=ignored&a%32=%C3%A1&", 100, keepA)
	if err != nil || len(got) != 2 || got["a1"] != "x y" || got["a2"] != "á" {
		t.Fatalf("Parse = %v, %v", got, err)
	}
	for _, tc := range []struct {
		raw  string
		want error
	}{
		{"a1=1&a1=2", payment.ErrDuplicateParam},
		{"a1=1&a%31=2", payment.ErrDuplicateParam}, // the same key, escaped
		{"a1=%zz", payment.ErrMalformed},
		{strings.Repeat("a", 101), payment.ErrBodyTooLarge},
	} {
		if _, err := Parse(tc.raw, 100, keepA); !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.raw, err, tc.want)
		}
	}
	if _, err := Parse("b=1&b=2", 100, keepA); err != nil {
		t.Errorf("a repeated ignored parameter refused: %v", err)
	}
	// Parameters outside the signature never fail it, whatever they hold.
	for _, raw := range []string{"utm_campaign=50%off&a1=1", "b=%zz&a1=1", "%zz=1&a1=1", "a%zz=1&a1=1"} {
		if got, err := Parse(raw, 100, keepA); err != nil || len(got) != 1 || got["a1"] != "1" {
			t.Errorf("Parse(%q) = %v, %v; want only a1", raw, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=%zz", "&&", "a=1&a=1", "a%3D=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Parse(raw, 1<<12, func(string) bool { return true })
		if err == nil && len(got) > strings.Count(raw, "&")+1 {
			t.Fatalf("%d params from %q", len(got), raw)
		}
	})
}
