package idempg_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/idempg"
	"github.com/goodgo/rotation/payment/internal/idem/storetest"
)

func newStore(t *testing.T) (*idempg.Store, *testsvc.DB) {
	db := testsvc.Postgres(t)
	if err := idempg.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	return idempg.New(db.Pool), db
}

func TestContractPostgres(t *testing.T) {
	s, _ := newStore(t)
	storetest.Run(t, s, "")
}

// The migration file is what Migration holds, and applying it twice is
// harmless (a deploy re-runs it).
func TestMigrationIsTheShippedFileAndIdempotent(t *testing.T) {
	b, err := os.ReadFile("migrations/0001_payment_idempotency.sql")
	if err != nil || string(b) != idempg.Migration {
		t.Fatalf("Migration differs from the shipped file (%v)", err)
	}
	_, db := newStore(t)
	if err := idempg.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}

func TestPurgeDeletesExpiredRowsOnly(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	for _, k := range []string{"old", "live"} {
		if _, err := s.Claim(ctx, k, "o1", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Complete(ctx, "old", "o1", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	n, err := s.Purge(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM payment_idempotency").Scan(&left); err != nil || left != 1 {
		t.Fatalf("rows left = %d, %v", left, err)
	}
	if st, err := s.Claim(ctx, "live", "o2", time.Minute); err != nil || st != payment.ClaimInProgress {
		t.Fatalf("live claim after Purge: %v %v", st, err)
	}
}

func TestKeyLongerThanMaxKeyLenIsRefusedByTheTable(t *testing.T) {
	s, _ := newStore(t)
	long := make([]byte, payment.MaxKeyLen+1)
	for i := range long {
		long[i] = 'k'
	}
	if _, err := s.Claim(context.Background(), string(long), "o1", time.Minute); err == nil {
		t.Fatal("a key over MaxKeyLen was stored")
	}
}

// TestMigrateConcurrently: instances starting together all migrate the same
// fresh database (without the advisory lock, concurrent CREATE TABLE IF NOT
// EXISTS fails in all but one with a duplicate key on pg_type).
func TestMigrateConcurrently(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() { errs <- idempg.Migrate(ctx, db.Pool) }()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
}
