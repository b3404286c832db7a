package pgstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
)

func TestParseColumnList(t *testing.T) {
	list, err := ParseColumnList([]byte(`# every encrypted column
users  phone        text    bound          # the row key defaults to id
users	national_id  binary  unbound   id
billing.cards pan binary bound tenant_id,id
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "users" || list[0].PK != "id" || len(list[0].Columns) != 2 ||
		list[0].Columns[0] != (Column{Name: "phone", Form: fieldcrypt.Text, Bind: true}) ||
		list[0].Columns[1] != (Column{Name: "national_id", Form: fieldcrypt.Binary}) ||
		list[1].Schema != "billing" || list[1].Name != "cards" || list[1].PK != "tenant_id,id" || !list[1].Columns[0].Bind {
		t.Fatalf("%+v", list)
	}
	if b := list[0].binding(list[0].Columns[1], "7"); !b.IsZero() {
		t.Fatal("unbound column has a binding")
	}
	if b := list[0].binding(list[0].Columns[0], "7"); b != (fieldcrypt.Binding{Table: "users", Column: "phone", Row: "7"}) {
		t.Fatalf("binding %+v", b)
	}
	for _, c := range []struct{ text, want string }{
		{"", "no columns"},
		{"# nothing\n", "no columns"},
		{"users phone text", "line 1: want"},
		{"users phone text bound id extra", "line 1: want"},
		{"users phone base32 bound", "line 1: form"},
		{"users phone text yes", "line 1: binding"},
		{".users phone text bound", "line 1: table"},
		{"a.b.c phone text bound", "line 1: table"},
		{"users phone text bound\nusers phone text bound", "line 2: "},
		{"users phone text bound id\nusers nid binary bound tenant,id", "line 2: table users has row key id"},
		{"users id text bound id", "line 1: "},
		{"users phone text bound ,id", "line 1: "},
	} {
		_, err := ParseColumnList([]byte(c.text))
		if !errors.Is(err, ErrColumnList) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.text, err, c.want)
		}
	}
}

func FuzzParseColumnList(f *testing.F) {
	f.Add([]byte("users phone text bound\nbilling.cards pan binary unbound tenant,id\n"))
	f.Add([]byte("# x\n\tusers\tphone\ttext\tbound\tid # y\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		list, err := ParseColumnList(text)
		if err != nil {
			if !errors.Is(err, ErrColumnList) {
				t.Fatalf("error not ErrColumnList: %v", err)
			}
			return
		}
		for _, tb := range list {
			if err := tb.validate(); err != nil {
				t.Fatalf("parsed an invalid table %+v: %v", tb, err)
			}
		}
	})
}

// FuzzRowText: RowText is injective and splitRowText inverts it; any text
// either splits into the asked number of parts or is an error, never a
// panic.
func FuzzRowText(f *testing.F) {
	f.Add("a,b", "1", "x")
	f.Add("100%", "%2C", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, parts := range [][]string{{a, b}, {a, b, c}} {
			got, err := splitRowText(RowText(parts...), len(parts))
			if err != nil || strings.Join(got, "\x00") != strings.Join(parts, "\x00") {
				t.Fatalf("round trip %q: %q %v", parts, got, err)
			}
		}
		_, _ = splitRowText(a, 2)
	})
}
