package webhook

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/idemredis"
)

// Casso de-duplicates on its transaction id, not on t (see Casso): the
// retry of a failed delivery reaches the application whether it carries
// the first attempt's t (here 6 minutes later, beyond the old 5-minute
// window) or a fresh one; the retry of a processed one never does.
func TestCassoRetriesSameAndFreshT(t *testing.T) {
	r := testsvc.NewRedis(t)
	first := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&first)
	key := []byte(cassoSampleKey)
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)},
		WithIdempotencyStore(idemredis.New(r.Client, r.Prefix)), WithClock(func() time.Time { return *now.Load() })))
	var calls atomic.Int32
	var fail atomic.Bool
	h := c.Handler(func(context.Context, CassoEvent) error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("ledger down")
		}
		return nil
	})
	deliver := func(body string, ts time.Time) (int, string) {
		code, w := serve(h, "POST", "application/json", map[string]string{HeaderCassoSignature: must(CassoSignature(key, ts, []byte(body)))}, body)
		return code, strings.TrimSpace(w.Body.String())
	}
	at := func(d time.Duration) { tm := first.Add(d); now.Store(&tm) }

	// Transaction 1 fails, then Casso retries with the same t 6 minutes
	// later: it reaches the application, which now succeeds.
	tx1 := `{"error":0,"data":{"id":7001,"accountNumber":"88888888","amount":599000,"description":"don 42"}}`
	fail.Store(true)
	if code, _ := deliver(tx1, first); code != 500 {
		t.Fatalf("failed callback answered %d", code)
	}
	fail.Store(false)
	at(6 * time.Minute)
	if code, b := deliver(tx1, first); code != 200 || b != `{"success":true}` || calls.Load() != 2 {
		t.Fatalf("same-t retry after 6 min: %d %s, %d calls", code, b, calls.Load())
	}
	// Processed: a retry with the same t, or a fresh t, is answered 200
	// without reaching the application.
	at(20 * time.Minute)
	for _, ts := range []time.Time{first, first.Add(20 * time.Minute)} {
		if code, b := deliver(tx1, ts); code != 200 || !strings.Contains(b, `"duplicate":true`) {
			t.Fatalf("retry of a processed transaction (t=%s): %d %s", ts, code, b)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("a processed transaction reached the application again: %d calls", calls.Load())
	}

	// Transaction 2 fails; Casso's retry has a fresh t: it reaches the
	// application.
	tx2 := `{"error":0,"data":{"id":7002,"accountNumber":"88888888","amount":100000,"description":"don 43"}}`
	fail.Store(true)
	if code, _ := deliver(tx2, first.Add(20*time.Minute)); code != 500 {
		t.Fatalf("failed callback answered %d", code)
	}
	fail.Store(false)
	at(30 * time.Minute)
	if code, _ := deliver(tx2, first.Add(30*time.Minute)); code != 200 || calls.Load() != 4 {
		t.Fatalf("fresh-t retry: %d, %d calls", code, calls.Load())
	}

	// t still bounds how long a captured delivery verifies.
	at(CassoTolerance + time.Minute)
	if code, _ := deliver(`{"error":0,"data":{"id":7003,"amount":1}}`, first); code != 401 {
		t.Fatalf("delivery older than CassoTolerance answered %d", code)
	}
}

// A tolerance as long as the store's memory would let a replay outlive
// its record: refused.
func TestCassoToleranceShorterThanKeep(t *testing.T) {
	store := payment.NewMemoryStore(nil)
	if _, err := NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithIdempotencyStore(store), WithTolerance(0)); err == nil {
		t.Fatal("no tolerance with a store accepted")
	}
	if _, err := NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithIdempotencyStore(store), WithTolerance(payment.DefaultKeep)); err == nil {
		t.Fatal("tolerance = keep accepted")
	}
	if _, err := NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithIdempotencyStore(store)); err != nil {
		t.Fatal(err)
	}
}
