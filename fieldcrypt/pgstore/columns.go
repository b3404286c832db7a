package pgstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goodgo/rotation/fieldcrypt"
)

// ColumnList is every encrypted column of a database, grouped by table: what
// the re-encrypt job rewrites, the census counts and verify decrypts, and
// what a key must be absent from before it is retired.
//
// It is read from a small text file, one column per line:
//
//	# table          column       form    binding   row key (default id)
//	users            phone        text    bound     id
//	users            national_id  binary  bound     id
//	billing.cards    pan          binary  unbound   tenant_id,id
//
// Fields are separated by spaces or tabs; "#" starts a comment. table is
// name or schema.name (unquoted; names with spaces, dots or "#" are not
// supported); form is text or binary; binding is bound or unbound. Every
// line of one table names the same row key.
type ColumnList []Table

// ErrColumnList is matched by errors reading a column list.
var ErrColumnList = errors.New("pgstore: bad column list")

// maxColumnList bounds the size of a column-list file.
const maxColumnList = 1 << 20

// ParseColumnList parses the text of a column list.
func ParseColumnList(text []byte) (ColumnList, error) {
	if len(text) > maxColumnList {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrColumnList, maxColumnList)
	}
	var list ColumnList
	index := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxColumnList)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 4 || len(f) > 5 {
			return nil, fmt.Errorf("%w: line %d: want: table column form binding [row key]", ErrColumnList, n)
		}
		t := Table{Name: f[0]}
		if schema, name, ok := strings.Cut(f[0], "."); ok {
			if schema == "" || name == "" || strings.Contains(name, ".") {
				return nil, fmt.Errorf("%w: line %d: table must be name or schema.name", ErrColumnList, n)
			}
			t.Schema, t.Name = schema, name
		}
		c := Column{Name: f[1]}
		switch f[2] {
		case "binary":
		case "text":
			c.Form = fieldcrypt.Text
		default:
			return nil, fmt.Errorf("%w: line %d: form must be text or binary", ErrColumnList, n)
		}
		switch f[3] {
		case "bound":
			c.Bind = true
		case "unbound":
		default:
			return nil, fmt.Errorf("%w: line %d: binding must be bound or unbound", ErrColumnList, n)
		}
		t.PK = "id"
		if len(f) == 5 {
			t.PK = f[4]
		}
		key := f[0]
		i, ok := index[key]
		if !ok {
			i = len(list)
			index[key] = i
			list = append(list, t)
		}
		if list[i].PK != t.PK {
			return nil, fmt.Errorf("%w: line %d: table %s has row key %s on an earlier line", ErrColumnList, n, key, list[i].PK)
		}
		list[i].Columns = append(list[i].Columns, c)
		if err := list[i].validate(); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrColumnList, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrColumnList, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: no columns listed", ErrColumnList)
	}
	return list, nil
}

// ReadColumnList reads a column-list file (see ColumnList).
func ReadColumnList(path string) (ColumnList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrColumnList, err)
	}
	return ParseColumnList(b)
}

// KeyCensus is what the census of every listed column says about one key.
type KeyCensus struct {
	KeyID  fieldcrypt.KeyID `json:"key_id"`
	Slot   string           `json:"slot"` // primary, next, previous or unknown
	Values int64            `json:"values"`
	// Retirable is true only for a previous key with no value in any listed
	// column. The primary and the next key never are.
	Retirable bool `json:"retirable"`
}

// ListCensus is the census of every column of a ColumnList.
type ListCensus struct {
	Tables []*Census `json:"tables"`
	// Keys has every key of the keyring, then unknown keys found in the
	// data, with their values over all listed columns.
	Keys []KeyCensus `json:"keys"`
	// Columns is the number of columns counted.
	Columns int `json:"columns"`
	// HeadersOnly is always true: see Census.
	HeadersOnly bool `json:"headers_only"`
}

// NotUpToDate returns the number of non-NULL values not under the primary key
// over every listed column.
func (l *ListCensus) NotUpToDate() int64 {
	var n int64
	for _, c := range l.Tables {
		n += c.NotUpToDate()
	}
	return n
}

// Retirable reports whether key id is a previous key with no value in any
// listed column.
func (l *ListCensus) Retirable(id fieldcrypt.KeyID) bool {
	for _, k := range l.Keys {
		if k.KeyID == id {
			return k.Retirable
		}
	}
	return false
}

// TakeListCensus runs the census of every table of list (one scan each) and
// says, per key, whether it can be retired.
func TakeListCensus(ctx context.Context, db DB, ring *fieldcrypt.Keyring, list ColumnList) (*ListCensus, error) {
	out := &ListCensus{HeadersOnly: true}
	counts := map[fieldcrypt.KeyID]int64{}
	for _, t := range list {
		c, err := TakeCensus(ctx, db, ring, t)
		if err != nil {
			return nil, err
		}
		out.Tables = append(out.Tables, c)
		out.Columns += len(c.Columns)
		for _, col := range c.Columns {
			for _, k := range col.Keys {
				counts[k.KeyID] += k.Values
			}
		}
	}
	ids := []fieldcrypt.KeyID{ring.Primary()}
	if id, ok := ring.Next(); ok {
		ids = append(ids, id)
	}
	ids = append(ids, ring.Previous()...)
	var unknown []fieldcrypt.KeyID
	for id := range counts {
		if !ring.Has(id) {
			unknown = append(unknown, id)
		}
	}
	slices.SortFunc(unknown, func(a, b fieldcrypt.KeyID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range append(ids, unknown...) {
		slot := ring.Slot(id)
		out.Keys = append(out.Keys, KeyCensus{KeyID: id, Slot: slot, Values: counts[id], Retirable: slot == "previous" && counts[id] == 0})
	}
	return out, nil
}

// ReencryptList runs Reencrypt for each table of list in turn (each its own
// job, under its default job name unless opt.Job is set, which then gets the
// table's name appended), then the census of every listed column. It stops
// at the first table that fails and returns the reports so far.
func ReencryptList(ctx context.Context, db DB, ring *fieldcrypt.Keyring, list ColumnList, opt ReencryptOptions) ([]*Report, *ListCensus, error) {
	var reps []*Report
	for _, t := range list {
		o := opt
		if o.Job != "" {
			o.Job += " " + t.displayName()
		}
		rep, err := Reencrypt(ctx, db, ring, t, o)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			return reps, nil, err
		}
	}
	if opt.DryRun {
		return reps, nil, nil
	}
	lc, err := TakeListCensus(ctx, db, ring, list)
	return reps, lc, err
}

// VerifyList runs Verify for each table of list.
func VerifyList(ctx context.Context, db DB, ring *fieldcrypt.Keyring, list ColumnList, opt VerifyOptions) ([]*VerifyReport, error) {
	var reps []*VerifyReport
	for _, t := range list {
		rep, err := Verify(ctx, db, ring, t, opt)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// Summary says, key by key, what the census of every listed column found.
func (l *ListCensus) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d columns in %d tables (key ids read from headers)", l.Columns, len(l.Tables))
	for _, k := range l.Keys {
		switch {
		case k.Slot == "next":
			fmt.Fprintf(&b, "; next key %s: %d values (staged: never retirable)", k.KeyID, k.Values)
		case k.Slot == "primary":
			fmt.Fprintf(&b, "; primary key %s: %d values", k.KeyID, k.Values)
		case k.Retirable:
			fmt.Fprintf(&b, "; previous key %s: 0 values in every listed column: retirable once verify passes", k.KeyID)
		case k.Slot == "previous":
			fmt.Fprintf(&b, "; previous key %s: %d values left: NOT retirable", k.KeyID, k.Values)
		default:
			fmt.Fprintf(&b, "; unknown key %s: %d values (not in the keyring)", k.KeyID, k.Values)
		}
	}
	return b.String()
}

// ParseColumn parses a column spec as the CLI and the example job take it:
// "name" (bytea, binary form) or "name:text" / "name:binary".
func ParseColumn(spec string) (Column, error) {
	name, form, _ := strings.Cut(spec, ":")
	c := Column{Name: name}
	switch form {
	case "", "binary", "bytea":
	case "text":
		c.Form = fieldcrypt.Text
	default:
		return c, fmt.Errorf("pgstore: column %q: form must be binary or text", spec)
	}
	if name == "" {
		return c, fmt.Errorf("pgstore: empty column name in %q", spec)
	}
	return c, nil
}
