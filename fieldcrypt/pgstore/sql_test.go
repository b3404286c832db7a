package pgstore

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
)

// TestNondeterministicCollation: a text column (and a text row key) with a
// case-insensitive ICU collation. The census, the job and verify work, and
// the census does not merge key ids that differ only in case (base64 is
// case-sensitive).
func TestNondeterministicCollation(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
		CREATE TABLE people (id text COLLATE ci PRIMARY KEY, phone text COLLATE ci)`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld, rNew := ring(t, oldK), ring(t, newK, oldK)
	// The case test below upper-cases the key-id characters of the text
	// form; a key whose id text has no lower-case letter (about 1 key in
	// 500) would make it a no-op: draw another.
	for {
		v, _ := rNew.EncryptText(nil, []byte("x"), fieldcrypt.Binding{})
		if id := string(v[4:16]); strings.ToUpper(id) != id {
			break
		}
		newK = fieldcrypttest.NewKey(t)
		rNew = ring(t, newK, oldK)
	}
	var rows [][]any
	for i := 1; i <= 400; i++ {
		id := "Person-" + strconv.Itoa(i)
		v, _ := rOld.EncryptText(nil, []byte("+84 "+id), fieldcrypt.Binding{Table: "people", Column: "phone", Row: id})
		rows = append(rows, []any{id, string(v)})
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"people"}, []string{"id", "phone"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	tb := Table{Name: "people", PK: "id", Bind: true, Columns: []Column{{Name: "phone", Form: fieldcrypt.Text}}}
	c, err := TakeCensus(ctx, db.Pool, rNew, tb)
	if err != nil || c.ValuesUnder(rOld.Primary()) != 400 {
		t.Fatalf("census: %v %+v", err, c)
	}
	rep, err := Reencrypt(ctx, db.Pool, rNew, tb, ReencryptOptions{BatchSize: 64, Workers: 2})
	if err != nil || rep.Rewrapped != 400 || rep.Census.NotUpToDate() != 0 {
		t.Fatalf("job: %v %+v", err, rep)
	}
	vr, err := Verify(ctx, db.Pool, rNew, tb, VerifyOptions{BatchSize: 50})
	if err != nil || vr.Checked != 400 || !vr.OK() {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	// Values whose key-id text differs only in case are two groups, not one:
	// upper-case the key-id characters of half the rows (they no longer
	// decode to the key, and must not be counted under it).
	if _, err := db.Pool.Exec(ctx, `UPDATE people SET phone = 'fc1:' || upper(substring(phone from 5 for 12)) || substring(phone from 17) WHERE id COLLATE "C" < 'Person-2'`); err != nil {
		t.Fatal(err)
	}
	c, err = TakeCensus(ctx, db.Pool, rNew, tb)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.ValuesUnder(rNew.Primary()); n >= 400 || n == 0 {
		t.Fatalf("census merged key ids that differ only in case: %d values under the primary key", n)
	}
}

// TestStandardConformingStringsOff runs the census, the job and verify in
// sessions with standard_conforming_strings = off (over the extended
// protocol: pgx refuses the simple protocol with the setting off).
func TestStandardConformingStringsOff(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 500, rOld, true)
	rNew := ring(t, newK, oldK)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		cfg := f.pool.Config().Copy()
		cfg.ConnConfig.RuntimeParams["standard_conforming_strings"] = "off"
		cfg.ConnConfig.DefaultQueryExecMode = mode
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var scs string
		if err := pool.QueryRow(ctx, `SHOW standard_conforming_strings`).Scan(&scs); err != nil || scs != "off" {
			t.Fatalf("setting: %q %v", scs, err)
		}
		c, err := TakeCensus(ctx, pool, rNew, f.t)
		if err != nil || c.Columns[0].NotEnvelope != 0 || c.Columns[1].NotEnvelope != 0 {
			t.Fatalf("census over %v: %v %+v", mode, err, c)
		}
	}
	cfg := f.pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["standard_conforming_strings"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rep, err := Reencrypt(ctx, pool, rNew, f.t, ReencryptOptions{BatchSize: 100, Workers: 2})
	if err != nil || rep.Census.NotUpToDate() != 0 || !rep.Retirable(rOld.Primary()) {
		t.Fatalf("job: %v %+v", err, rep)
	}
	if vr, err := Verify(ctx, pool, rNew, f.t, VerifyOptions{}); err != nil || !vr.OK() {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	f.verify(t, rNew)
}
