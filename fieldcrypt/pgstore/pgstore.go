// Package pgstore re-encrypts fieldcrypt columns of Postgres tables online,
// verifies them by decrypting every value with its binding, and counts the
// values under each key (the census that says when an old key can be
// retired). It keeps pgx out of package fieldcrypt.
//
//	ring, _ := fieldcrypt.LoadKeyringEnv()
//	list, _ := pgstore.ReadColumnList("fieldcrypt-columns") // every encrypted column
//	_, lc, err := pgstore.ReencryptList(ctx, pool, ring, list, pgstore.ReencryptOptions{Workers: 2})
//	vr, err := pgstore.VerifyList(ctx, pool, ring, list, pgstore.VerifyOptions{})
//	// remove the old key only when no vr[i].Undecryptable and lc.Retirable(oldKeyID)
//
// A single table's Report.SafeToRetire speaks for that table only.
//
// # How the job stays online
//
// Rows are read in primary-key order (keyset pagination, never OFFSET), and
// only rows holding a value that is not under the primary key are read: the
// filter is a prefix test that runs in Postgres. Each batch is written back
// with one UPDATE … FROM unnest(…) that compares the row's version (xmin)
// with the version that was read (compare-and-swap), so a row the
// application rewrote meanwhile is not overwritten: it is read again and
// retried. Each batch is read in the round trip of the previous batch's
// UPDATE and rewrapped while Postgres runs it. A checkpoint
// table records how far each part of the key range got; a killed job resumes
// there. Work is idempotent: a batch redone after a crash finds its rows
// already current.
//
// # One job per table, shared by any number of processes
//
// Workers claim parts of the key range with leases in the checkpoint table
// (SELECT … FOR UPDATE SKIP LOCKED), renewed by a heartbeat: processes
// started with the same job name, on one machine or several, share the job
// with no part worked twice, and the parts of a process that dies are taken
// over when its lease expires (ReencryptOptions.Lease). A job under another name on
// the same table is refused (*BusyError) while it holds a live lease.
//
// Memory is bounded by the batch size (and the capped list of failed rows),
// whatever the size of the table.
package pgstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/goodgo/rotation/fieldcrypt"
)

// DB is the part of *pgxpool.Pool the job uses. Reencrypt uses it from
// several goroutines at once (its workers, the heartbeat that renews
// their leases and, at the start, the count of rows to do), so it must be
// safe for concurrent use: pass a pool with Workers + 2 connections, so
// that the count and the heartbeat never hold a worker up (it works with
// fewer, down to one: the workers then wait for a free connection in
// turn). TakeCensus and Verify
// use one connection at a time and also accept a *pgx.Conn.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ErrConfig is matched by errors that say the table or the options are
// wrong (a missing column, a row key that is not unique, a column of the
// wrong type): nothing was read or written; fix the configuration.
var ErrConfig = errors.New("pgstore: bad configuration")

// querier is what a DB and a pgx.Tx have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Table says where the encrypted values live.
type Table struct {
	Schema string // optional; the search_path decides when empty
	Name   string
	// PK is the row key: a column, or several separated by commas for a
	// composite key ("tenant_id,id"), that is unique and NOT NULL (a unique
	// index or the primary key covers it; checked in the catalog) and of a
	// type whose text does not depend on session settings: integer types,
	// numeric, uuid, text, varchar. Its text (RowText) names rows in
	// reports and in bindings.
	PK      string
	Columns []Column
	// Bind says values are sealed with fieldcrypt.Binding{Table: Name,
	// Column: column name, Row: pk::text}; rewrapped values keep it.
	Bind bool
}

// Column is one encrypted column: bytea for fieldcrypt.Binary, text or
// varchar for fieldcrypt.Text.
type Column struct {
	Name string
	Form fieldcrypt.Form
	// Bind says this column's values are sealed with a Binding (as
	// Table.Bind says for every column).
	Bind bool
}

// binding is the binding of column c's value in the row named row.
func (t Table) binding(c Column, row string) fieldcrypt.Binding {
	if !t.Bind && !c.Bind {
		return fieldcrypt.Binding{}
	}
	return fieldcrypt.Binding{Table: t.Name, Column: c.Name, Row: row}
}

func (t Table) ident() string {
	if t.Schema != "" {
		return pgx.Identifier{t.Schema, t.Name}.Sanitize()
	}
	return pgx.Identifier{t.Name}.Sanitize()
}

// displayName is the table's name as reports show it: schema.name, not
// quoted as an SQL identifier.
func (t Table) displayName() string {
	if t.Schema != "" {
		return t.Schema + "." + t.Name
	}
	return t.Name
}

func (t Table) validate() error {
	if t.Name == "" || t.PK == "" || len(t.Columns) == 0 {
		return fmt.Errorf("%w: a table needs a name, a row key (PK) and at least one column", ErrConfig)
	}
	seen := map[string]bool{}
	for _, k := range t.keyColumns() {
		if k == "" || seen[k] {
			return fmt.Errorf("%w: row key %q has an empty or repeated column", ErrConfig, t.PK)
		}
		seen[k] = true
	}
	for _, c := range t.Columns {
		if c.Name == "" || seen[c.Name] {
			return fmt.Errorf("%w: column %q is empty, repeated or part of the row key", ErrConfig, c.Name)
		}
		if c.Form != fieldcrypt.Binary && c.Form != fieldcrypt.Text {
			return fmt.Errorf("%w: column %q: unknown form %v", ErrConfig, c.Name, c.Form)
		}
		seen[c.Name] = true
	}
	return nil
}

// KeyIDExpr returns the SQL expression that reads the key id (as its 16 hex
// characters, the key's fingerprint) of the value in column col, without
// decrypting, as FORMAT.md §4 gives it: NULL for NULL, 'invalid' for a
// value that does not start like an envelope. It reads the header only.
func KeyIDExpr(col string, f fieldcrypt.Form) string {
	c := pgx.Identifier{col}.Sanitize()
	expr := "encode(substring(" + c + " from 2 for 8), 'hex')"
	if f == fieldcrypt.Text {
		expr = "encode(substring(decode(substring(" + c + " from 5 for 12), 'base64') from 2 for 8), 'hex')"
	}
	return "CASE WHEN " + c + " IS NULL THEN NULL WHEN " + envelopeTest(col, f) + " THEN " + expr + " ELSE 'invalid' END"
}

// The SQL below works on every column and in every session: text columns
// are compared under COLLATE "C" (byte by byte: a nondeterministic ICU
// collation would refuse starts_with and regular expressions, and would
// group or compare base64 case-insensitively), and no literal depends on
// standard_conforming_strings (decode('fc', 'hex'), not '\xfc').

// textC is col under the "C" collation.
func textC(col string) string { return pgx.Identifier{col}.Sanitize() + ` COLLATE "C"` }

// envelopeTest is a SQL condition true when col starts like an envelope of
// format 1 with a readable key id.
func envelopeTest(col string, f fieldcrypt.Form) string {
	if f == fieldcrypt.Text {
		return textC(col) + " ~ '^fc1:/[A-Za-z0-9+/]{11}'"
	}
	c := pgx.Identifier{col}.Sanitize()
	return "(length(" + c + ") >= 38 AND substring(" + c + " from 1 for 1) = decode('fc', 'hex'))"
}

// rawKeyExpr is the census key of a column, cheap to compute per row: NULL
// for NULL; for an envelope the bytes that carry its key id (FORMAT.md §4:
// substring(col from 2 for 8) of the binary form, substring(col from 5 for
// 12) of the text form, i.e. the base64 of 0xFC || key id); an empty value
// for anything else. Groups are decoded to key ids in Go, once per group.
func rawKeyExpr(col string, f fieldcrypt.Form) string {
	c := pgx.Identifier{col}.Sanitize()
	if f == fieldcrypt.Text {
		cc := textC(col)
		return "CASE WHEN " + c + " IS NULL THEN NULL WHEN length(" + c + ") >= 16 AND starts_with(" + cc + ", 'fc1:/') THEN substring(" + cc + " from 5 for 12) ELSE '' END"
	}
	return "CASE WHEN " + c + " IS NULL THEN NULL WHEN " + envelopeTest(col, f) + " THEN substring(" + c + " from 2 for 8) ELSE ''::bytea END"
}

// keyOf decodes a census group key; ok is false for "not an envelope".
func keyOf(raw []byte, f fieldcrypt.Form) (fieldcrypt.KeyID, bool) {
	var id fieldcrypt.KeyID
	if f == fieldcrypt.Text {
		b, err := base64.StdEncoding.Strict().DecodeString(string(raw))
		if err != nil || len(b) != 9 || b[0] != 0xFC {
			return id, false
		}
		raw = b[1:]
	}
	if len(raw) != len(id) {
		return id, false
	}
	copy(id[:], raw)
	return id, true
}

// notCurrentExpr is true when col holds a value that is not under the key
// whose prefix is parameter $n (NULL is never "not current").
func notCurrentExpr(col string, f fieldcrypt.Form, n int) string {
	c := pgx.Identifier{col}.Sanitize()
	if f == fieldcrypt.Text {
		return fmt.Sprintf("(%s IS NOT NULL AND NOT starts_with(%s, $%d::text))", c, textC(col), n)
	}
	return fmt.Sprintf("(%s IS NOT NULL AND substring(%s from 1 for 9) <> $%d::bytea)", c, c, n)
}

// needsWork is the SQL filter "some column is not under the primary key",
// with the prefixes as parameters first..first+len(cols)-1.
func (t Table) needsWork(first int) string {
	parts := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		parts[i] = notCurrentExpr(c.Name, c.Form, first+i)
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func prefixArgs(ring *fieldcrypt.Keyring, t Table) []any {
	args := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		p := ring.Primary().Prefix(c.Form)
		if c.Form == fieldcrypt.Text {
			args[i] = string(p)
		} else {
			args[i] = p
		}
	}
	return args
}

// KeyCount is how many values (not rows: a row has a value per column) are
// under one key.
type KeyCount struct {
	KeyID  fieldcrypt.KeyID `json:"key_id"`
	Values int64            `json:"values"`
	// Role is "primary", "next" (staged, never retirable), "previous" or
	// "unknown" (not in the keyring).
	Slot string `json:"slot"`
}

// ColumnCensus counts the values of one column.
type ColumnCensus struct {
	Column string     `json:"column"`
	Keys   []KeyCount `json:"keys"` // sorted by key id
	Nulls  int64      `json:"nulls"`
	// NotEnvelope counts values that are not envelopes (plaintext, legacy,
	// damaged): they need a migration (Keyring.WithLegacy) or repair.
	NotEnvelope int64 `json:"not_envelope"`
}

// Census counts, per column, the values under each key id, NULLs and values
// that are not envelopes. It is computed in Postgres by reading the key id
// from each value's header (one scan of the table), never by decrypting: a
// value counted under a key only names that key. Verify decrypts every
// value with its binding and is what proves them.
type Census struct {
	Table   string           `json:"table"`
	Columns []ColumnCensus   `json:"columns"`
	Primary fieldcrypt.KeyID `json:"primary"`
	// HeadersOnly is always true: the census read key ids from headers and
	// decrypted nothing.
	HeadersOnly bool `json:"headers_only"`
}

// ValuesUnder returns the number of values under key id, over all columns
// (read from the headers: see Census).
func (c *Census) ValuesUnder(id fieldcrypt.KeyID) int64 {
	var n int64
	for _, col := range c.Columns {
		for _, k := range col.Keys {
			if k.KeyID == id {
				n += k.Values
			}
		}
	}
	return n
}

// NotUpToDate returns the number of non-NULL values not under the primary key
// (other keys and non-envelopes), over all columns.
func (c *Census) NotUpToDate() int64 {
	var n int64
	for _, col := range c.Columns {
		n += col.NotEnvelope
		for _, k := range col.Keys {
			if k.KeyID != c.Primary {
				n += k.Values
			}
		}
	}
	return n
}

// Retirable reports whether no value of the table is under key id: as
// far as this table goes, the key can be removed. Retire a key only when
// every encrypted column says so (ListCensus.Retirable).
func (c *Census) Retirable(id fieldcrypt.KeyID) bool { return c.ValuesUnder(id) == 0 }

// TakeCensus runs the census of t.
func TakeCensus(ctx context.Context, db DB, ring *fieldcrypt.Keyring, t Table) (*Census, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if err := checkColumns(ctx, db, t); err != nil {
		return nil, err
	}
	n := len(t.Columns)
	sets := make([]string, n)
	sel := make([]string, n)
	grouping := make([]string, n)
	for i, c := range t.Columns {
		sel[i] = rawKeyExpr(c.Name, c.Form) + fmt.Sprintf(" AS k%d", i)
		sets[i] = fmt.Sprintf("(k%d)", i)
		grouping[i] = fmt.Sprintf("k%d", i)
	}
	// One scan, a grouping set per column; GROUPING() says which set a row
	// of the result belongs to.
	sql := fmt.Sprintf("SELECT GROUPING(%s), %s, count(*) FROM (SELECT %s FROM %s) s GROUP BY GROUPING SETS (%s)",
		strings.Join(grouping, ", "), strings.Join(grouping, ", "), strings.Join(sel, ", "), t.ident(), strings.Join(sets, ", "))
	if n == 1 { // a plain GROUP BY is cheaper; 0 stands for GROUPING()
		sql = fmt.Sprintf("SELECT 0, k0, count(*) FROM (SELECT %s FROM %s) s GROUP BY k0", sel[0], t.ident())
	}
	rows, err := db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("pgstore: census of %s: %w", t.displayName(), err)
	}
	defer rows.Close()
	c := &Census{Table: t.displayName(), Primary: ring.Primary(), HeadersOnly: true}
	for _, col := range t.Columns {
		c.Columns = append(c.Columns, ColumnCensus{Column: col.Name})
	}
	for rows.Next() {
		raw := rows.RawValues()
		var g int32
		var cnt int64
		vals := make([]any, n+2) // the keys are read raw, not scanned
		vals[0], vals[n+1] = &g, &cnt
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("pgstore: census: %w", err)
		}
		// GROUPING(k0..kn-1) has bit n-1-i clear for the set of column i.
		i := -1
		for j := 0; j < n; j++ {
			if g&(1<<(n-1-j)) == 0 {
				i = j
				break
			}
		}
		if i < 0 {
			continue
		}
		cc := &c.Columns[i]
		key := raw[1+i]
		if key == nil {
			cc.Nulls += cnt
			continue
		}
		if key, err = appendBytea(nil, rows.FieldDescriptions()[1+i], key); err != nil {
			return nil, fmt.Errorf("pgstore: census of %s: %w", t.displayName(), err)
		}
		id, ok := keyOf(key, t.Columns[i].Form)
		if !ok {
			cc.NotEnvelope += cnt
			continue
		}
		slot := ring.Slot(id)
		cc.Keys = append(cc.Keys, KeyCount{KeyID: id, Values: cnt, Slot: slot})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: census of %s: %w", t.displayName(), err)
	}
	for i := range c.Columns {
		ks := c.Columns[i].Keys
		for a := 1; a < len(ks); a++ {
			for b := a; b > 0 && ks[b].KeyID.String() < ks[b-1].KeyID.String(); b-- {
				ks[b], ks[b-1] = ks[b-1], ks[b]
			}
		}
	}
	return c, nil
}

// columnType returns the SQL type of column col of t (format_type), or an
// error naming what is wrong.
func columnType(ctx context.Context, db querier, t Table, col string) (string, error) {
	var typ string
	err := db.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
		t.ident(), col).Scan(&typ)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: table %s has no column %q", ErrConfig, t.displayName(), col)
	}
	if err != nil {
		return "", catalogErr(t, err)
	}
	return typ, nil
}

// checkColumns checks that every column of t exists and holds its form:
// bytea for Binary, text or varchar for Text.
func checkColumns(ctx context.Context, db querier, t Table) error {
	for _, c := range t.Columns {
		typ, err := columnType(ctx, db, t, c.Name)
		if err != nil {
			return err
		}
		isText := typ == "text" || strings.HasPrefix(typ, "character varying")
		if (c.Form == fieldcrypt.Binary && typ != "bytea") || (c.Form == fieldcrypt.Text && !isText) {
			return fmt.Errorf("%w: column %q is %s, which does not hold the %v form: use bytea for binary, text for text", ErrConfig, c.Name, typ, c.Form)
		}
	}
	return nil
}

// appendBytea appends the bytes of one result value to dst. pgx hands raw
// values over in the result format: a bytea is its bytes in the binary format
// but "\x" and hex in the text format, which the simple protocol and
// QueryExecModeExec use (a DSN with default_query_exec_mode=simple_protocol,
// common behind PgBouncer). Other values are the same in both formats.
func appendBytea(dst []byte, fd pgconn.FieldDescription, raw []byte) ([]byte, error) {
	if fd.Format != pgx.TextFormatCode || fd.DataTypeOID != pgtype.ByteaOID {
		return append(dst, raw...), nil
	}
	if len(raw) < 2 || raw[0] != '\\' || raw[1] != 'x' {
		return nil, errors.New("pgstore: bytea result in text format is not hex: set bytea_output = hex")
	}
	out, err := hex.AppendDecode(dst, raw[2:])
	if err != nil {
		return nil, errors.New("pgstore: bytea result in text format is not valid hex")
	}
	return out, nil
}

// now/sleep defaults.
func realSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
