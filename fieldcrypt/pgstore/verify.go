package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fieldcrypt"
)

// VerifyOptions tune a verify pass. The zero value is a sensible default.
type VerifyOptions struct {
	// BatchSize is the number of rows read per statement; default 1000.
	BatchSize int
	// MaxReported caps the failures listed (all are counted); default 1000.
	MaxReported int
}

// VerifyReport is the result of a verify pass: what decrypting every value
// found. Unlike the census, which reads key ids from headers, every count
// here is of values that authenticated under their key with their binding.
type VerifyReport struct {
	Table string `json:"table"`
	// Rows is the number of rows read; Values the non-NULL values among
	// them; Nulls the NULL ones.
	Rows   int64 `json:"rows"`
	Values int64 `json:"values"`
	Nulls  int64 `json:"nulls"`
	// Checked values decrypted (authenticated) with their binding, per key
	// in Keys.
	Checked int64      `json:"checked"`
	Keys    []KeyCount `json:"keys"` // sorted by key id
	// Undecryptable values did not: not an envelope, malformed, unknown
	// key, or failed authentication (tampered, forged, or moved from another
	// row or column). Failures lists them by row, at most MaxReported.
	Undecryptable int64     `json:"undecryptable"`
	Failures      []Failure `json:"failures,omitempty"`
}

// OK reports whether every value decrypted.
func (r *VerifyReport) OK() bool { return r.Undecryptable == 0 }

// ValuesUnder returns the number of values that decrypted under key id.
func (r *VerifyReport) ValuesUnder(id fieldcrypt.KeyID) int64 {
	for _, k := range r.Keys {
		if k.KeyID == id {
			return k.Values
		}
	}
	return 0
}

// Summary says in one line what the pass found.
func (r *VerifyReport) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows, %d values decrypted with their binding, %d undecryptable, %d NULL", r.Table, r.Rows, r.Checked, r.Undecryptable, r.Nulls)
	for _, k := range r.Keys {
		fmt.Fprintf(&b, "; %s key %s: %d values", k.Slot, k.KeyID, k.Values)
	}
	return b.String()
}

// Verify decrypts every value of t's columns, in row-key order, with the
// binding it must have been sealed with (Table.Bind, Column.Bind), and reports the
// values that do not decrypt by row. It reads and writes nothing else; it
// is what proves that the census's header counts are real: a value moved
// to another row, or forged with the primary key's id, counts as
// undecryptable here. A legacy decoder (Keyring.WithLegacy) is not used: a
// value must be an envelope to pass.
func Verify(ctx context.Context, db DB, ring *fieldcrypt.Keyring, t Table, opt VerifyOptions) (*VerifyReport, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	if opt.MaxReported <= 0 {
		opt.MaxReported = 1000
	}
	key, err := resolveKey(ctx, db, t)
	if err != nil {
		return nil, err
	}
	if err := checkColumns(ctx, db, t); err != nil {
		return nil, err
	}
	qsel := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		qsel[i] = "t." + pgx.Identifier{c.Name}.Sanitize()
	}
	base := "SELECT " + key.textList() + ", " + strings.Join(qsel, ", ") + " FROM " + t.ident() + " AS t"
	first := base + fmt.Sprintf(" ORDER BY %s LIMIT $1", key.orderBy())
	after := base + " WHERE " + key.tuple() + " > " + key.params(1) + fmt.Sprintf(" ORDER BY %s LIMIT $%d", key.orderBy(), len(key.cols)+1)

	rep := &VerifyReport{Table: t.displayName()}
	counts := map[fieldcrypt.KeyID]int64{}
	b := &batch{vals: make([][][]byte, len(t.Columns))}
	var buf []byte
	var cursor []string
	for {
		var args []any
		sql := first
		if cursor != nil {
			sql = after
			for _, p := range cursor {
				args = append(args, p)
			}
		}
		args = append(args, opt.BatchSize)
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			return rep, fmt.Errorf("pgstore: verify %s: %w", t.displayName(), err)
		}
		if err := b.read(rows, len(key.cols), len(t.Columns), false); err != nil {
			return rep, fmt.Errorf("pgstore: verify %s: %w", t.displayName(), err)
		}
		for r, id := range b.ids {
			rep.Rows++
			for c, col := range t.Columns {
				v := b.vals[c][r]
				if v == nil {
					rep.Nulls++
					continue
				}
				rep.Values++
				bind := t.binding(col, id)
				h, err := fieldcrypt.ParseHeader(v, col.Form)
				if err == nil {
					if col.Form == fieldcrypt.Text {
						buf, err = ring.DecryptText(buf[:0], v, bind)
					} else {
						buf, err = ring.Decrypt(buf[:0], v, bind)
					}
					clear(buf)
				}
				if err != nil {
					rep.Undecryptable++
					if len(rep.Failures) < opt.MaxReported {
						rep.Failures = append(rep.Failures, Failure{Row: id, Column: col.Name, Err: err})
					}
					continue
				}
				rep.Checked++
				counts[h.KeyID]++
			}
		}
		if len(b.ids) < opt.BatchSize {
			break
		}
		if cursor, err = splitRowText(b.ids[len(b.ids)-1], len(key.cols)); err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	for id, n := range counts {
		rep.Keys = append(rep.Keys, KeyCount{KeyID: id, Values: n, Slot: ring.Slot(id)})
	}
	slices.SortFunc(rep.Keys, func(a, b KeyCount) int { return strings.Compare(a.KeyID.String(), b.KeyID.String()) })
	return rep, nil
}
