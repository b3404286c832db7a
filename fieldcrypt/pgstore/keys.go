package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The row key: the column or columns that name a row, in reports and in
// bindings (FORMAT.md §2, "The row text").
//
// It must be unique and NOT NULL, which the catalog proves: some unique,
// valid, non-partial index without expressions has all its key columns
// among the row key's columns, and each of them is NOT NULL. Keyset
// pagination then visits every row exactly once.
//
// A binding is the same in every session only if the key's text is: the
// text of integer types, numeric, uuid, text, varchar and char does not
// depend on session settings; that of timestamps, dates, intervals, floats,
// money and bytea does (TimeZone, DateStyle, IntervalStyle,
// extra_float_digits, lc_monetary, bytea_output), so such keys are refused.

// keyTypes are the base types a row key may have, with their text form.
var keyTypes = map[string]bool{
	"smallint": true, "integer": true, "bigint": true, "numeric": true,
	"uuid": true, "text": true, "character varying": true, "character": true,
}

// rowKey is the resolved row key of a table.
type rowKey struct {
	cols   []string // column names
	types  []string // SQL types (format_type), for casts
	quoted []string // t."col"
	intKey bool     // a single column of an integer type: split by arithmetic
}

// keyColumns returns the row key's columns: Table.PK split at commas.
func (t Table) keyColumns() []string {
	parts := strings.Split(t.PK, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// resolveKey reads the row key's types from the catalog and checks that it
// is unique, NOT NULL and of a type whose text is canonical.
func resolveKey(ctx context.Context, db querier, t Table) (rowKey, error) {
	var k rowKey
	k.cols = t.keyColumns()
	hasText := false
	for _, c := range k.cols {
		var typ, base string
		var notNull bool
		err := db.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod),
				format_type(CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE a.atttypid END, NULL), a.attnotnull
			FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
			WHERE a.attrelid = $1::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
			t.ident(), c).Scan(&typ, &base, &notNull)
		if errors.Is(err, pgx.ErrNoRows) {
			return k, fmt.Errorf("%w: table %s has no column %q (the row key)", ErrConfig, t.displayName(), c)
		}
		if err != nil {
			return k, catalogErr(t, err)
		}
		if !keyTypes[base] {
			return k, fmt.Errorf("%w: row key column %q of %s is %s, whose text depends on session settings (or is not canonical): "+
				"bindings would differ between sessions; use a key of type integer, bigint, numeric, uuid or text", ErrConfig, c, t.displayName(), typ)
		}
		if !notNull {
			return k, fmt.Errorf("%w: row key column %q of %s may be NULL: the row key must be NOT NULL and unique", ErrConfig, c, t.displayName())
		}
		if base == "text" || base == "character varying" || base == "character" {
			hasText = true
		}
		k.types = append(k.types, typ)
		k.quoted = append(k.quoted, "t."+pgx.Identifier{c}.Sanitize())
		k.intKey = len(k.cols) == 1 && (base == "smallint" || base == "integer" || base == "bigint")
	}
	var unique bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
		AND NOT EXISTS (SELECT 1 FROM generate_series(0, i.indnkeyatts - 1) g
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[g]
			WHERE a.attname <> ALL ($2::text[])))`, t.ident(), k.cols).Scan(&unique)
	if err != nil {
		return k, fmt.Errorf("pgstore: table %s: %w", t.displayName(), err)
	}
	if !unique {
		return k, fmt.Errorf("%w: row key (%s) of %s is not unique: no unique index or primary key covers it; "+
			"give every column of the primary key (for a composite key: --pk a,b)", ErrConfig, strings.Join(k.cols, ","), t.displayName())
	}
	// A character key's text reaches the client in client_encoding, and
	// the row text of a binding is UTF-8 (FORMAT.md): in a LATIN1 session
	// every non-ASCII key would give another binding.
	if hasText {
		var enc string
		if err := db.QueryRow(ctx, "SELECT current_setting('client_encoding')").Scan(&enc); err != nil {
			return k, fmt.Errorf("pgstore: table %s: %w", t.displayName(), err)
		}
		if enc != "UTF8" {
			return k, fmt.Errorf("%w: the session's client_encoding is %s: row keys of %s are text, and bindings use their UTF-8 text; "+
				"connect with client_encoding=UTF8", ErrConfig, enc, t.displayName())
		}
	}
	return k, nil
}

// catalogErr wraps an error of a catalog query: a table or schema that
// does not exist is bad configuration.
func catalogErr(t Table, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") {
		return fmt.Errorf("%w: table %s does not exist", ErrConfig, t.displayName())
	}
	return fmt.Errorf("pgstore: table %s: %w", t.displayName(), err)
}

// textList is "t.a::text, t.b::text".
func (k rowKey) textList() string {
	s := make([]string, len(k.quoted))
	for i, q := range k.quoted {
		s[i] = q + "::text"
	}
	return strings.Join(s, ", ")
}

// tuple is "t.a" or "(t.a, t.b)".
func (k rowKey) tuple() string {
	if len(k.quoted) == 1 {
		return k.quoted[0]
	}
	return "(" + strings.Join(k.quoted, ", ") + ")"
}

// params is "$n::ta" or "($n::ta, $n+1::tb)".
func (k rowKey) params(n int) string {
	s := make([]string, len(k.types))
	for i, typ := range k.types {
		s[i] = fmt.Sprintf("$%d::%s", n+i, typ)
	}
	if len(s) == 1 {
		return s[0]
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func (k rowKey) orderBy() string { return strings.Join(k.quoted, ", ") }

// RowText is the text that names a row, in reports and in bindings
// (Binding.Row), given the text of each row-key column (pk::text): for a
// single column, its text as it is; for a composite key, the columns' texts
// joined by commas, each with "%" written "%25" and "," written "%2C"
// (FORMAT.md §2, "The row text").
func RowText(parts ...string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		for j := 0; j < len(p); j++ {
			switch p[j] {
			case '%':
				b.WriteString("%25")
			case ',':
				b.WriteString("%2C")
			default:
				b.WriteByte(p[j])
			}
		}
	}
	return b.String()
}

// appendRowText is RowText over raw values, appended to dst.
func appendRowText(dst []byte, parts [][]byte) []byte {
	if len(parts) == 1 {
		return append(dst, parts[0]...)
	}
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, ',')
		}
		for _, c := range p {
			switch c {
			case '%':
				dst = append(dst, "%25"...)
			case ',':
				dst = append(dst, "%2C"...)
			default:
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// splitRowText is the inverse of RowText for n columns.
func splitRowText(s string, n int) ([]string, error) {
	if n == 1 {
		return []string{s}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("pgstore: row text has %d parts, want %d", len(parts), n)
	}
	for i, p := range parts {
		if strings.IndexByte(p, '%') < 0 {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			switch {
			case p[j] != '%':
				b.WriteByte(p[j])
			case strings.HasPrefix(p[j:], "%25"):
				b.WriteByte('%')
				j += 2
			case strings.HasPrefix(p[j:], "%2C"):
				b.WriteByte(',')
				j += 2
			default:
				return nil, errors.New("pgstore: row text has a bad escape")
			}
		}
		parts[i] = b.String()
	}
	return parts, nil
}

// keyArgs turns row texts into one text[] argument per key column.
func (k rowKey) keyArgs(ids []string) ([]any, error) {
	if len(k.cols) == 1 {
		return []any{ids}, nil
	}
	cols := make([][]string, len(k.cols))
	for c := range cols {
		cols[c] = make([]string, len(ids))
	}
	for r, id := range ids {
		parts, err := splitRowText(id, len(k.cols))
		if err != nil {
			return nil, err
		}
		for c := range parts {
			cols[c][r] = parts[c]
		}
	}
	args := make([]any, len(cols))
	for c := range cols {
		args[c] = cols[c]
	}
	return args, nil
}
