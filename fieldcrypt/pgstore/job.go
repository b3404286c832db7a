package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fieldcrypt"
)

// ReencryptOptions tune a re-encrypt run. The zero value is a sensible default.
type ReencryptOptions struct {
	// BatchSize is the number of rows read and written per statement;
	// default 1000. Memory use is proportional to it.
	BatchSize int
	// Workers is the number of parts of the key range this process works
	// on in parallel; default 1. Several processes (on several machines) run
	// with the same job name share one job: each worker claims parts that no
	// one else holds.
	Workers int
	// Ranges is the number of parts the key range is split into when the
	// job starts; default max(16, 4 × Workers). The split is stored in the
	// checkpoint, so processes that join or resume keep it.
	Ranges int
	// Lease is how long a worker holds a part without renewing it; default
	// 30s. Each process renews its leases every Lease/3. A process that dies
	// leaves its parts to the others after at most Lease.
	Lease time.Duration
	// RowsPerSecond caps the rate of rows read, over all workers; 0 is no
	// cap.
	RowsPerSecond float64 `json:"rows_per_second"`
	// Pause is slept by each worker between two batches.
	Pause time.Duration
	// DryRun reads and decrypts everything that would be rewrapped and
	// reports it, but writes nothing: no UPDATE, no checkpoint.
	DryRun bool
	// Job names the checkpoint. The default is derived from the table, the
	// columns and the primary key id, so a run for another rotation starts
	// afresh.
	Job string
	// CheckpointTable is where checkpoints live, created if missing; default
	// fieldcrypt_checkpoint (in the search_path's first schema).
	CheckpointTable pgx.Identifier
	// MaxRetries bounds how often a row that keeps being written
	// concurrently is re-read and retried in one run; default 10. A row still
	// conflicting is counted in Unresolved and left for the next run.
	MaxRetries int
	// MaxReported caps the failures listed in Progress.Failures (all are
	// counted); default 1000.
	MaxReported int
	// Progress, when set, is called after every batch and once at the end,
	// never concurrently.
	Progress func(Progress)
	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	// casValue makes the compare-and-swap compare every column with the
	// value read instead of the row version (xmin); benchmarks only.
	casValue bool
}

func (o *ReencryptOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Ranges <= 0 {
		o.Ranges = max(16, 4*o.Workers)
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if len(o.CheckpointTable) == 0 {
		o.CheckpointTable = pgx.Identifier{"fieldcrypt_checkpoint"}
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.MaxReported <= 0 {
		o.MaxReported = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = realSleep
	}
}

type part struct {
	n          int
	lo, hi     *string // exclusive lower, inclusive upper bound; nil is open
	cursor     *string
	checkpoint bool // persisted
}

type job struct {
	db       DB
	ring     *fieldcrypt.Keyring
	t        Table
	opt      ReencryptOptions
	key      rowKey
	name     string
	cpTable  string
	tableOID string
	owner    string // this process, in the checkpoint table

	mu       sync.Mutex
	prog     Progress
	start    time.Time
	limStart time.Time
	limRows  int64

	selectSQL [4]string // by bound shape: lo?, hi?
	rereadSQL string
	updateSQL string
	prefixes  []any
}

// Reencrypt rewraps every value of t's columns that is not under the
// keyring's primary key, online, and returns a report ending with the
// census. It returns the report so far and ctx's error when cancelled; a
// later run with the same job name resumes from the checkpoint. Values that
// cannot be opened are reported (Progress.Failures), never skipped silently
// and never changed.
//
// Several processes may run Reencrypt for the same job at once, on one
// machine or several: they share the work through the checkpoint table and
// no part of the key range is worked twice (see ReencryptOptions.Lease). Each returns
// when the whole job is done. A job under another name that holds the same
// table is refused with a *BusyError.
func Reencrypt(ctx context.Context, db DB, ring *fieldcrypt.Keyring, t Table, opt ReencryptOptions) (*Report, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	opt.defaults()
	j := &job{db: db, ring: ring, t: t, opt: opt, cpTable: opt.CheckpointTable.Sanitize(), owner: newOwner()}
	if err := j.prepare(ctx); err != nil {
		return nil, err
	}
	rep := &Report{DryRun: opt.DryRun}
	var claim func(ctx context.Context, w int) (*part, string, error)
	if opt.DryRun {
		// Nothing is written: the parts live in memory.
		bounds, err := j.bounds(ctx, db)
		if err != nil {
			return nil, err
		}
		var mu sync.Mutex
		n := 0
		claim = func(context.Context, int) (*part, string, error) {
			mu.Lock()
			defer mu.Unlock()
			if n+1 >= len(bounds) {
				return nil, "", nil
			}
			n++
			return &part{n: n - 1, lo: bounds[n-1], hi: bounds[n]}, "", nil
		}
	} else {
		resumed, err := j.setup(ctx)
		if err != nil {
			return nil, err
		}
		rep.Resumed = resumed
		claim = j.claim
	}
	// The count of rows to do, for Total and the ETA, runs beside the
	// batches in a snapshot taken before the first of them: exact (it does
	// not miss the rows they do meanwhile), but not a full scan the batches
	// wait for. Until it is in, Total is the planner's estimate of the
	// table's rows.
	countTx, err := j.countSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	j.start = opt.Now()
	j.limStart = j.start

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, opt.Workers+1)
	countDone := make(chan struct{})
	go func() {
		defer close(countDone)
		err := j.count(wctx, countTx)
		if err != nil {
			cancel()
			errs <- err
		}
	}()
	hbDone := make(chan struct{})
	if !opt.DryRun {
		go func() { defer close(hbDone); j.heartbeat(wctx) }()
	} else {
		close(hbDone)
	}
	var wg sync.WaitGroup
	for w := 0; w < opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := j.worker(wctx, w, claim)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	wg.Wait()
	<-countDone // needed for the report; an error cancels the workers
	cancel()
	<-hbDone
	close(errs)
	var runErr error
	for err := range errs {
		if err != nil && (runErr == nil || errors.Is(runErr, context.Canceled)) {
			runErr = err
		}
	}
	if runErr != nil && !opt.DryRun {
		j.release()
	}
	if runErr == nil && !opt.DryRun {
		// The last process to finish clears the job.
		if _, err := db.Exec(ctx, "DELETE FROM "+j.cpTable+" WHERE job = $1 AND NOT EXISTS (SELECT 1 FROM "+j.cpTable+" WHERE job = $1 AND NOT done)", j.name); err != nil {
			runErr = fmt.Errorf("pgstore: clear checkpoint: %w", err)
		}
	}
	j.mu.Lock()
	j.prog.Done = runErr == nil
	j.prog.Waiting = ""
	j.tick()
	rep.Progress = j.snapshot()
	if opt.Progress != nil {
		opt.Progress(j.snapshot())
	}
	j.mu.Unlock()
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = ctx.Err()
		}
		return rep, runErr
	}
	if rep.Census, err = TakeCensus(ctx, db, ring, t); err != nil {
		return rep, err
	}
	for _, id := range ring.Previous() {
		rep.Previous = append(rep.Previous, KeyCount{KeyID: id, Values: rep.Census.ValuesUnder(id), Slot: "previous"})
	}
	return rep, nil
}

// countSnapshot starts the transaction the count of rows to do runs in and
// takes its snapshot, and sets Total to the planner's estimate meanwhile.
func (j *job) countSnapshot(ctx context.Context) (pgx.Tx, error) {
	var est float64
	if err := j.db.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_class WHERE oid = $1::oid", j.tableOID).Scan(&est); err != nil {
		return nil, fmt.Errorf("pgstore: count rows to rewrap: %w", err)
	}
	j.prog.Total = max(int64(est), 0) // -1: never analyzed
	tx, err := j.db.Begin(ctx)
	if err == nil {
		// The snapshot is taken by the first statement after SET TRANSACTION.
		if _, err = tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err == nil {
			_, err = tx.Exec(ctx, "SELECT 1")
		}
		if err != nil {
			_ = tx.Rollback(context.Background())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: count rows to rewrap: %w", err)
	}
	return tx, nil
}

// count counts the rows to do in tx's snapshot, sets Total and ends tx.
func (j *job) count(ctx context.Context, tx pgx.Tx) error {
	defer func() { _ = tx.Rollback(context.Background()) }()
	var n int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+j.t.ident()+" WHERE "+j.t.needsWork(1), j.prefixes...).Scan(&n); err != nil {
		return fmt.Errorf("pgstore: count rows to rewrap: %w", err)
	}
	j.mu.Lock()
	j.prog.Total = n
	j.mu.Unlock()
	return nil
}

// worker claims parts and works them until the job is done: when nothing is
// left to claim but other processes still hold parts, it waits, and takes
// over the parts of a process whose lease expires.
func (j *job) worker(ctx context.Context, w int, claim func(ctx context.Context, w int) (*part, string, error)) error {
	for {
		p, waiting, err := claim(ctx, w)
		if err != nil {
			return err
		}
		if p != nil {
			if err := j.work(ctx, p, w); err != nil && !errors.Is(err, errLeaseLost) {
				return err
			}
			continue
		}
		if waiting == "" {
			return nil
		}
		j.mu.Lock()
		changed := j.prog.Waiting != waiting
		j.prog.Waiting = waiting
		j.mu.Unlock()
		if changed {
			j.report()
		}
		if err := j.opt.Sleep(ctx, j.pollInterval()); err != nil {
			return err
		}
	}
}

func (j *job) prepare(ctx context.Context) error {
	var err error
	if j.key, err = resolveKey(ctx, j.db, j.t); err != nil {
		return err
	}
	if err := j.db.QueryRow(ctx, "SELECT $1::regclass::oid::text", j.t.ident()).Scan(&j.tableOID); err != nil {
		return fmt.Errorf("pgstore: table %s: %w", j.t.ident(), err)
	}
	if err := checkColumns(ctx, j.db, j.t); err != nil {
		return err
	}
	cols := make([]string, len(j.t.Columns))
	for i, c := range j.t.Columns {
		cols[i] = c.Name
	}
	j.name = j.opt.Job
	if j.name == "" {
		j.name = j.t.ident() + "(" + strings.Join(cols, ",") + ")@" + j.ring.Primary().String()
	}
	j.prefixes = prefixArgs(j.ring, j.t)

	// Every column is qualified with the alias t: "ORDER BY id" would
	// otherwise sort by the output column id::text.
	k := j.key
	nk := len(k.cols)
	sel := make([]string, len(j.t.Columns))
	qsel := make([]string, len(j.t.Columns))
	for i, c := range j.t.Columns {
		sel[i] = pgx.Identifier{c.Name}.Sanitize()
		qsel[i] = "t." + sel[i]
	}
	n := len(j.t.Columns)
	// The row version read, for the compare-and-swap (see below).
	selCols := strings.Join(qsel, ", ")
	if !j.opt.casValue {
		selCols += ", t.xmin::text"
	}
	base := "SELECT " + k.textList() + ", " + selCols + " FROM " + j.t.ident() + " AS t WHERE " + j.t.needsWork(1)
	lo := " AND " + k.tuple() + " > " + k.params(n+1)
	hi := func(p int) string { return " AND " + k.tuple() + " <= " + k.params(p) }
	limit := func(p int) string { return fmt.Sprintf(" ORDER BY %s LIMIT $%d", k.orderBy(), p) }
	j.selectSQL[0] = base + limit(n+1)
	j.selectSQL[1] = base + lo + limit(n+nk+1)
	j.selectSQL[2] = base + hi(n+1) + limit(n+nk+1)
	j.selectSQL[3] = base + lo + hi(n+nk+1) + limit(n+2*nk+1)
	if nk == 1 {
		j.rereadSQL = "SELECT " + k.textList() + ", " + selCols + " FROM " + j.t.ident() +
			" AS t WHERE " + k.quoted[0] + " = ANY($1::text[]::" + k.types[0] + "[])"
	} else {
		un := make([]string, nk)
		for i, typ := range k.types {
			un[i] = fmt.Sprintf("$%d::text[]::%s[]", i+1, typ)
		}
		j.rereadSQL = "SELECT " + k.textList() + ", " + selCols + " FROM " + j.t.ident() +
			" AS t WHERE " + k.tuple() + " IN (SELECT * FROM unnest(" + strings.Join(un, ", ") + "))"
	}

	// UPDATE t SET c = v.n… FROM (SELECT … FROM unnest(ids, …)) v
	//   WHERE t.pk = v.id AND t.xmin = v.x
	// The compare-and-swap compares the row version read (xmin, the id of
	// the transaction that wrote it): any write to the row since it was read
	// makes a new version with another xmin, so the row is re-read, never
	// clobbered; a write that changed nothing of ours costs a retry. It is
	// exact, also against a writer that commits while the UPDATE waits for
	// its row lock (Postgres re-checks the condition on the version it
	// committed), and sends 4 bytes per row (xid[]) instead of every old
	// value. (With casValue, for benchmarks: t.c = v.o for every column.)
	// Text columns travel as text[] arrays. Bytea columns travel as one
	// bytea of concatenated values with int4[] arrays of 1-based offsets and
	// lengths (-1: NULL): pgx encodes a bytea[] element by element, which
	// cost more client CPU than the crypto.
	set := make([]string, n)
	var cas []string
	var arrs, names, outs, keyEq []string
	param := 1
	next := func(typ string) string { p := fmt.Sprintf("$%d::%s", param, typ); param++; return p }
	for i := range k.cols {
		// An integer key travels as int8[] (binary, no text to parse per
		// row); other keys as their text.
		if k.intKey {
			arrs = append(arrs, next("int8[]"))
		} else {
			arrs = append(arrs, next("text[]"))
		}
		names = append(names, fmt.Sprintf("id%d", i))
		outs = append(outs, fmt.Sprintf("u.id%d", i))
		keyEq = append(keyEq, fmt.Sprintf("%s = v.id%d::%s", k.quoted[i], i, k.types[i]))
	}
	if !j.opt.casValue {
		arrs = append(arrs, next("xid[]"))
		names = append(names, "x")
		outs = append(outs, "u.x")
		cas = append(cas, "t.xmin = v.x")
	}
	for i, c := range j.t.Columns {
		old := j.opt.casValue
		if c.Form == fieldcrypt.Text {
			if old {
				arrs = append(arrs, next("text[]"))
				names = append(names, fmt.Sprintf("o%d", i))
				outs = append(outs, fmt.Sprintf("u.o%d", i))
			}
			arrs = append(arrs, next("text[]"))
			names = append(names, fmt.Sprintf("n%d", i))
			outs = append(outs, fmt.Sprintf("u.n%d", i))
		} else {
			if old {
				arrs = append(arrs, next("int4[]"), next("int4[]"))
				names = append(names, fmt.Sprintf("oo%d", i), fmt.Sprintf("ol%d", i))
			}
			arrs = append(arrs, next("int4[]"), next("int4[]"))
			names = append(names, fmt.Sprintf("no%d", i), fmt.Sprintf("nl%d", i))
			if old {
				ob := next("bytea")
				outs = append(outs, fmt.Sprintf("CASE WHEN u.ol%d < 0 THEN NULL ELSE substring(%s from u.oo%d for u.ol%d) END AS o%d", i, ob, i, i, i))
			}
			nb := next("bytea")
			outs = append(outs, fmt.Sprintf("CASE WHEN u.nl%d < 0 THEN NULL ELSE substring(%s from u.no%d for u.nl%d) END AS n%d", i, nb, i, i, i))
		}
		set[i] = fmt.Sprintf("%s = v.n%d", sel[i], i)
		if !old {
			continue
		}
		op := "="
		if n > 1 {
			op = "IS NOT DISTINCT FROM" // another column of the row may be NULL
		}
		lhs := qsel[i]
		if c.Form == fieldcrypt.Text {
			lhs += ` COLLATE "C"` // exact bytes, whatever the column's collation
		}
		cas = append(cas, fmt.Sprintf("%s %s v.o%d", lhs, op, i))
	}
	j.updateSQL = "UPDATE " + j.t.ident() + " AS t SET " + strings.Join(set, ", ") +
		" FROM (SELECT " + strings.Join(outs, ", ") + " FROM unnest(" + strings.Join(arrs, ", ") + ") AS u(" + strings.Join(names, ", ") + ")) AS v" +
		" WHERE " + strings.Join(keyEq, " AND ") + " AND " + strings.Join(cas, " AND ")
	return nil
}

// split returns w-1 inner bounds of the primary-key range: for integer
// keys by arithmetic on min and max (two index probes), otherwise at equal
// row counts (ntile, one ordered scan).
func (j *job) split(ctx context.Context, q querier, w int) ([]string, error) {
	k := j.key
	if k.intKey {
		var lo, hi *int64
		if err := q.QueryRow(ctx, fmt.Sprintf("SELECT min(%s)::bigint, max(%s)::bigint FROM %s AS t", k.quoted[0], k.quoted[0], j.t.ident())).Scan(&lo, &hi); err != nil {
			return nil, err
		}
		if lo == nil || *hi-*lo < int64(w) {
			return nil, nil
		}
		var ends []string
		span := uint64(*hi - *lo)
		for i := 1; i < w; i++ {
			ends = append(ends, strconv.FormatInt(*lo+int64(span/uint64(w)*uint64(i)), 10))
		}
		return ends, nil
	}
	ks := make([]string, len(k.cols))
	desc := make([]string, len(k.cols))
	for i := range k.cols {
		ks[i] = fmt.Sprintf("k%d", i)
		desc[i] = fmt.Sprintf("o%d DESC", i)
	}
	inner := make([]string, 0, 2*len(k.cols))
	for i, q := range k.quoted {
		inner = append(inner, fmt.Sprintf("%s::text AS k%d", q, i), fmt.Sprintf("%s AS o%d", q, i))
	}
	rows, err := q.Query(ctx, fmt.Sprintf(
		"SELECT %s FROM (SELECT DISTINCT ON (part) part, %s FROM (SELECT %s, ntile($1) OVER (ORDER BY %s) AS part FROM %s AS t) s ORDER BY part, %s) e ORDER BY part",
		strings.Join(ks, ", "), strings.Join(ks, ", "), strings.Join(inner, ", "), k.orderBy(), j.t.ident(), strings.Join(desc, ", ")), w)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ends []string
	for rows.Next() {
		raw := rows.RawValues()
		ends = append(ends, string(appendRowText(nil, raw)))
	}
	if err := rows.Err(); err != nil || len(ends) == 0 {
		return nil, err
	}
	return ends[:len(ends)-1], nil
}

// throttle waits so that rows read stay under RowsPerSecond.
func (j *job) throttle(ctx context.Context, n int) error {
	if j.opt.RowsPerSecond <= 0 {
		return nil
	}
	j.mu.Lock()
	j.limRows += int64(n)
	due := j.limStart.Add(time.Duration(float64(j.limRows) / j.opt.RowsPerSecond * float64(time.Second)))
	wait := due.Sub(j.opt.Now())
	j.mu.Unlock()
	if wait > 0 {
		return j.opt.Sleep(ctx, wait)
	}
	return nil
}

// tick updates rate and ETA; j.mu must be held.
func (j *job) tick() {
	j.prog.Elapsed = j.opt.Now().Sub(j.start)
	if s := j.prog.Elapsed.Seconds(); s > 0 {
		j.prog.RowsPerSecond = float64(j.prog.Scanned) / s
	}
	j.prog.ETA = 0
	if left := j.prog.Total - j.prog.Scanned; left > 0 && j.prog.RowsPerSecond > 0 && !j.prog.Done {
		j.prog.ETA = time.Duration(float64(left) / j.prog.RowsPerSecond * float64(time.Second))
	}
}

// snapshot copies the progress; j.mu must be held.
func (j *job) snapshot() Progress {
	p := j.prog
	p.Failures = append([]Failure(nil), j.prog.Failures...)
	return p
}

func (j *job) report() {
	if j.opt.Progress == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick()
	j.opt.Progress(j.snapshot())
}
