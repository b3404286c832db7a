package drill

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
)

// memTable is an in-memory table of one encrypted column, standing in for a
// database in the in-process drill. Writes by the "application" and by the
// re-encrypt loop go through compare-and-swap, as the Postgres store does.
type memTable struct {
	mu    sync.Mutex
	rows  map[string][]byte // pk → envelope
	plain map[string]string // pk → last plaintext the application wrote
}

func (t *memTable) write(ring *fieldcrypt.Keyring, pk, value string) error {
	ct, err := ring.Encrypt(nil, []byte(value), fieldcrypt.Binding{Table: "users", Column: "phone", Row: pk})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.rows[pk], t.plain[pk] = ct, value
	t.mu.Unlock()
	return nil
}

// cas stores next at pk if the row still holds old.
func (t *memTable) cas(pk string, old, next []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !bytes.Equal(t.rows[pk], old) {
		return false
	}
	t.rows[pk] = next
	return true
}

// notOn yields the cells whose key id is not primary, as the SQL filter does.
func (t *memTable) notOn(primary fieldcrypt.KeyID) iter.Seq[fieldcrypt.Cell] {
	t.mu.Lock()
	var cells []fieldcrypt.Cell
	for pk, v := range t.rows {
		if h, err := fieldcrypt.ParseHeader(v, fieldcrypt.Binary); err != nil || h.KeyID != primary {
			cells = append(cells, fieldcrypt.Cell{Table: "users", Column: "phone", Row: pk, Form: fieldcrypt.Binary, Bound: true, Value: v})
		}
	}
	t.mu.Unlock()
	return func(yield func(fieldcrypt.Cell) bool) {
		for _, c := range cells {
			if !yield(c) {
				return
			}
		}
	}
}

// census counts rows per key id.
func (t *memTable) census() map[fieldcrypt.KeyID]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[fieldcrypt.KeyID]int{}
	for _, v := range t.rows {
		if h, err := fieldcrypt.ParseHeader(v, fieldcrypt.Binary); err == nil {
			out[h.KeyID]++
		}
	}
	return out
}

func fieldKeys() (old, nw string, err error) {
	if old, err = keygen.New(keygen.Field); err != nil {
		return
	}
	nw, err = keygen.New(keygen.Field)
	return
}

// fieldInMemory rotates FIELD_ENCRYPTION_KEY through the two deploy phases
// and re-encrypts an in-memory table while the application keeps writing.
func fieldInMemory(ctx context.Context, o *Options, p *Phase) error {
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
	t := &memTable{rows: map[string][]byte{}, plain: map[string]string{}}
	for i := 0; i < o.Rows; i++ {
		if err := t.write(before, strconv.Itoa(i), fmt.Sprintf("09%08d", i)); err != nil {
			return err
		}
	}
	// Phase 1 (every instance can read the new key) is a deploy with no
	// data change; Phase 2 makes the new key primary.
	phase1, err := fieldcrypt.NewKeyring(old, nw)
	if err != nil {
		return err
	}
	ring, err := fieldcrypt.NewKeyring(nw, old)
	if err != nil {
		return err
	}
	p.Event("Field key: phase 1 deployed (new key readable everywhere, old key primary: %s)", phase1.Primary())
	p.Event("Field key: phase 2 deployed (new key %s primary, old key decrypt-only)", ring.Primary())

	// The application keeps writing (with the new primary) during the job.
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for wctx.Err() == nil {
			pk := strconv.Itoa(r.IntN(o.Rows))
			if err := t.write(ring, pk, fmt.Sprintf("08%08d", r.IntN(1e8))); err != nil {
				writeErr = err
				return
			}
			writes++
			time.Sleep(50 * time.Microsecond)
		}
	}()
	start := time.Now()
	var rewrapped, conflicts, failed int
	for pass := 0; pass < 20; pass++ {
		n := 0
		for res := range ring.Reencrypt(t.notOn(ring.Primary())) {
			n++
			if n%100 == 0 {
				time.Sleep(time.Millisecond) // batches, as the Postgres job pages
			}
			switch res.Outcome {
			case fieldcrypt.Rewrapped:
				if t.cas(res.Row, res.Value, res.New) {
					rewrapped++
				} else {
					conflicts++ // rewritten meanwhile: the next pass re-reads it
				}
			case fieldcrypt.Failed:
				failed++
			}
		}
		if n == 0 {
			break
		}
	}
	took := time.Since(start)
	stopWriters()
	wg.Wait()
	if writeErr != nil {
		return writeErr
	}
	census := t.census()
	p.Event("Field key: re-encryption finished, census shows %d rows on the old key", census[phase1.Primary()])
	p.Fact("In-memory table of %d rows: %d rewrapped in %s, %d compare-and-swap conflicts with %d concurrent application writes (re-read and retried), %d undecryptable",
		o.Rows, rewrapped, took.Round(time.Millisecond), conflicts, writes, failed)
	p.Fact("Census after the job: %d rows on the new key %s, %d on the old key %s", census[ring.Primary()], ring.Primary(), census[phase1.Primary()], phase1.Primary())
	if census[phase1.Primary()] != 0 || failed != 0 {
		return fmt.Errorf("%d rows still on the old key, %d undecryptable", census[phase1.Primary()], failed)
	}
	// Retire the old key: every row must open with the new key alone and
	// hold the last value its writer wrote.
	retired, err := fieldcrypt.NewKeyring(nw)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for pk, v := range t.rows {
		pt, err := retired.Decrypt(nil, v, fieldcrypt.Binding{Table: "users", Column: "phone", Row: pk})
		if err != nil {
			return fmt.Errorf("row %s does not open with the new key alone: %w", pk, err)
		}
		if string(pt) != t.plain[pk] {
			return fmt.Errorf("row %s lost a write", pk)
		}
	}
	p.Event("Field key: old key retired; every row opens with the new key and holds its last written value")
	p.Learn("The field key, which the runbook could not rotate, was rotated online: %d rows re-encrypted with %d concurrent writes and none lost.", o.Rows, writes)
	return nil
}
