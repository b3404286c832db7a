// Package idempg is a payment.IdempotencyStore on PostgreSQL: a claim is a
// unique insert into the table payment_idempotency (shipped as the
// migration migrations/0001_payment_idempotency.sql, also in Migration),
// so of concurrent deliveries of one notification exactly one gets the
// claim, across every process sharing the database. Complete and Release
// act only for the claim's owner. Times come from the database clock, so
// application servers with skewed clocks agree.
//
//	if err := idempg.Migrate(ctx, pool); err != nil { … } // or your migration tool
//	c, err := vnpay.New(vnpay.Config{..., Idempotency: idempg.New(pool)})
//
// Rows outlive their expiry until Purge deletes them (run it daily); an
// expired row is free for a new claim either way. The table is found
// through the search_path.
package idempg

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodgo/rotation/payment"
)

// Migration is migrations/0001_payment_idempotency.sql: it creates the
// table payment_idempotency and its expiry index, if absent.
//
//go:embed migrations/0001_payment_idempotency.sql
var Migration string

// DB is what Store needs: a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// migrateLock is the advisory lock key Migrate holds: CREATE TABLE IF NOT
// EXISTS run by two sessions at once fails in one of them with a duplicate
// key on pg_type, so instances starting together migrate one at a time.
const migrateLock = 0x69646d7067 // "idmpg"

// Migrate applies Migration on db, under a transaction-level advisory lock
// (the statements go as one simple-protocol query, one implicit
// transaction), so instances starting together do not collide.
func Migrate(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);\n", int64(migrateLock))+Migration); err != nil {
		return fmt.Errorf("idempg: migrate: %w", err)
	}
	return nil
}

// Store is a payment.IdempotencyStore on a PostgreSQL database.
type Store struct{ db DB }

var _ payment.IdempotencyStore = (*Store)(nil)

// New returns a Store on db, whose search_path must reach the
// payment_idempotency table.
func New(db DB) *Store { return &Store{db: db} }

func micros(d time.Duration) (int64, error) {
	if d <= 0 {
		return 0, errors.New("idempg: lease and keep must be positive")
	}
	return max(d.Microseconds(), 1), nil
}

const (
	claimSQL = `INSERT INTO payment_idempotency AS t (key, owner, expires_at)
VALUES ($1, $2, now() + $3 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE t.expires_at <= now()
RETURNING true`
	stateSQL    = `SELECT owner = '' FROM payment_idempotency WHERE key = $1 AND expires_at > now()`
	completeSQL = `INSERT INTO payment_idempotency AS t (key, owner, expires_at)
VALUES ($1, '', now() + $3 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET owner = '', expires_at = excluded.expires_at
WHERE (t.owner = $2 AND t.owner <> '') OR t.expires_at <= now()
RETURNING true`
	releaseSQL = `DELETE FROM payment_idempotency WHERE key = $1 AND owner = $2 AND owner <> ''`
	purgeSQL   = `DELETE FROM payment_idempotency WHERE expires_at <= now()`
)

// Claim implements payment.IdempotencyStore.
func (s *Store) Claim(ctx context.Context, key, owner string, lease time.Duration) (payment.ClaimState, error) {
	us, err := micros(lease)
	if err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, errors.New("idempg: empty owner")
	}
	for range 3 {
		var ok bool
		err := s.db.QueryRow(ctx, claimSQL, key, owner, us).Scan(&ok)
		if err == nil {
			return payment.ClaimNew, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("idempg: claim: %w", err)
		}
		var done bool
		err = s.db.QueryRow(ctx, stateSQL, key).Scan(&done)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue // expired or released in between: claim again
		case err != nil:
			return 0, fmt.Errorf("idempg: claim: %w", err)
		case done:
			return payment.ClaimDone, nil
		default:
			return payment.ClaimInProgress, nil
		}
	}
	return payment.ClaimInProgress, nil
}

// Complete implements payment.IdempotencyStore.
func (s *Store) Complete(ctx context.Context, key, owner string, keep time.Duration) error {
	us, err := micros(keep)
	if err != nil {
		return err
	}
	var ok bool
	err = s.db.QueryRow(ctx, completeSQL, key, owner, us).Scan(&ok)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return payment.ErrClaimLost
	case err != nil:
		return fmt.Errorf("idempg: complete: %w", err)
	}
	return nil
}

// Release implements payment.IdempotencyStore.
func (s *Store) Release(ctx context.Context, key, owner string) error {
	if _, err := s.db.Exec(ctx, releaseSQL, key, owner); err != nil {
		return fmt.Errorf("idempg: release: %w", err)
	}
	return nil
}

// Purge deletes expired rows and returns how many.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, purgeSQL)
	if err != nil {
		return 0, fmt.Errorf("idempg: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}
