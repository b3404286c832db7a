package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
)

// TestRowKeyMustBeUniqueAndNotNull: a key the catalog does not prove unique
// and NOT NULL is refused before anything is read or written, and so are
// key types whose text depends on session settings.
func TestRowKeyMustBeUniqueAndNotNull(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `
		CREATE TABLE m (tenant_id int, id int, email text, code text UNIQUE, nn text NOT NULL, partial int NOT NULL, PRIMARY KEY (tenant_id, id));
		CREATE UNIQUE INDEX ON m (partial) WHERE partial > 0;
		CREATE TABLE ts (at timestamptz PRIMARY KEY, email text);
		CREATE TABLE fl (f float8 PRIMARY KEY, email text);
		CREATE TABLE dt (d date PRIMARY KEY, email text);
		CREATE TABLE ba (b bytea PRIMARY KEY, email text);
		INSERT INTO m SELECT i % 3, i / 3, 'x', 'c' || i, 'n', i FROM generate_series(1, 300) i`); err != nil {
		t.Fatal(err)
	}
	r := ring(t, fieldcrypttest.NewKey(t))
	email := []Column{{Name: "email", Form: fieldcrypt.Text}}
	cases := []struct {
		table, pk, want string
	}{
		{"m", "id", "not unique"},            // part of a composite primary key
		{"m", "nn", "not unique"},            // NOT NULL, not unique
		{"m", "partial", "not unique"},       // unique only where partial > 0
		{"m", "code", "may be NULL"},         // unique, nullable
		{"m", "tenant_id,nope", "no column"}, // a column that does not exist
		{"ts", "at", "timestamp with time zone, whose text depends on session settings"},
		{"fl", "f", "double precision"},
		{"dt", "d", "date"},
		{"ba", "b", "bytea"},
	}
	for _, c := range cases {
		tb := Table{Name: c.table, PK: c.pk, Columns: email}
		_, err := Reencrypt(ctx, db.Pool, r, tb, ReencryptOptions{})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s --pk %s: %v; want %q", c.table, c.pk, err, c.want)
		}
		_, err = Verify(ctx, db.Pool, r, tb, VerifyOptions{})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("verify %s --pk %s: %v", c.table, c.pk, err)
		}
	}
	var exists bool
	_ = db.Pool.QueryRow(ctx, `SELECT to_regclass('fieldcrypt_checkpoint') IS NOT NULL`).Scan(&exists)
	if exists {
		t.Fatal("a refused job created its checkpoint table")
	}
	// The whole composite key, in either order, is accepted; so is a
	// superset of a unique key.
	for _, pk := range []string{"tenant_id,id", "id, tenant_id", "tenant_id,id,nn"} {
		if _, err := Reencrypt(ctx, db.Pool, ring(t, fieldcrypttest.NewKey(t)).WithLegacy(fieldcrypt.Plaintext), Table{Name: "m", PK: pk, Columns: email}, ReencryptOptions{DryRun: true}); err != nil {
			t.Errorf("--pk %s: %v", pk, err)
		}
	}
}

// TestCompositeKey: PRIMARY KEY (tenant, id) with ids repeated across
// tenants and tenants whose text holds the separator and the escape
// character: every row is visited once (keyset pagination over the tuple,
// split by ntile), bound with RowText(tenant, id).
func TestCompositeKey(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE acc (tenant text NOT NULL, id int NOT NULL, nid bytea, email text, PRIMARY KEY (tenant, id))`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	tenants := []string{"acme", "a,b", "100%", "%2C", "z"}
	var rows [][]any
	for _, ten := range tenants {
		for i := 1; i <= 600; i++ {
			row := RowText(ten, strconv.Itoa(i))
			nid, _ := rOld.Encrypt(nil, []byte("nid "+row), fieldcrypt.Binding{Table: "acc", Column: "nid", Row: row})
			em, _ := rOld.EncryptText(nil, []byte("mail "+row), fieldcrypt.Binding{Table: "acc", Column: "email", Row: row})
			rows = append(rows, []any{ten, i, nid, string(em)})
		}
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"acc"}, []string{"tenant", "id", "nid", "email"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	rNew := ring(t, newK, oldK)
	tb := Table{Name: "acc", PK: "tenant,id", Bind: true, Columns: []Column{{Name: "nid"}, {Name: "email", Form: fieldcrypt.Text}}}
	rep, err := Reencrypt(ctx, db.Pool, rNew, tb, ReencryptOptions{BatchSize: 100, Workers: 2, Ranges: 7})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 3000 || rep.Rewrapped != 6000 || rep.Undecryptable != 0 || rep.Census.NotUpToDate() != 0 {
		t.Fatalf("%s (scanned %d)", rep.Summary(), rep.Scanned)
	}
	vr, err := Verify(ctx, db.Pool, ring(t, newK), tb, VerifyOptions{BatchSize: 70})
	if err != nil || vr.Checked != 6000 || vr.Undecryptable != 0 {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	for _, c := range []struct{ in []string }{{[]string{"a,b", "1"}}, {[]string{"100%", "%2C"}}, {[]string{"", ""}}} {
		got, err := splitRowText(RowText(c.in...), len(c.in))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.in) {
			t.Fatalf("RowText round trip %q: %q %v", c.in, got, err)
		}
	}
	if RowText("a,b", "1") != "a%2Cb,1" || RowText("42") != "42" {
		t.Fatal("RowText")
	}
}

// TestBindingsAcrossSessionSettings: the application seals under its own
// session settings (TimeZone, DateStyle, extra_float_digits, IntervalStyle),
// binding Row to pk::text as its session prints it; the job and the verify
// pass run under other settings and still open every value, for each key
// type the job accepts.
func TestBindingsAcrossSessionSettings(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	session := func(params map[string]string) *pgxpool.Pool {
		cfg := db.Pool.Config().Copy()
		for k, v := range params {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	app := session(map[string]string{"TimeZone": "Asia/Ho_Chi_Minh", "DateStyle": "SQL, DMY", "extra_float_digits": "3", "IntervalStyle": "sql_standard"})
	job := session(map[string]string{"TimeZone": "UTC", "DateStyle": "German", "extra_float_digits": "-15", "IntervalStyle": "iso_8601"})
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld, rNew := ring(t, oldK), ring(t, newK, oldK)
	for _, typ := range []string{"bigint", "numeric(20,4)", "uuid", "text", "varchar(40)"} {
		name := "k_" + strings.NewReplacer("(", "", ")", "", ",", "_").Replace(typ)
		if _, err := db.Pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (k %s PRIMARY KEY, v bytea)`, name, typ)); err != nil {
			t.Fatal(err)
		}
		var vals string
		switch typ {
		case "bigint":
			vals = "SELECT i FROM generate_series(-50, 50) i"
		case "numeric(20,4)":
			vals = "SELECT i / 7.0 FROM generate_series(1, 100) i"
		case "uuid":
			vals = "SELECT gen_random_uuid() FROM generate_series(1, 100)"
		default:
			vals = "SELECT 'key ' || i || ', é' FROM generate_series(1, 100) i"
		}
		// The application writes, binding the key as its session prints it.
		rows, err := app.Query(ctx, fmt.Sprintf(`SELECT x::%s::text FROM (%s) s(x)`, typ, vals))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			var row string
			if err := app.QueryRow(ctx, fmt.Sprintf(`SELECT $1::%s::text`, typ), k).Scan(&row); err != nil {
				t.Fatal(err)
			}
			v, _ := rOld.Encrypt(nil, []byte("v"), fieldcrypt.Binding{Table: name, Column: "v", Row: row})
			if _, err := app.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ($1::text::%s, $2)`, name, typ), row, v); err != nil {
				t.Fatal(err)
			}
		}
		tb := Table{Name: name, PK: "k", Bind: true, Columns: []Column{{Name: "v"}}}
		rep, err := Reencrypt(ctx, job, rNew, tb, ReencryptOptions{BatchSize: 30, Workers: 2})
		if err != nil || rep.Undecryptable != 0 || int(rep.Rewrapped) != len(keys) {
			t.Fatalf("%s: %v; %s", typ, err, rep.Summary())
		}
		vr, err := Verify(ctx, job, ring(t, newK), tb, VerifyOptions{})
		if err != nil || vr.Undecryptable != 0 || int(vr.Checked) != len(keys) {
			t.Fatalf("%s verify: %v %+v", typ, err, vr)
		}
	}
}

// TestBindDatabaseAssignedKey follows the package documentation for a key
// the database assigns (identity): fetch it with nextval first, bind to it,
// insert; the job and verify then agree with the application.
func TestBindDatabaseAssignedKey(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, national_id bytea)`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	for i := 0; i < 50; i++ {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('users', 'id'))`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		v, _ := rOld.Encrypt(nil, []byte("0792"), fieldcrypt.Binding{Table: "users", Column: "national_id", Row: strconv.FormatInt(id, 10)})
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, national_id) VALUES ($1, $2)`, id, v); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tb := Table{Name: "users", PK: "id", Bind: true, Columns: []Column{{Name: "national_id"}}}
	rNew := ring(t, newK, oldK)
	if rep, err := Reencrypt(ctx, db.Pool, rNew, tb, ReencryptOptions{}); err != nil || rep.Rewrapped != 50 {
		t.Fatalf("%v %+v", err, rep)
	}
	if vr, err := Verify(ctx, db.Pool, ring(t, newK), tb, VerifyOptions{}); err != nil || vr.Checked != 50 || !vr.OK() {
		t.Fatalf("%v %+v", err, vr)
	}
}

// TestTextKeyNeedsUTF8Session: a text row key reaches a LATIN1 session in
// LATIN1, so its row text would differ from the UTF-8 binding the
// application sealed with: the job and verify refuse such a session rather
// than report every non-ASCII row undecryptable.
func TestTextKeyNeedsUTF8Session(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE k_latin (k text PRIMARY KEY, v bytea); CREATE TABLE k_int (k bigint PRIMARY KEY, v bytea)`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	v, _ := rOld.Encrypt(nil, []byte("v"), fieldcrypt.Binding{Table: "k_latin", Column: "v", Row: "Straße"})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO k_latin VALUES ('Straße', $1)`, v); err != nil {
		t.Fatal(err)
	}
	cfg := db.Pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["client_encoding"] = "LATIN1"
	latin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer latin.Close()
	tb := Table{Name: "k_latin", PK: "k", Bind: true, Columns: []Column{{Name: "v"}}}
	if _, err := Verify(ctx, latin, rOld, tb, VerifyOptions{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "client_encoding") {
		t.Fatalf("verify in a LATIN1 session: %v", err)
	}
	if _, err := Reencrypt(ctx, latin, ring(t, newK, oldK), tb, ReencryptOptions{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("reencrypt in a LATIN1 session: %v", err)
	}
	// An integer key's text is ASCII: the encoding does not matter.
	if _, err := Verify(ctx, latin, rOld, Table{Name: "k_int", PK: "k", Bind: true, Columns: []Column{{Name: "v"}}}, VerifyOptions{}); err != nil {
		t.Fatalf("integer key in a LATIN1 session: %v", err)
	}
	// In a UTF-8 session both agree with the application.
	rep, err := Reencrypt(ctx, db.Pool, ring(t, newK, oldK), tb, ReencryptOptions{})
	if err != nil || rep.Rewrapped != 1 || rep.Undecryptable != 0 {
		t.Fatalf("reencrypt: %v %+v", err, rep)
	}
	if vr, err := Verify(ctx, db.Pool, ring(t, newK), tb, VerifyOptions{}); err != nil || vr.Checked != 1 || vr.Undecryptable != 0 {
		t.Fatalf("verify: %v %+v", err, vr)
	}
}
