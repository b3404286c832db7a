package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
	"github.com/goodgo/rotation/fingerprint"
)

// fieldPostgres re-encrypts a real table with the online job while the
// application keeps writing, cancels the job midway and resumes it.
func fieldPostgres(ctx context.Context, o *Options, p *Phase) error {
	if o.DatabaseURL == "" {
		return skip(p, "no Postgres: set DATABASE_URL or --database-url-file (in-process phase ran instead)")
	}
	dsn, drop, err := scratchDB(ctx, o.DatabaseURL)
	var u errUnreachable
	if errors.As(err, &u) {
		return absent(p, o.DatabaseConfigured, u, "Postgres (DATABASE_URL)")
	}
	if err != nil {
		return err
	}
	defer drop()
	pool, err := pgPool(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	old, nw, err := fieldKeys()
	if err != nil {
		return err
	}
	p.FP("FIELD_ENCRYPTION_KEY (old)", fingerprint.OfString(old))
	p.FP("FIELD_ENCRYPTION_KEY (new)", fingerprint.OfString(nw))
	before, err := fieldcrypt.NewKeyring(old)
	if err != nil {
		return err
	}
	ring, err := fieldcrypt.NewKeyring(nw, old)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE customers (id bigint PRIMARY KEY, phone bytea, email text)`); err != nil {
		return err
	}
	bind := func(col string, id int) fieldcrypt.Binding {
		return fieldcrypt.Binding{Table: "customers", Column: col, Row: strconv.Itoa(id)}
	}
	rows := make([][]any, 0, o.Rows)
	for i := 1; i <= o.Rows; i++ {
		phone, err := before.Encrypt(nil, []byte(fmt.Sprintf("09%08d", i)), bind("phone", i))
		if err != nil {
			return err
		}
		email, err := before.EncryptText(nil, []byte(fmt.Sprintf("user%d@example.vn", i)), bind("email", i))
		if err != nil {
			return err
		}
		var e any = string(email)
		if i%10 == 0 {
			e = nil // NULL stays NULL
		}
		rows = append(rows, []any{int64(i), phone, e})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"id", "phone", "email"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	p.Event("Field key (Postgres): %d rows seeded under the old key in a scratch database", o.Rows)
	table := pgstore.Table{Name: "customers", PK: "id", Bind: true,
		Columns: []pgstore.Column{{Name: "phone", Form: fieldcrypt.Binary}, {Name: "email", Form: fieldcrypt.Text}}}

	// The application writes phones with the new primary during the job. It
	// stops between statements, so every write it records was committed.
	var stopping atomic.Bool
	var wg sync.WaitGroup
	stopWriters := func() { stopping.Store(true) }
	var writes atomic.Int64
	last := sync.Map{} // id → last phone written
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for !stopping.Load() && ctx.Err() == nil {
			id := 1 + r.IntN(o.Rows)
			v := fmt.Sprintf("08%08d", r.IntN(1e8))
			ct, err := ring.Encrypt(nil, []byte(v), bind("phone", id))
			if err == nil {
				_, err = pool.Exec(ctx, `UPDATE customers SET phone = $1 WHERE id = $2`, ct, id)
			}
			if err != nil {
				writeErr = err
				return
			}
			last.Store(id, v)
			writes.Add(1)
		}
	}()
	// First run: cancelled midway, as a killed job would be.
	jctx, cancelJob := context.WithCancel(ctx)
	var firstScanned int64
	_, err = pgstore.Reencrypt(jctx, pool, ring, table, pgstore.ReencryptOptions{BatchSize: 100, Pause: 2 * time.Millisecond,
		Progress: func(pr pgstore.Progress) {
			firstScanned = pr.Scanned
			if pr.Scanned >= int64(o.Rows/3) {
				cancelJob()
			}
		}})
	cancelJob()
	if err != nil && !errors.Is(err, context.Canceled) {
		stopWriters()
		wg.Wait()
		return fmt.Errorf("first run: %w", err)
	}
	p.Event("Field key (Postgres): job cancelled after %d rows, as if killed", firstScanned)
	start := time.Now()
	rep, err := pgstore.Reencrypt(ctx, pool, ring, table, pgstore.ReencryptOptions{BatchSize: 500, Workers: 2})
	stopWriters()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("resumed run: %w", err)
	}
	if writeErr != nil {
		return fmt.Errorf("application writer: %w", writeErr)
	}
	p.Event("Field key (Postgres): resumed job finished (resumed=%v); old key safe to retire: %v", rep.Resumed, rep.Retirable(before.Primary()))
	p.Fact("Postgres table of %d rows × 2 columns: first run cancelled after %d rows; resumed run rewrapped %d values in %s (%.0f rows/s), %d conflicts with %d concurrent application writes, %d undecryptable",
		o.Rows, firstScanned, rep.Rewrapped, time.Since(start).Round(time.Millisecond), rep.RowsPerSecond, rep.Conflicts, writes.Load(), rep.Undecryptable)
	if !rep.Retirable(before.Primary()) || rep.Undecryptable > 0 {
		return fmt.Errorf("after the job the census still shows rows on the old key or undecryptable values: %s", rep.Summary())
	}
	// Every row opens with the new key alone and holds its last write.
	retired, err := fieldcrypt.NewKeyring(nw)
	if err != nil {
		return err
	}
	rs, err := pool.Query(ctx, `SELECT id, phone FROM customers`)
	if err != nil {
		return err
	}
	defer rs.Close()
	var checked int
	for rs.Next() {
		var id int
		var ct []byte
		if err := rs.Scan(&id, &ct); err != nil {
			return err
		}
		pt, err := retired.Decrypt(nil, ct, bind("phone", id))
		if err != nil {
			return fmt.Errorf("row %d does not open with the new key alone: %w", id, err)
		}
		want := fmt.Sprintf("09%08d", id)
		if v, ok := last.Load(id); ok {
			want = v.(string)
		}
		if string(pt) != want {
			return fmt.Errorf("row %d lost a write", id)
		}
		checked++
	}
	if err := rs.Err(); err != nil {
		return err
	}
	p.Fact("All %d rows open with the new key alone and hold the last value the application wrote", checked)
	p.Learn("The online re-encrypt job survived a kill and a resume with the application writing throughout: no write lost, zero rows left on the old key.")
	return nil
}
