package pgstore

// One batch: read, rewrap, write back with compare-and-swap, retry what
// changed underneath.

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// batch holds one batch's rows; its buffers are reused, which bounds memory.
type batch struct {
	ids   []string
	vals  [][][]byte // vals[col][row], nil = NULL
	arena []byte
	news  [][][]byte
	out   []byte
	idx   map[string]int
	// sendIDs are the ids of the rows sent in the last UPDATE.
	sendIDs []string
	rowText []byte
	xmins   []uint32 // the row versions read, for the compare-and-swap
	spans   []span   // scratch: where each cell's bytes are in arena or out
	intIDs  []int64  // the ids sent, for an integer key
	// Reused per batch for the UPDATE's arguments (pgx encodes them when
	// the UPDATE is sent, before the next batch is built).
	sendX    []uint32
	sendNews [][]byte
	blobs    []blobBuf // per column
	// leaseLost: a checkpoint write found the part held by another owner.
	leaseLost bool
}

func (j *job) newBatch() *batch {
	n := len(j.t.Columns)
	b := &batch{vals: make([][][]byte, n), news: make([][][]byte, n), idx: make(map[string]int)}
	return b
}

// read runs a query returning (key columns::text…, cols…) into b.
func (b *batch) read(rows pgx.Rows, nkey, ncol int, xmin bool) error {
	defer rows.Close()
	b.ids = b.ids[:0]
	b.xmins = b.xmins[:0]
	width := nkey + ncol
	if xmin {
		width++
	}
	for c := range b.vals {
		b.vals[c] = b.vals[c][:0]
	}
	spans := b.spans[:0]
	defer func() { b.spans = spans }()
	b.arena = b.arena[:0]
	for rows.Next() {
		raw := rows.RawValues()
		fds := rows.FieldDescriptions()
		if len(raw) != width || len(fds) != width {
			return fmt.Errorf("pgstore: unexpected row shape")
		}
		if xmin {
			x, err := strconv.ParseUint(string(raw[width-1]), 10, 32)
			if err != nil {
				return fmt.Errorf("pgstore: row version: %w", err)
			}
			b.xmins = append(b.xmins, uint32(x))
		}
		b.rowText = appendRowText(b.rowText[:0], raw[:nkey])
		b.ids = append(b.ids, string(b.rowText))
		raw, fds = raw[nkey-1:], fds[nkey-1:] // raw[1+c] is column c
		for c := 0; c < ncol; c++ {
			if raw[1+c] == nil {
				spans = append(spans, span{-1, 0})
				continue
			}
			off := len(b.arena)
			var err error
			if b.arena, err = appendBytea(b.arena, fds[1+c], raw[1+c]); err != nil {
				return err
			}
			spans = append(spans, span{off, len(b.arena) - off})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for r := range b.ids {
		for c := 0; c < ncol; c++ {
			s := spans[r*ncol+c]
			if s.off < 0 {
				b.vals[c] = append(b.vals[c], nil)
			} else {
				b.vals[c] = append(b.vals[c], b.arena[s.off:s.off+s.n:s.off+s.n])
			}
		}
	}
	return nil
}

// span is where a cell's bytes are in a buffer; off < 0 is NULL or none.
type span struct{ off, n int }

// work processes one part of the key range.
//
// The first batch is read on its own; every later one is read in the round
// trip of the UPDATE of the batch before it, queued ahead of that UPDATE,
// and rewrapped while Postgres runs the UPDATE: one connection, one
// statement at a time on the server, but the client's decrypting and
// encrypting no longer stands between a batch's write and the next read.
func (j *job) work(ctx context.Context, p *part, w int) error {
	cur, nxt := j.newBatch(), j.newBatch()
	var pending *cpWrite
	var lastCP time.Time
	cursor := p.cursor
	if cursor == nil {
		cursor = p.lo
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sql, args, err := j.selectArgs(cursor, p.hi)
	if err != nil {
		return err
	}
	rows, err := j.db.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("pgstore: read batch: %w", err)
	}
	if err := cur.read(rows, len(j.key.cols), len(j.t.Columns), !j.opt.casValue); err != nil {
		return fmt.Errorf("pgstore: read batch: %w", err)
	}
	rw := j.rewrapBatch(cur)
	for len(cur.ids) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := j.throttle(ctx, len(cur.ids)); err != nil {
			return err
		}
		last, full := cur.ids[len(cur.ids)-1], len(cur.ids) == j.opt.BatchSize
		var ahead *readAhead
		if full {
			sql, args, err := j.selectArgs(&last, p.hi)
			if err != nil {
				return err
			}
			ahead = &readAhead{sql: sql, args: args, into: nxt}
		}
		// The checkpoint is written with the first UPDATE after the first
		// batch, then at most every checkpointEvery: a crash redoes at most
		// that much work per worker (finished rows are skipped by the read).
		cp := pending
		if cp != nil && !lastCP.IsZero() && j.opt.Now().Sub(lastCP) < checkpointEvery {
			cp = nil
		}
		written, err := j.process(ctx, cur, rw, cp, ahead)
		if err != nil {
			return err
		}
		if written {
			pending, lastCP = nil, j.opt.Now()
		}
		if cur.leaseLost {
			return errLeaseLost
		}
		cursor = &last
		// The checkpoint of the previous batch, whose conflicts are resolved,
		// rides in the transaction of this batch's UPDATE; redoing a batch
		// after a crash is harmless because finished rows no longer match.
		pending = &cpWrite{part: p.n, cursor: last, owner: j.workerOwner(w)}
		j.report()
		if ahead == nil {
			break
		}
		cur, nxt, rw = nxt, cur, ahead.rw
		if len(cur.ids) == 0 {
			break
		}
		if err := j.opt.Sleep(ctx, j.opt.Pause); err != nil {
			return err
		}
	}
	if !j.opt.DryRun {
		return j.finish(ctx, p, w, cursor)
	}
	return nil
}

// selectArgs returns the query reading the batch after cursor (nil: from
// the start) up to hi (nil: to the end), with its arguments.
func (j *job) selectArgs(cursor, hi *string) (string, []any, error) {
	args := append([]any(nil), j.prefixes...)
	shape := 0
	if cursor != nil {
		shape |= 1
		parts, err := splitRowText(*cursor, len(j.key.cols))
		if err != nil {
			return "", nil, fmt.Errorf("pgstore: checkpoint cursor: %w", err)
		}
		for _, p := range parts {
			args = append(args, p)
		}
	}
	if hi != nil {
		shape |= 2
		parts, err := splitRowText(*hi, len(j.key.cols))
		if err != nil {
			return "", nil, fmt.Errorf("pgstore: checkpoint bound: %w", err)
		}
		for _, p := range parts {
			args = append(args, p)
		}
	}
	args = append(args, j.opt.BatchSize)
	return j.selectSQL[shape], args, nil
}

// readAhead is the read of the next batch, sent with the current batch's
// UPDATE: into receives the rows, rw their rewrap (not yet counted in the
// progress: process counts it when it writes that batch).
type readAhead struct {
	sql  string
	args []any
	into *batch
	rw   rewrap
}

// read runs the read ahead on its own (when there is nothing to write).
func (j *job) readAhead(ctx context.Context, a *readAhead) error {
	rows, err := j.db.Query(ctx, a.sql, a.args...)
	if err != nil {
		return fmt.Errorf("pgstore: read batch: %w", err)
	}
	if err := a.into.read(rows, len(j.key.cols), len(j.t.Columns), !j.opt.casValue); err != nil {
		return fmt.Errorf("pgstore: read batch: %w", err)
	}
	a.rw = j.rewrapBatch(a.into)
	return nil
}

// checkpointEvery is how often a worker writes its part's cursor (with a
// batch's UPDATE, in its transaction). Its lease is renewed by the
// heartbeat meanwhile; a part taken over by another process is noticed at
// the next checkpoint write.
const checkpointEvery = time.Second

// cpWrite is a checkpoint not yet written.
type cpWrite struct {
	part   int
	cursor string
	owner  string // the worker holding the part's lease
}

// process writes back the rows in b, rewrapped as rw says, with
// compare-and-swap, re-reading and retrying rows that changed underneath.
// cp, if set, is written in the same transaction as the first UPDATE;
// process reports whether it was. ahead, if set, is read in the same round
// trip, before the UPDATE, and rewrapped while the UPDATE runs.
func (j *job) process(ctx context.Context, b *batch, rw rewrap, cp *cpWrite, ahead *readAhead) (cpWritten bool, err error) {
	for attempt := 0; ; attempt++ {
		var scanned int64
		if attempt == 0 {
			scanned = int64(len(b.ids))
		} else {
			rw = j.rewrapBatch(b)
		}
		changed, stats := rw.changed, rw.stats
		j.mu.Lock()
		j.prog.Scanned += scanned
		j.prog.UpToDate += stats.current
		j.prog.Undecryptable += int64(len(stats.failures))
		for _, f := range stats.failures {
			if len(j.prog.Failures) < j.opt.MaxReported {
				j.prog.Failures = append(j.prog.Failures, f)
			}
		}
		if j.opt.DryRun {
			j.prog.Rewrapped += stats.rewrapped
		}
		j.mu.Unlock()
		if j.opt.DryRun || changed == 0 {
			if attempt == 0 && ahead != nil {
				return cpWritten, j.readAhead(ctx, ahead)
			}
			return cpWritten, nil
		}
		// Only rows with something rewrapped are sent.
		ids, args, err := j.updateArgs(b)
		if err != nil {
			return cpWritten, err
		}
		if testHookBeforeUpdate != nil {
			testHookBeforeUpdate(ids)
		}
		// One round trip, one implicit transaction: the UPDATE and the
		// checkpoint commit together.
		qb := &pgx.Batch{}
		withAhead := attempt == 0 && ahead != nil
		if withAhead {
			qb.Queue(ahead.sql, ahead.args...)
		}
		qb.Queue(j.updateSQL, args...)
		withCP := cp != nil && !cpWritten
		if withCP {
			qb.Queue("UPDATE "+j.cpTable+" SET cursor = $3, lease_until = now() + $5 * interval '1 millisecond', updated_at = now() WHERE job = $1 AND part = $2 AND owner = $4",
				j.name, cp.part, cp.cursor, cp.owner, j.leaseArg())
		}
		br := j.db.SendBatch(ctx, qb)
		if withAhead {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				err = ahead.into.read(rows, len(j.key.cols), len(j.t.Columns), !j.opt.casValue)
			}
			if err != nil {
				_ = br.Close()
				return cpWritten, fmt.Errorf("pgstore: read batch: %w", err)
			}
			// Postgres runs the UPDATE meanwhile.
			ahead.rw = j.rewrapBatch(ahead.into)
		}
		tag, err := br.Exec()
		if err == nil && withCP {
			var cpTag pgconn.CommandTag
			cpTag, err = br.Exec()
			// Another process took the part over: the rows written are
			// written (compare-and-swap keeps that safe), but this worker
			// stops working the part.
			b.leaseLost = b.leaseLost || (err == nil && cpTag.RowsAffected() == 0)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return cpWritten, fmt.Errorf("pgstore: update batch: %w", err)
		}
		cpWritten = cpWritten || withCP
		if tag.RowsAffected() == int64(len(ids)) {
			// The common case: no row changed underneath.
			j.mu.Lock()
			j.prog.Rewrapped += stats.rewrapped
			j.mu.Unlock()
			return cpWritten, nil
		}
		// Some rows were written meanwhile (or deleted).
		rewrapped, conflicts, keep, err := j.reread(ctx, b, ids)
		if err != nil {
			return cpWritten, err
		}
		j.mu.Lock()
		j.prog.Rewrapped += rewrapped
		j.prog.Conflicts += conflicts
		if keep > 0 && attempt >= j.opt.MaxRetries {
			j.prog.Unresolved += int64(keep)
			keep = 0
		}
		j.mu.Unlock()
		if keep == 0 {
			return cpWritten, nil
		}
	}
}

// reread handles a batch whose UPDATE wrote fewer rows than it sent: some
// were written meanwhile (or deleted). It re-reads the rows sent (ids),
// counts those that took our value (rewrapped: their cells), and keeps in b
// the others (keep rows), which now hold someone else's value, for another
// round; conflicts counts the rows not ours, deleted ones included.
func (j *job) reread(ctx context.Context, b *batch, ids []string) (rewrapped, conflicts int64, keep int, err error) {
	// Row numbers by id, built only here: most batches have no conflict.
	clear(b.idx)
	for r, id := range b.ids {
		b.idx[id] = r
	}
	sent := make(map[string][][]byte, len(ids))
	for _, id := range ids {
		r := b.idx[id]
		vals := make([][]byte, len(j.t.Columns))
		for c := range j.t.Columns {
			if nv := b.news[c][r]; nv != nil {
				vals[c] = slices.Clone(nv)
			} else {
				vals[c] = slices.Clone(b.vals[c][r])
			}
		}
		sent[id] = vals
	}
	changedCount := func(id string) (n int64) {
		r := b.idx[id]
		for c := range j.t.Columns {
			if b.news[c][r] != nil {
				n++
			}
		}
		return n
	}
	perRow := make(map[string]int64, len(ids))
	for _, id := range ids {
		perRow[id] = changedCount(id)
	}
	keyArgs, err := j.key.keyArgs(ids)
	if err != nil {
		return 0, 0, 0, err
	}
	rows, err := j.db.Query(ctx, j.rereadSQL, keyArgs...)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pgstore: re-read conflicting rows: %w", err)
	}
	if err := b.read(rows, len(j.key.cols), len(j.t.Columns), !j.opt.casValue); err != nil {
		return 0, 0, 0, fmt.Errorf("pgstore: re-read conflicting rows: %w", err)
	}
	for r, id := range b.ids {
		ours := true
		for c := range j.t.Columns {
			if !bytes.Equal(b.vals[c][r], sent[id][c]) || (b.vals[c][r] == nil) != (sent[id][c] == nil) {
				ours = false
			}
		}
		delete(sent, id)
		if ours {
			rewrapped += perRow[id]
			continue
		}
		conflicts++
		b.ids[keep] = id
		if len(b.xmins) > 0 {
			b.xmins[keep] = b.xmins[r]
		}
		for c := range j.t.Columns {
			b.vals[c][keep] = b.vals[c][r]
		}
		keep++
	}
	conflicts += int64(len(sent)) // deleted meanwhile: nothing left to do
	b.ids = b.ids[:keep]
	if len(b.xmins) > 0 {
		b.xmins = b.xmins[:keep]
	}
	for c := range j.t.Columns {
		b.vals[c] = b.vals[c][:keep]
	}
	return rewrapped, conflicts, keep, nil
}

// testHookBeforeUpdate, set by tests only, runs between reading a batch and
// writing it back: where a concurrent application write lands.
var testHookBeforeUpdate func(ids []string)
