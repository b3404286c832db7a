package pgstore

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
)

func ring(t testing.TB, primary string, prev ...string) *fieldcrypt.Keyring {
	t.Helper()
	r, err := fieldcrypt.NewKeyring(primary, prev...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture is a table "accounts" (id bigint, nid bytea, email text) whose
// values are plaintext "nid-<id>" / "mail-<id>", sealed under a given ring.
type fixture struct {
	pool *pgxpool.Pool
	t    Table
	want map[string][2]*string // plaintext per row; nil = NULL
}

func newFixture(t *testing.T, n int, r *fieldcrypt.Keyring, bind bool) *fixture {
	t.Helper()
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE accounts (id bigint PRIMARY KEY, nid bytea, email text, other int)`); err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: db.Pool, want: map[string][2]*string{},
		t: Table{Name: "accounts", PK: "id", Bind: bind, Columns: []Column{{Name: "nid"}, {Name: "email", Form: fieldcrypt.Text}}}}
	rows := make([][]any, 0, n)
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		nid, mail := "nid-"+id, "mail-"+id
		var pn, pm *string = &nid, &mail
		switch i % 10 {
		case 3:
			pn = nil // NULL
		case 4:
			pm = nil
		case 5:
			empty := ""
			pn = &empty // the empty string, encrypted
		}
		f.want[id] = [2]*string{pn, pm}
		rows = append(rows, []any{int64(i), f.seal(t, r, 0, id, pn), f.sealText(t, r, 1, id, pm), i})
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"id", "nid", "email", "other"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) bind(col int, id string) fieldcrypt.Binding {
	if !f.t.Bind {
		return fieldcrypt.Binding{}
	}
	return fieldcrypt.Binding{Table: f.t.Name, Column: f.t.Columns[col].Name, Row: id}
}

func (f *fixture) seal(t testing.TB, r *fieldcrypt.Keyring, col int, id string, p *string) []byte {
	if p == nil {
		return nil
	}
	v, err := r.Encrypt(nil, []byte(*p), f.bind(col, id))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) sealText(t testing.TB, r *fieldcrypt.Keyring, col int, id string, p *string) *string {
	if p == nil {
		return nil
	}
	v, err := r.EncryptText(nil, []byte(*p), f.bind(col, id))
	if err != nil {
		t.Fatal(err)
	}
	s := string(v)
	return &s
}

// verify decrypts every row with r and compares with f.want; it returns the
// number of values under each key id.
func (f *fixture) verify(t *testing.T, r *fieldcrypt.Keyring) map[fieldcrypt.KeyID]int {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id::text, nid, email FROM accounts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[fieldcrypt.KeyID]int{}
	n := 0
	for rows.Next() {
		var id string
		var nid []byte
		var email *string
		if err := rows.Scan(&id, &nid, &email); err != nil {
			t.Fatal(err)
		}
		n++
		w, ok := f.want[id]
		if !ok {
			t.Fatalf("unexpected row %s", id)
		}
		check := func(col int, stored []byte, null bool, form fieldcrypt.Form, want *string) {
			if null || want == nil {
				if !null || want != nil {
					t.Fatalf("row %s col %d: NULL mismatch (stored NULL %v, want %v)", id, col, null, want)
				}
				return
			}
			var got []byte
			var err error
			if form == fieldcrypt.Text {
				got, err = r.DecryptText(nil, stored, f.bind(col, id))
			} else {
				got, err = r.Decrypt(nil, stored, f.bind(col, id))
			}
			if err != nil || string(got) != *want {
				t.Fatalf("row %s col %d: %q, %v; want %q", id, col, got, err, *want)
			}
			h, _ := fieldcrypt.ParseHeader(stored, form)
			keys[h.KeyID]++
		}
		check(0, nid, nid == nil, fieldcrypt.Binary, w[0])
		var eb []byte
		if email != nil {
			eb = []byte(*email)
		}
		check(1, eb, email == nil, fieldcrypt.Text, w[1])
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if n != len(f.want) {
		t.Fatalf("%d rows, want %d: rows lost", n, len(f.want))
	}
	return keys
}

func TestReencryptEndToEnd(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 2500, rOld, true)
	rNew := ring(t, newK, oldK)
	ctx := context.Background()

	before, err := TakeCensus(ctx, f.pool, rNew, f.t)
	if err != nil {
		t.Fatal(err)
	}
	if before.ValuesUnder(rOld.Primary()) != 2500*2-250-250 || before.Columns[0].Nulls != 250 || before.Columns[1].Nulls != 250 {
		t.Fatalf("census before: %+v", before)
	}
	if before.Columns[0].Keys[0].Slot != "previous" {
		t.Fatalf("slot %q", before.Columns[0].Keys[0].Slot)
	}

	var calls int
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 300, Workers: 2, Progress: func(p Progress) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 2500 || rep.Scanned != 2500 || rep.Rewrapped != 4500 || rep.Undecryptable != 0 || !rep.Done {
		t.Fatalf("report %+v", rep.Progress)
	}
	if calls < 9 {
		t.Fatalf("progress called %d times", calls)
	}
	if !rep.Retirable(rOld.Primary()) || rep.Census.NotUpToDate() != 0 {
		t.Fatalf("census after: %+v", rep.Census)
	}
	if !strings.Contains(rep.Summary(), "previous key "+rOld.Primary().String()+": 0 values left in this table") {
		t.Fatalf("summary: %s", rep.Summary())
	}
	keys := f.verify(t, rNew)
	if len(keys) != 1 || keys[rNew.Primary()] != 4500 {
		t.Fatalf("keys after: %v", keys)
	}
	// The checkpoint of a finished run is cleared; a second run finds nothing.
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM fieldcrypt_checkpoint`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("checkpoint rows left: %d %v", n, err)
	}
	rep, err = Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{})
	if err != nil || rep.Scanned != 0 || rep.Resumed {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	// With the old key gone, everything still decrypts.
	f.verify(t, ring(t, newK))
}

func TestDryRunWritesNothing(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 700, ring(t, oldK), false)
	ctx := context.Background()
	var sum1, sum2 string
	q := `SELECT md5(string_agg(id::text || coalesce(encode(nid,'hex'),'-') || coalesce(email,'-'), ',' ORDER BY id)) FROM accounts`
	_ = f.pool.QueryRow(ctx, q).Scan(&sum1)
	rep, err := Reencrypt(ctx, f.pool, ring(t, newK, oldK), f.t, ReencryptOptions{DryRun: true, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	_ = f.pool.QueryRow(ctx, q).Scan(&sum2)
	if sum1 != sum2 {
		t.Fatal("dry run changed the table")
	}
	if rep.Rewrapped != 700*2-70-70 || rep.Scanned != 700 || !rep.DryRun || !strings.Contains(rep.Summary(), "dry run") {
		t.Fatalf("dry run report %+v", rep.Progress)
	}
	if rep.Retirable(ring(t, oldK).Primary()) {
		t.Fatal("dry run says the old key is safe to retire")
	}
	var exists bool
	_ = f.pool.QueryRow(ctx, `SELECT to_regclass('fieldcrypt_checkpoint') IS NOT NULL`).Scan(&exists)
	if exists {
		t.Fatal("dry run created the checkpoint table")
	}
}

func TestUndecryptableReported(t *testing.T) {
	oldK, newK, lostK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 400, ring(t, oldK), false)
	ctx := context.Background()
	lost := ring(t, lostK)
	v, _ := lost.Encrypt(nil, []byte("sealed under a lost key"), fieldcrypt.Binding{})
	_, err := f.pool.Exec(ctx, `UPDATE accounts SET nid = $1 WHERE id IN (17, 230)`, v)
	if err != nil {
		t.Fatal(err)
	}
	// Tampered: flip the last byte of row 99's nid; plaintext in row 150's email.
	if _, err := f.pool.Exec(ctx, `UPDATE accounts SET nid = overlay(nid placing decode(lpad(to_hex(get_byte(nid, length(nid)-1) # 1), 2, '0'), 'hex') from length(nid) for 1) WHERE id = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE accounts SET email = 'plain@example.com' WHERE id = 150`); err != nil {
		t.Fatal(err)
	}
	rNew := ring(t, newK, oldK)
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	for _, fl := range rep.Failures {
		got[fl.Row+"/"+fl.Column] = fl.Err
	}
	if rep.Undecryptable != 4 || len(got) != 4 {
		t.Fatalf("failures %v (%d)", got, rep.Undecryptable)
	}
	if !errors.Is(got["17/nid"], fieldcrypt.ErrUnknownKey) || !errors.Is(got["230/nid"], fieldcrypt.ErrUnknownKey) ||
		!errors.Is(got["99/nid"], fieldcrypt.ErrAuthentication) || !errors.Is(got["150/email"], fieldcrypt.ErrNotEnvelope) {
		t.Fatalf("failures %v", got)
	}
	if strings.Contains(fmt.Sprint(got), "sealed under") || strings.Contains(fmt.Sprint(got), "plain@") {
		t.Fatal("failure reveals a value")
	}
	// The other column of those rows was still rewrapped, and the bad values
	// are left exactly as they were.
	var stored []byte
	_ = f.pool.QueryRow(ctx, `SELECT nid FROM accounts WHERE id = 17`).Scan(&stored)
	if string(stored) != string(v) {
		t.Fatal("undecryptable value was changed")
	}
	var email string
	_ = f.pool.QueryRow(ctx, `SELECT email FROM accounts WHERE id = 17`).Scan(&email)
	if h, _ := fieldcrypt.ParseHeader([]byte(email), fieldcrypt.Text); h.KeyID != rNew.Primary() {
		t.Fatal("the good column of a failing row was not rewrapped")
	}
	if rep.Census.NotUpToDate() != 4 || !strings.Contains(rep.Summary(), "4 undecryptable") || !strings.Contains(rep.Summary(), "4 values not under the primary key") {
		t.Fatalf("summary: %s", rep.Summary())
	}
	var unknown, previous, invalid int64
	for _, c := range rep.Census.Columns {
		invalid += c.NotEnvelope
		for _, k := range c.Keys {
			switch k.Slot {
			case "unknown":
				unknown += k.Values
			case "previous":
				previous += k.Values
			}
		}
	}
	if unknown != 2 || previous != 1 || invalid != 1 { // the tampered value still carries the old key id
		t.Fatalf("census unknown=%d invalid=%d: %+v", unknown, invalid, rep.Census)
	}
	if rep.Retirable(ring(t, oldK).Primary()) {
		t.Fatal("old key reported safe to retire while the tampered row still names it")
	}
}

// TestConflictNotOverwritten writes rows between the job's read and its
// update (deterministically, through the test hook): the job must not
// overwrite them, must count the conflicts, re-read and rewrap them.
func TestConflictNotOverwritten(t *testing.T) {
	for _, casValue := range []bool{false, true} {
		t.Run(fmt.Sprintf("casValue=%v", casValue), func(t *testing.T) { testConflictNotOverwritten(t, casValue) })
	}
}

func testConflictNotOverwritten(t *testing.T, casValue bool) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 600, rOld, true)
	ctx := context.Background()
	var hits atomic.Int64
	testHookBeforeUpdate = func(ids []string) {
		if hits.Add(1) > 3 || len(ids) < 2 {
			return
		}
		for _, id := range []string{ids[0], ids[len(ids)/2]} {
			p := "rewritten-" + id
			f.want[id] = [2]*string{&p, f.want[id][1]}
			if _, err := f.pool.Exec(ctx, `UPDATE accounts SET nid = $1 WHERE id = $2::bigint`, f.seal(t, rOld, 0, id, &p), id); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { testHookBeforeUpdate = nil }()
	rNew := ring(t, newK, oldK)
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 100, casValue: casValue})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conflicts != 6 || rep.Unresolved != 0 {
		t.Fatalf("conflicts %d unresolved %d", rep.Conflicts, rep.Unresolved)
	}
	keys := f.verify(t, rNew)
	if len(keys) != 1 || !rep.Retirable(rOld.Primary()) {
		t.Fatalf("keys %v", keys)
	}
}

// TestConflictOtherColumn: the compare-and-swap compares the row version, so
// a write to another column of the row between read and update is a
// conflict too: the row is re-read (keeping that write) and rewrapped on the
// next round, never written back over it.
func TestConflictOtherColumn(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 300, rOld, true)
	ctx := context.Background()
	var hits atomic.Int64
	testHookBeforeUpdate = func(ids []string) {
		if hits.Add(1) > 1 {
			return
		}
		if _, err := f.pool.Exec(ctx, `UPDATE accounts SET other = -other WHERE id = $1::bigint`, ids[0]); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookBeforeUpdate = nil }()
	rNew := ring(t, newK, oldK)
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 100, Ranges: 1})
	if err != nil || rep.Conflicts != 1 || rep.Rewrapped != 300*2-30-30 {
		t.Fatalf("%v conflicts %d rewrapped %d", err, rep.Conflicts, rep.Rewrapped)
	}
	var other int
	if err := f.pool.QueryRow(ctx, `SELECT other FROM accounts WHERE id = 1`).Scan(&other); err != nil || other != -1 {
		t.Fatalf("the concurrent write to another column was lost: %d %v", other, err)
	}
	f.verify(t, rNew)
}

// TestConflictWriterCommitsDuringUpdate: a writer that updated a row before
// the job's UPDATE reached it, and commits while that UPDATE waits for the
// row's lock. Postgres then re-checks the UPDATE's condition against the
// committed version (EvalPlanQual), whose xmin is the writer's: the job's
// stale value must not be written over it. The row is re-read and its new
// value rewrapped.
func TestConflictWriterCommitsDuringUpdate(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 300, rOld, true)
	ctx := context.Background()
	var hits atomic.Int64
	done := make(chan error, 1)
	testHookBeforeUpdate = func(ids []string) {
		if hits.Add(1) > 1 {
			return
		}
		id := ids[len(ids)/2]
		p := "written-while-the-job-waits-" + id
		f.want[id] = [2]*string{&p, f.want[id][1]}
		tx, err := f.pool.Begin(ctx)
		if err != nil {
			t.Error(err)
			done <- err
			return
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET nid = $1 WHERE id = $2::bigint`, f.seal(t, rOld, 0, id, &p), id); err != nil {
			t.Error(err)
		}
		// Commit once the job's UPDATE waits for this transaction.
		x := strconv.FormatUint(uint64(txid(t, tx)), 10)
		go func() {
			for deadline := time.Now().Add(time.Minute); ; {
				if time.Now().After(deadline) {
					done <- errors.New("the job's UPDATE never waited for the writer")
					_ = tx.Commit(ctx)
					return
				}
				var waiting int
				err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = $1`,
					x).Scan(&waiting)
				if err != nil || waiting > 0 {
					if err == nil {
						err = tx.Commit(ctx)
					}
					done <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	defer func() { testHookBeforeUpdate = nil }()
	rNew := ring(t, newK, oldK)
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 100, Ranges: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rep.Conflicts != 1 || rep.Unresolved != 0 {
		t.Fatalf("conflicts %d unresolved %d", rep.Conflicts, rep.Unresolved)
	}
	f.verify(t, rNew) // the writer's value, under the new key
}

// txid is the id of tx's transaction (assigned by its first write), as
// pg_locks shows it (32 bits, without the epoch).
func txid(t *testing.T, tx pgx.Tx) uint32 {
	var x uint32
	if err := tx.QueryRow(context.Background(), `SELECT pg_current_xact_id()::text::bigint % 4294967296`).Scan(&x); err != nil {
		t.Error(err)
	}
	return x
}

// TestWritersDuringJob: application writers update random rows, under the old
// or the new key, while the job runs; afterwards every row decrypts to the
// last value its writer wrote.
func TestWritersDuringJob(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	rNew := ring(t, newK, oldK)
	f := newFixture(t, 3000, rOld, true)
	ctx := context.Background()
	const writers = 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var writes atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(uint64(w), 7))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				// Writer w owns the rows with id % writers == w.
				id := strconv.Itoa(1 + w + writers*rnd.IntN(3000/writers))
				p := fmt.Sprintf("w%d-%d", w, n)
				r := rOld
				if n%2 == 0 {
					r = rNew
				}
				v := f.seal(t, r, 0, id, &p)
				if _, err := f.pool.Exec(ctx, `UPDATE accounts SET nid = $1 WHERE id = $2::bigint`, v, id); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				f.want[id] = [2]*string{&p, f.want[id][1]}
				mu.Unlock()
				writes.Add(1)
			}
		}()
	}
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 50, Workers: 2, Pause: time.Millisecond})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("writes during job: %d, conflicts: %d, rewrapped: %d", writes.Load(), rep.Conflicts, rep.Rewrapped)
	if writes.Load() < 50 {
		t.Fatalf("only %d concurrent writes", writes.Load())
	}
	f.verify(t, rNew)
}

func TestCancelAndResume(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 5000, rOld, false)
	rNew := ring(t, newK, oldK)
	ctx, cancel := context.WithCancel(context.Background())
	var batches atomic.Int64
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 200, Workers: 2, Progress: func(p Progress) {
		if batches.Add(1) == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Done {
		t.Fatalf("cancelled run: %v %+v", err, rep)
	}
	bg := context.Background()
	mid, err := TakeCensus(bg, f.pool, rNew, f.t)
	if err != nil {
		t.Fatal(err)
	}
	if mid.ValuesUnder(rOld.Primary()) == 0 || mid.ValuesUnder(rNew.Primary()) == 0 {
		t.Fatalf("cancel did not land midway: %+v", mid)
	}
	var parts int
	_ = f.pool.QueryRow(bg, `SELECT count(*) FROM fieldcrypt_checkpoint WHERE cursor IS NOT NULL`).Scan(&parts)
	if parts == 0 {
		t.Fatal("no checkpoint written")
	}
	rep2, err := Reencrypt(bg, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 200, Workers: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !rep2.Resumed || rep2.Scanned >= 5000 || !rep2.Retirable(rOld.Primary()) {
		t.Fatalf("resumed run: resumed=%v scanned=%d census=%+v", rep2.Resumed, rep2.Scanned, rep2.Census)
	}
	if rep.Scanned+rep2.Scanned < 5000 {
		t.Fatalf("scanned %d + %d", rep.Scanned, rep2.Scanned)
	}
	keys := f.verify(t, rNew)
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
}

func TestLegacyPlaintextMigration(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE people (id text PRIMARY KEY, phone text);
		INSERT INTO people SELECT 'p' || i, '+84-' || i FROM generate_series(1, 300) i;
		UPDATE people SET phone = NULL WHERE id = 'p7';
		UPDATE people SET phone = '' WHERE id = 'p8'`); err != nil {
		t.Fatal(err)
	}
	r := ring(t, fieldcrypttest.NewKey(t))
	tb := Table{Name: "people", PK: "id", Bind: true, Columns: []Column{{Name: "phone", Form: fieldcrypt.Text}}}
	// Without the migration option plaintext is an error for every row.
	rep, err := Reencrypt(ctx, db.Pool, r, tb, ReencryptOptions{DryRun: true})
	if err != nil || rep.Undecryptable != 299 {
		t.Fatalf("strict dry run: %v %d", err, rep.Undecryptable)
	}
	rep, err = Reencrypt(ctx, db.Pool, r.WithLegacy(fieldcrypt.Plaintext), tb, ReencryptOptions{BatchSize: 64})
	if err != nil || rep.Rewrapped != 299 || rep.Census.NotUpToDate() != 0 || rep.Census.Columns[0].Nulls != 1 {
		t.Fatalf("migration: %v %+v", err, rep)
	}
	var phone string
	_ = db.Pool.QueryRow(ctx, `SELECT phone FROM people WHERE id = 'p42'`).Scan(&phone)
	got, err := r.DecryptText(nil, []byte(phone), fieldcrypt.Binding{Table: "people", Column: "phone", Row: "p42"})
	if err != nil || string(got) != "+84-42" {
		t.Fatalf("p42: %q %v", got, err)
	}
	_ = db.Pool.QueryRow(ctx, `SELECT phone FROM people WHERE id = 'p8'`).Scan(&phone)
	got, err = r.DecryptText(nil, []byte(phone), fieldcrypt.Binding{Table: "people", Column: "phone", Row: "p8"})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty string: %q %v", got, err)
	}
}

func TestQuotedIdentifiersAndUUIDKeys(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE SCHEMA "Vault"; CREATE TABLE "Vault"."Card ""Holders""" ("Row Id" uuid PRIMARY KEY, "Name; DROP" bytea)`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	tb := Table{Schema: "Vault", Name: `Card "Holders"`, PK: "Row Id", Bind: true, Columns: []Column{{Name: "Name; DROP"}}}
	for i := 0; i < 250; i++ {
		var id string
		if err := db.Pool.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		v, _ := rOld.Encrypt(nil, []byte("holder "+id), fieldcrypt.Binding{Table: tb.Name, Column: "Name; DROP", Row: id})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO "Vault"."Card ""Holders""" VALUES ($1, $2)`, id, v); err != nil {
			t.Fatal(err)
		}
	}
	rNew := ring(t, newK, oldK)
	rep, err := Reencrypt(ctx, db.Pool, rNew, tb, ReencryptOptions{BatchSize: 40, Workers: 3, Job: "uuid job", CheckpointTable: pgx.Identifier{"Vault", "my checkpoints"}})
	if err != nil || rep.Rewrapped != 250 || !rep.Retirable(rOld.Primary()) {
		t.Fatalf("%v %+v", err, rep)
	}
	rows, _ := db.Pool.Query(ctx, `SELECT "Row Id"::text, "Name; DROP" FROM "Vault"."Card ""Holders"""`)
	for rows.Next() {
		var id string
		var v []byte
		_ = rows.Scan(&id, &v)
		got, err := rNew.Decrypt(nil, v, fieldcrypt.Binding{Table: tb.Name, Column: "Name; DROP", Row: id})
		if err != nil || string(got) != "holder "+id {
			t.Fatalf("%s: %v", id, err)
		}
	}
	rows.Close()
}

func TestThrottleAndPause(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 3000, ring(t, oldK), false)
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	var slept time.Duration
	var pauses int
	opt := ReencryptOptions{BatchSize: 500, Ranges: 1, RowsPerSecond: 1000, Pause: 7 * time.Millisecond,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if d == 7*time.Millisecond {
				pauses++
			}
			slept += d
			now = now.Add(d)
			return nil
		}}
	rep, err := Reencrypt(context.Background(), f.pool, ring(t, newK, oldK), f.t, opt)
	if err != nil {
		t.Fatal(err)
	}
	// 3000 rows at 1000 rows/s is 3 s of waiting, pauses included; a pause
	// between each two of the 6 full batches (the 7th read, sent with the
	// 6th batch's UPDATE, finds nothing).
	if pauses != 5 || slept < 2900*time.Millisecond || slept > 3100*time.Millisecond {
		t.Fatalf("pauses %d slept %v", pauses, slept)
	}
	if rep.RowsPerSecond < 900 || rep.RowsPerSecond > 1100 || rep.Elapsed < 2900*time.Millisecond {
		t.Fatalf("rate %v elapsed %v", rep.RowsPerSecond, rep.Elapsed)
	}
}

func TestProgressETA(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 1000, ring(t, oldK), false)
	now := time.Unix(1e9, 0)
	var seen []Progress
	opt := ReencryptOptions{BatchSize: 250, Ranges: 1,
		Now:      func() time.Time { now = now.Add(100 * time.Millisecond); return now },
		Progress: func(p Progress) { seen = append(seen, p) }}
	if _, err := Reencrypt(context.Background(), f.pool, ring(t, newK, oldK), f.t, opt); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 5 || seen[0].Scanned != 250 || seen[0].ETA <= 0 || seen[0].Total != 1000 || seen[4].ETA != 0 || !seen[4].Done {
		t.Fatalf("progress %+v", seen)
	}
}

// TestCountInSnapshotFromTheStart: the count of rows to do runs beside the
// batches, in a snapshot taken before the first of them. Held back until
// the job has written a quarter of the table, it still counts every row
// that needed work when the run started.
func TestCountInSnapshotFromTheStart(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 2000, ring(t, oldK), false)
	rNew := ring(t, newK, oldK)
	ctx := context.Background()
	id := rNew.Primary()
	db := lateCountDB{DB: f.pool, table: `"accounts"`, wait: func() {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var done int
			if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE substring(nid from 2 for 8) = $1`, id[:]).Scan(&done); err != nil {
				t.Error(err)
				return
			}
			if done >= 500 {
				return
			}
		}
		t.Error("the job wrote no batches while its count waited")
	}}
	rep, err := Reencrypt(ctx, db, rNew, f.t, ReencryptOptions{BatchSize: 100, Ranges: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 2000 || rep.Scanned != 2000 {
		t.Fatalf("total %d scanned %d, want 2000 each", rep.Total, rep.Scanned)
	}
}

// lateCountDB holds the count of rows to do back (the count over table in
// a transaction the job begins) until wait returns.
type lateCountDB struct {
	DB
	table string
	wait  func()
}

func (d lateCountDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := d.DB.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return lateCountTx{Tx: tx, db: d}, nil
}

type lateCountTx struct {
	pgx.Tx
	db lateCountDB
}

func (t lateCountTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if strings.HasPrefix(sql, "SELECT count(*) FROM "+t.db.table+" ") {
		t.db.wait()
	}
	return t.Tx.QueryRow(ctx, sql, args...)
}

func TestBadTable(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	_, _ = db.Pool.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, b bytea, s text)`)
	r := ring(t, fieldcrypttest.NewKey(t))
	cases := []Table{
		{Name: "t", PK: "id", Columns: []Column{{Name: "b", Form: fieldcrypt.Text}}},
		{Name: "t", PK: "id", Columns: []Column{{Name: "s"}}},
		{Name: "t", PK: "id", Columns: []Column{{Name: "missing"}}},
		{Name: "nope", PK: "id", Columns: []Column{{Name: "b"}}},
		{Name: "t", PK: "id"},
		{Name: "t", PK: "id", Columns: []Column{{Name: "b"}, {Name: "b"}}},
	}
	for i, tb := range cases {
		if _, err := Reencrypt(ctx, db.Pool, r, tb, ReencryptOptions{}); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

// TestFormatSQL runs the SQL expressions of FORMAT.md §4, verbatim, against
// stored values: the key id they read is the key's ticket fingerprint, and
// the "not under the primary" filters select exactly the other rows.
func TestFormatSQL(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE f (id int PRIMARY KEY, b bytea, t text)`); err != nil {
		t.Fatal(err)
	}
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	r1, r2 := ring(t, k1), ring(t, k2)
	r2, _ = r2.WithAlgorithm(fieldcrypt.AES256GCM)
	for i, r := range []*fieldcrypt.Keyring{r1, r2, r1} {
		b, _ := r.Encrypt(nil, []byte("v"), fieldcrypt.Binding{})
		s, _ := r.EncryptText(nil, []byte("v"), fieldcrypt.Binding{})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO f VALUES ($1, $2, $3)`, i, b, string(s)); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = db.Pool.Exec(ctx, `INSERT INTO f VALUES (9, NULL, NULL)`)
	// Not envelopes: the census counts them as such and does not fail.
	_, _ = db.Pool.Exec(ctx, `INSERT INTO f VALUES (10, '\x0102', 'fc1:/!!!!!!!!!!!!!!!!!!'), (11, '\xfc01', 'plain')`)
	var got []string
	rows, _ := db.Pool.Query(ctx, `SELECT encode(substring(b from 2 for 8), 'hex') || '/' ||
		encode(substring(decode(substring(t from 5 for 12), 'base64') from 2 for 8), 'hex') FROM f WHERE b IS NOT NULL AND id < 9 ORDER BY id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	fp1, fp2 := r1.Primary().String(), r2.Primary().String()
	if strings.Join(got, ",") != fp1+"/"+fp1+","+fp2+"/"+fp2+","+fp1+"/"+fp1 {
		t.Fatalf("key ids %v, want %s and %s", got, fp1, fp2)
	}
	var nb, nt int
	err = db.Pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE b IS NOT NULL AND substring(b from 1 for 9) <> decode('fc' || $1, 'hex')),
		count(*) FILTER (WHERE t IS NOT NULL AND NOT starts_with(t COLLATE "C", 'fc1:' || encode(decode('fc' || $1, 'hex'), 'base64')))
		FROM f`, fp1).Scan(&nb, &nt)
	if err != nil || nb != 3 || nt != 3 {
		t.Fatalf("not-current filters: %d %d %v", nb, nt, err)
	}
	// KeyIDExpr is the same expression, guarded: 'invalid' for values that
	// are not envelopes, NULL for NULL.
	var viaExpr string
	if err := db.Pool.QueryRow(ctx, `SELECT `+KeyIDExpr("b", fieldcrypt.Binary)+` || '/' || `+KeyIDExpr("t", fieldcrypt.Text)+` FROM f WHERE id = 1`).Scan(&viaExpr); err != nil || viaExpr != fp2+"/"+fp2 {
		t.Fatalf("KeyIDExpr: %q %v", viaExpr, err)
	}
	rows, _ = db.Pool.Query(ctx, `SELECT coalesce(`+KeyIDExpr("b", fieldcrypt.Binary)+`, 'null') || '/' || coalesce(`+KeyIDExpr("t", fieldcrypt.Text)+`, 'null') FROM f WHERE id >= 9 ORDER BY id`)
	guarded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(guarded, ",") != "null/null,invalid/invalid,invalid/invalid" {
		t.Fatalf("guarded KeyIDExpr: %v %v", guarded, err)
	}
	// FORMAT.md's census one-liner counts plaintext as 'invalid', never
	// under a key id.
	rows, _ = db.Pool.Query(ctx, `SELECT coalesce(key_id, 'null') || '=' || count FROM (SELECT CASE WHEN b IS NULL THEN NULL
                WHEN length(b) >= 38 AND substring(b from 1 for 1) = decode('fc', 'hex')
                THEN encode(substring(b from 2 for 8), 'hex') ELSE 'invalid' END AS key_id,
           count(*)
    FROM f GROUP BY 1) s ORDER BY 1`)
	census, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{fp1 + "=2", fp2 + "=1", "invalid=2", "null=1"}
	slices.Sort(want)
	if err != nil || strings.Join(census, ",") != strings.Join(want, ",") {
		t.Fatalf("one-liner census %v %v, want %v", census, err, want)
	}
	// The census agrees.
	c, err := TakeCensus(ctx, db.Pool, r1, Table{Name: "f", PK: "id", Columns: []Column{{Name: "b"}, {Name: "t", Form: fieldcrypt.Text}}})
	if err != nil || c.ValuesUnder(r1.Primary()) != 4 || c.ValuesUnder(r2.Primary()) != 2 || c.Columns[0].Nulls != 1 || c.Columns[0].NotEnvelope != 2 || c.Columns[1].NotEnvelope != 2 || c.Columns[1].Keys[1].Slot != "unknown" && c.Columns[1].Keys[0].Slot != "unknown" {
		t.Fatalf("census %+v %v", c, err)
	}
}

// TestTextResultFormat runs the census and the job through connections that
// get results in the text format (the simple protocol and exec mode, which a
// DSN meant for PgBouncer often selects): bytea values then arrive as "\x…"
// hex and must still be read as the bytes they are.
func TestTextResultFormat(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
			rOld := ring(t, oldK)
			f := newFixture(t, 300, rOld, true)
			rNew := ring(t, newK, oldK)
			ctx := context.Background()
			cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			want, err := TakeCensus(ctx, f.pool, rNew, f.t)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TakeCensus(ctx, pool, rNew, f.t)
			if err != nil || !reflect.DeepEqual(got, want) || got.ValuesUnder(rOld.Primary()) == 0 {
				t.Fatalf("census over %v: %+v, %v; want %+v", mode, got, err, want)
			}
			rep, err := Reencrypt(ctx, pool, rNew, f.t, ReencryptOptions{BatchSize: 64, Workers: 2})
			if err != nil || rep.Undecryptable != 0 || rep.Unresolved != 0 || rep.Census.NotUpToDate() != 0 || !rep.Retirable(rOld.Primary()) {
				t.Fatalf("job over %v: %v; %s", mode, err, rep.Summary())
			}
			if keys := f.verify(t, rNew); len(keys) != 1 {
				t.Fatalf("keys %v", keys)
			}
		})
	}
}

// cancelAfterInsert cancels the run once the checkpoint's parts are written:
// a job killed right after it split the key range.
type cancelAfterInsert struct {
	DB
	cancel context.CancelFunc
}

func (d cancelAfterInsert) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := d.DB.Begin(ctx)
	return cancelTx{tx, d.cancel}, err
}

type cancelTx struct {
	pgx.Tx
	cancel context.CancelFunc
}

func (d cancelTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := d.Tx.Exec(ctx, sql, args...)
	if strings.HasPrefix(sql, "INSERT INTO") {
		d.cancel()
	}
	return tag, err
}

// TestKilledWhileSplitting: a run stopped while it records its split must not
// leave a checkpoint that covers only part of the key range.
func TestKilledWhileSplitting(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	rOld := ring(t, oldK)
	f := newFixture(t, 900, rOld, false)
	rNew := ring(t, newK, oldK)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Reencrypt(ctx, cancelAfterInsert{f.pool, cancel}, rNew, f.t, ReencryptOptions{BatchSize: 100, Workers: 3}); err == nil {
		t.Fatal("cancelled run succeeded")
	}
	rep, err := Reencrypt(context.Background(), f.pool, rNew, f.t, ReencryptOptions{BatchSize: 100, Workers: 3})
	if err != nil || !rep.Retirable(rOld.Primary()) || rep.Census.NotUpToDate() != 0 {
		t.Fatalf("resumed run: %v; %s", err, rep.Summary())
	}
	if keys := f.verify(t, rNew); len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
}
