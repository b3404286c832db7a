package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// How several job processes share one job.
//
// The checkpoint table holds one row per range of the key range (a "part"):
// its bounds, how far it got (cursor), whether it is done, and who holds it
// (owner) until when (lease_until). A worker claims a part that is not done
// and not held (owner empty or lease expired) with SELECT … FOR UPDATE SKIP
// LOCKED, so two workers never take the same part, whatever process or
// machine they run on. Each process extends the leases of its parts
// (heartbeat) every Lease/3; a process that dies stops doing so, and its
// parts become claimable when their leases expire, resuming at their
// cursor. Every checkpoint write checks the owner, so a worker whose lease
// was taken over stops working that part.
//
// The split of the key range is written once, by the first process, under a
// transaction-scoped advisory lock, so processes started together agree on
// it. A job under another name (other columns, another primary key) that
// still holds a live lease on the same table is refused with a *BusyError.

// BusyError is returned by Reencrypt when another job holds a live lease on
// the same table: two jobs would do the same work twice. Wait for it to
// finish (or for its lease to expire, if it crashed), or run it under its
// job name to share its work.
type BusyError struct {
	Table string    // the table, as reports name it
	Job   string    // the job holding the lease
	Owner string    // host, pid and worker of the holder
	Until time.Time // when the lease expires unless renewed
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("pgstore: table %s is being re-encrypted by job %q (held by %s until %s): wait for it, or run with --job %q to share its work",
		e.Table, e.Job, e.Owner, e.Until.UTC().Format(time.RFC3339), e.Job)
}

// ErrBusy is matched by a *BusyError.
var ErrBusy = errors.New("pgstore: table is being re-encrypted by another job")

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// errLeaseLost: another process took over the part (our lease expired).
var errLeaseLost = errors.New("pgstore: lease on a part was taken over by another process")

// newOwner names this process in the checkpoint table: host, pid and a
// random run id (a restarted process on the same host and pid is another
// owner). Workers append their number.
func newOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s pid %d run %s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func (j *job) workerOwner(w int) string { return fmt.Sprintf("%s worker %d", j.owner, w) }

func (j *job) leaseArg() int64 { return j.opt.Lease.Milliseconds() }

// setup creates (or upgrades) the checkpoint table and, for a new job, writes
// the split; it returns whether the job already existed (resumed or joined).
func (j *job) setup(ctx context.Context) (bool, error) {
	tx, err := j.db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("pgstore: checkpoint: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	// One setup at a time per checkpoint table: CREATE TABLE IF NOT EXISTS
	// races with itself, and two processes must not write two splits.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('fieldcrypt checkpoint ' || $1, 0))", j.cpTable); err != nil {
		return false, fmt.Errorf("pgstore: checkpoint lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+j.cpTable+` (
		job text NOT NULL, part int NOT NULL, lo text, hi text, cursor text,
		done boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now(),
		tbl text, owner text, lease_until timestamptz,
		PRIMARY KEY (job, part))`); err != nil {
		return false, fmt.Errorf("pgstore: create checkpoint table: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass
		AND attname IN ('tbl', 'owner', 'lease_until') AND NOT attisdropped`, j.cpTable).Scan(&have); err != nil {
		return false, fmt.Errorf("pgstore: checkpoint table: %w", err)
	}
	if have != 3 { // a checkpoint table of an earlier version
		if _, err := tx.Exec(ctx, "ALTER TABLE "+j.cpTable+" ADD COLUMN IF NOT EXISTS tbl text, ADD COLUMN IF NOT EXISTS owner text, ADD COLUMN IF NOT EXISTS lease_until timestamptz"); err != nil {
			return false, fmt.Errorf("pgstore: upgrade checkpoint table: %w", err)
		}
	}
	var other struct {
		job, owner string
		until      time.Time
	}
	err = tx.QueryRow(ctx, "SELECT job, coalesce(owner, 'a starting process'), lease_until FROM "+j.cpTable+
		" WHERE tbl = $1 AND job <> $2 AND NOT done AND lease_until > now() ORDER BY lease_until DESC LIMIT 1",
		j.tableOID, j.name).Scan(&other.job, &other.owner, &other.until)
	if err == nil {
		return false, &BusyError{Table: j.t.displayName(), Job: other.job, Owner: other.owner, Until: other.until}
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("pgstore: read checkpoint: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+j.cpTable+" WHERE job = $1)", j.name).Scan(&exists); err != nil {
		return false, fmt.Errorf("pgstore: read checkpoint: %w", err)
	}
	if !exists {
		bounds, err := j.bounds(ctx, tx)
		if err != nil {
			return false, err
		}
		var ns []int32
		var los, his []*string
		for i := 0; i+1 < len(bounds); i++ {
			ns, los, his = append(ns, int32(i)), append(los, bounds[i]), append(his, bounds[i+1])
		}
		// Parts are reserved for one lease (owner empty: anyone may claim
		// them), so a job with another name sees this one as live from the
		// start.
		if _, err := tx.Exec(ctx, "INSERT INTO "+j.cpTable+` (job, part, lo, hi, tbl, lease_until)
			SELECT $1, p, lo, hi, $5, now() + $6 * interval '1 millisecond' FROM unnest($2::int4[], $3::text[], $4::text[]) AS u(p, lo, hi)`,
			j.name, ns, los, his, j.tableOID, j.leaseArg()); err != nil {
			return false, fmt.Errorf("pgstore: write checkpoint: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("pgstore: write checkpoint: %w", err)
	}
	return exists, nil
}

// bounds splits the key range into Ranges parts: nil, inner bounds…, nil.
func (j *job) bounds(ctx context.Context, q querier) ([]*string, error) {
	bounds := []*string{nil}
	if j.opt.Ranges > 1 {
		ends, err := j.split(ctx, q, j.opt.Ranges)
		if err != nil {
			return nil, fmt.Errorf("pgstore: split key range: %w", err)
		}
		for i := range ends {
			bounds = append(bounds, &ends[i])
		}
	}
	return append(bounds, nil), nil
}

// claim takes a part that is not done and not held, for worker w. With none
// to take it returns nil and, when parts are still held by other processes,
// a description of one holder ("" when nothing is left for this process to
// wait for).
func (j *job) claim(ctx context.Context, w int) (*part, string, error) {
	p := &part{checkpoint: true}
	var prevOwner *string
	// The part is picked in a MATERIALIZED CTE, evaluated once: as a
	// subquery joined in the UPDATE, a plan that rescans it per row of c
	// skips the rows it has just locked and claims every free part.
	err := j.db.QueryRow(ctx, `WITH s AS MATERIALIZED (SELECT part, owner FROM `+j.cpTable+` WHERE job = $1 AND NOT done
		      AND (owner IS NULL OR lease_until IS NULL OR lease_until < now())
		      ORDER BY part LIMIT 1 FOR UPDATE SKIP LOCKED)
		UPDATE `+j.cpTable+` AS c SET owner = $2, lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
		FROM s
		WHERE c.job = $1 AND c.part = s.part
		RETURNING c.part, c.lo, c.hi, c.cursor, s.owner`, j.name, j.workerOwner(w), j.leaseArg()).
		Scan(&p.n, &p.lo, &p.hi, &p.cursor, &prevOwner)
	if err == nil {
		if prevOwner != nil {
			j.mu.Lock()
			j.prog.TakenOver++
			j.mu.Unlock()
		}
		return p, "", nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("pgstore: claim a part: %w", err)
	}
	// Parts held by this process's other workers need no waiting for: they
	// finish them (or the run fails). Parts held by other processes do.
	var holder *string
	var until *time.Time
	var left int
	err = j.db.QueryRow(ctx, "SELECT count(*), min(owner), min(lease_until) FROM "+j.cpTable+
		" WHERE job = $1 AND NOT done AND (owner IS NULL OR NOT starts_with(owner, $2))",
		j.name, j.owner+" ").Scan(&left, &holder, &until)
	if err != nil {
		return nil, "", fmt.Errorf("pgstore: read checkpoint: %w", err)
	}
	if left == 0 {
		return nil, "", nil
	}
	who := "another worker"
	if holder != nil {
		who = *holder
	}
	if until != nil {
		who += " (lease until " + until.UTC().Format(time.RFC3339) + ")"
	}
	return nil, fmt.Sprintf("%d parts held by others, e.g. %s", left, who), nil
}

// heartbeat extends the leases of this process's parts every Lease/3 until
// ctx is done.
func (j *job) heartbeat(ctx context.Context) {
	t := time.NewTicker(j.opt.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failed heartbeat is retried at the next tick; a lease lost
		// meanwhile is noticed at the next checkpoint write.
		_, _ = j.db.Exec(ctx, "UPDATE "+j.cpTable+" SET lease_until = now() + $3 * interval '1 millisecond' WHERE job = $1 AND NOT done AND starts_with(owner, $2)",
			j.name, j.owner+" ", j.leaseArg())
	}
}

// release gives up this process's leases, so that another process can take
// its parts at once (after a cancel).
func (j *job) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Parts reserved at setup and never claimed (owner NULL) are released
	// too: a job cancelled at once must not look live.
	_, _ = j.db.Exec(ctx, "UPDATE "+j.cpTable+" SET owner = NULL, lease_until = NULL WHERE job = $1 AND NOT done AND (owner IS NULL OR starts_with(owner, $2))",
		j.name, j.owner+" ")
}

// finish marks part p done at cursor.
func (j *job) finish(ctx context.Context, p *part, w int, cursor *string) error {
	tag, err := j.db.Exec(ctx, "UPDATE "+j.cpTable+" SET cursor = coalesce($3, cursor), done = true, owner = NULL, lease_until = NULL, updated_at = now() WHERE job = $1 AND part = $2 AND owner = $4",
		j.name, p.n, cursor, j.workerOwner(w))
	if err != nil {
		return fmt.Errorf("pgstore: write checkpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return nil
}

// pollInterval is how often a worker with nothing to claim looks again.
func (j *job) pollInterval() time.Duration {
	return min(max(j.opt.Lease/10, 50*time.Millisecond), time.Second)
}
