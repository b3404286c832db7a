package fieldcrypt

import (
	"fmt"
	"iter"
)

// RewrapResult is what Rewrap did with one stored value.
type RewrapResult uint8

const (
	// UpToDate: the value is already sealed under the primary key; nothing to
	// write.
	UpToDate RewrapResult = iota
	// Rewrapped: the value was opened and sealed again under the primary key
	// (or, WithLegacy, brought under the envelope for the first time).
	Rewrapped
	// Null: SQL NULL stays NULL; nothing to write.
	Null
	// Failed: the value could not be opened (unknown key, tampered, not an
	// envelope); it is left as it is and must be reported.
	Failed
)

// String is the outcome's name: "up_to_date", "rewrapped", "null" or
// "failed".
func (s RewrapResult) String() string {
	switch s {
	case UpToDate:
		return "up_to_date"
	case Rewrapped:
		return "rewrapped"
	case Null:
		return "null"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("RewrapResult(%d)", uint8(s))
}

// Rewrap brings one stored value in form f under the primary key. A nil
// value is SQL NULL (Null). A value whose header names the primary key is
// left alone (UpToDate) without decrypting it: UpToDate says what the header
// says, not that the value authenticates (a value forged with the primary
// key's id, or moved from another row, is UpToDate too). Decrypt every value
// with its binding to prove that (pgstore.Verify). Otherwise the value is
// opened with the key it names (or the legacy decoder, see WithLegacy) and
// sealed again under the primary key with the same binding; the new value is
// appended to dst and returned with Rewrapped. On failure Rewrap returns dst
// unchanged, Failed and the error; the plaintext never leaves this function.
func (r *Keyring) Rewrap(dst, value []byte, f Form, b Binding) ([]byte, RewrapResult, error) {
	if value == nil {
		return dst, Null, nil
	}
	tmp := getScratch()
	defer func() {
		clear((*tmp)[:cap(*tmp)])
		putScratch(tmp)
	}()
	if r.isCurrent((*tmp)[:0], value, f) {
		return dst, UpToDate, nil
	}
	pt, err := r.open((*tmp)[:0], value, f, b)
	if err != nil {
		return dst, Failed, err
	}
	*tmp = pt
	out, err := r.sealForm(dst, pt, f, b)
	if err != nil {
		return dst, Failed, err
	}
	return out, Rewrapped, nil
}

// isCurrent reports whether value is a well-formed envelope under the
// primary key, using scratch for the text form.
func (r *Keyring) isCurrent(scratch, value []byte, f Form) bool {
	b := value
	if f == Text {
		var err error
		if b, err = decodeText(scratch, value); err != nil {
			return false
		}
	}
	e, err := parse(b)
	return err == nil && e.id == r.keys[0].id
}

// Cell is one stored value to re-encrypt: where it lives and what it holds.
type Cell struct {
	Table  string
	Column string
	Row    string // the row's primary key as text; names the row in reports
	Form   Form
	// Bound says the value is sealed with Binding{Table, Column, Row}.
	Bound bool
	// Value is the stored value; nil is SQL NULL.
	Value []byte
}

// Binding returns the binding the cell's value is sealed with: zero unless
// Bound.
func (c Cell) Binding() Binding {
	if !c.Bound {
		return Binding{}
	}
	return Binding{Table: c.Table, Column: c.Column, Row: c.Row}
}

// Result is the outcome of re-encrypting one Cell.
type Result struct {
	Cell
	// Outcome is what Rewrap did with the cell's value.
	Outcome RewrapResult
	// New is the value to store in place of Cell.Value when Outcome is
	// Rewrapped, nil otherwise. Store it with a compare-and-swap on
	// Cell.Value so a concurrent write is never overwritten.
	New []byte
	// Err says why the value could not be opened when Outcome is
	// Failed.
	Err error
}

// Reencrypt returns an iterator over the results of Rewrap for each cell of
// cells, in order. It is independent of storage: feed it from any table
// scan, file or in-memory map and write back the Rewrapped results. Failed
// cells are yielded like the others so the caller reports them.
//
//	for res := range ring.Reencrypt(cells) {
//		switch res.Outcome {
//		case fieldcrypt.Rewrapped:
//			store.CompareAndSwap(res.Row, res.Value, res.New)
//		case fieldcrypt.Failed:
//			log.Printf("row %s: %v", res.Row, res.Err)
//		}
//	}
func (r *Keyring) Reencrypt(cells iter.Seq[Cell]) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		for c := range cells {
			out, st, err := r.Rewrap(nil, c.Value, c.Form, c.Binding())
			res := Result{Cell: c, Outcome: st, Err: err}
			if st == Rewrapped {
				res.New = out
			}
			if !yield(res) {
				return
			}
		}
	}
}
