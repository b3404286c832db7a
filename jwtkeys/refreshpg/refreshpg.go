// Package refreshpg is a jwtkeys.RefreshStore on PostgreSQL (pgx): every
// refresh token's jti in one table (shipped as migrations/*.sql, applied by
// Migrate), one-time use with rotation, family revocation on reuse
// (RFC 9700 §4.14), revocation per user and for everyone, and cleanup of
// expired rows. Tokens themselves are never stored.
//
//	if err := refreshpg.Migrate(ctx, pool); err != nil { … }
//	store := refreshpg.New(pool)
//	ref, err := jwtkeys.NewRefresher(svc, jwtkeys.RefresherConfig[AppClaims]{Store: store, Status: status, Claims: loadClaims})
package refreshpg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Table is the table the store uses.
const Table = "jwt_refresh_tokens"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the migration files (name → SQL), for a service that
// runs its own migration tool.
func Migrations() map[string]string {
	out := map[string]string{}
	ents, _ := fs.ReadDir(migrations, "migrations")
	for _, e := range ents {
		b, _ := migrations.ReadFile("migrations/" + e.Name())
		out[e.Name()] = string(b)
	}
	return out
}

// migrateLock is the advisory lock key Migrate holds: CREATE TABLE IF NOT
// EXISTS run by two sessions at once fails in one of them with a duplicate
// key on pg_type, so instances starting together migrate one at a time.
const migrateLock = 0x6a77747266 // "jwtrf"

// Migrate applies the migrations in order, in one transaction under an
// advisory lock, so any number of instances may run it at the same start.
// They are idempotent (IF NOT EXISTS), so Migrate may run at every start.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m := Migrations()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("refreshpg: migrate: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("refreshpg: migrate: %w", err)
	}
	for _, n := range names {
		if _, err := tx.Exec(ctx, m[n]); err != nil {
			return fmt.Errorf("refreshpg: migration %s: %w", n, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("refreshpg: migrate: %w", err)
	}
	return nil
}

// Store is the PostgreSQL RefreshStore. Safe for concurrent use; any number
// of instances may share the table.
type Store struct{ pool *pgxpool.Pool }

// New returns a store on pool (Migrate first).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ jwtkeys.RefreshStore = (*Store)(nil)

// Record stores rec as the first token of a new family.
func (s *Store) Record(ctx context.Context, rec jwtkeys.RefreshRecord) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO jwt_refresh_tokens (jti, family, sub, expires_at) VALUES ($1, $1, $2, $3)`,
		rec.ID, rec.Subject, rec.ExpiresAt)
	return err
}

// Rotate spends old and records next in its family in one transaction: a
// crash or cancellation in the middle leaves old unspent and next absent.
// The row lock on old serialises concurrent refreshes of one token: the
// first commits, the others find it spent, revoke the family (including the
// winner's new token) and get ErrRefreshReused.
func (s *Store) Rotate(ctx context.Context, old, next jwtkeys.RefreshRecord, adoptLegacy bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var family string
	err = tx.QueryRow(ctx, `UPDATE jwt_refresh_tokens SET spent_at = now()
		WHERE jti = $1 AND sub = $2 AND spent_at IS NULL AND revoked_at IS NULL RETURNING family`, old.ID, old.Subject).Scan(&family)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		var spent, revoked bool
		err := tx.QueryRow(ctx, `SELECT family, spent_at IS NOT NULL, revoked_at IS NOT NULL FROM jwt_refresh_tokens WHERE jti = $1`, old.ID).Scan(&family, &spent, &revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if !adoptLegacy {
				return jwtkeys.ErrRefreshUnknown
			}
			// Legacy: recorded spent, once. A concurrent adoption of the
			// same token conflicts on the key: that one is a reuse.
			family = next.ID
			tag, err := tx.Exec(ctx, `INSERT INTO jwt_refresh_tokens (jti, family, sub, expires_at, spent_at) VALUES ($1, $2, $3, $4, now())
				ON CONFLICT (jti) DO NOTHING`, old.ID, family, old.Subject, old.ExpiresAt)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return s.revokeReused(ctx, tx, old.ID)
			}
		case err != nil:
			return err
		case revoked:
			return jwtkeys.ErrRefreshRevoked
		case spent:
			return s.revokeReused(ctx, tx, old.ID)
		default: // a different sub on the same jti: never valid
			return jwtkeys.ErrRefreshUnknown
		}
	case err != nil:
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO jwt_refresh_tokens (jti, family, sub, expires_at) VALUES ($1, $2, $3, $4)`,
		next.ID, family, next.Subject, next.ExpiresAt); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// revokeReused revokes the family of the reused token jti. It commits
// the revocation on its own: the caller's refresh fails either way.
func (s *Store) revokeReused(ctx context.Context, tx pgx.Tx, jti string) error {
	if _, err := tx.Exec(ctx, `UPDATE jwt_refresh_tokens SET revoked_at = now()
		WHERE family = (SELECT family FROM jwt_refresh_tokens WHERE jti = $1) AND revoked_at IS NULL`, jti); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return jwtkeys.ErrRefreshReused
}

// lockForRevoke blocks new rotations (they take ROW EXCLUSIVE) and waits for
// those in flight, so a revocation sees every token committed before it and
// none can be minted from a revoked one after it.
const lockForRevoke = `LOCK TABLE jwt_refresh_tokens IN SHARE ROW EXCLUSIVE MODE`

// RevokeSubject revokes every live refresh token of sub and returns how
// many were revoked.
func (s *Store) RevokeSubject(ctx context.Context, sub string) (int64, error) {
	return s.revoke(ctx, `UPDATE jwt_refresh_tokens SET revoked_at = now() WHERE sub = $1 AND revoked_at IS NULL AND spent_at IS NULL`, sub)
}

// RevokeAll revokes every live refresh token (runbook §3.3) and returns how
// many were revoked.
func (s *Store) RevokeAll(ctx context.Context) (int64, error) {
	return s.revoke(ctx, `UPDATE jwt_refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND spent_at IS NULL`)
}

func (s *Store) revoke(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockForRevoke); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// CountLive counts the live (unspent, unrevoked, unexpired at now) refresh
// tokens of sub, or of everyone when sub is "": what a revocation would
// revoke (rotate jwt revoke-refresh --dry-run).
func (s *Store) CountLive(ctx context.Context, sub string, now time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM jwt_refresh_tokens
		WHERE revoked_at IS NULL AND spent_at IS NULL AND expires_at > $2 AND ($1 = '' OR sub = $1)`, sub, now).Scan(&n)
	return n, err
}

// DeleteExpired deletes the rows of tokens that expired before before (pass
// now minus the leeway) and returns how many. An expired token no longer
// verifies, so its row is no longer needed, spent or not.
func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM jwt_refresh_tokens WHERE expires_at < $1`, before)
	return tag.RowsAffected(), err
}

// Cleanup runs DeleteExpired every interval until ctx ends, with before =
// now() - grace; errors go to onErr (may be nil).
func (s *Store) Cleanup(ctx context.Context, interval, grace time.Duration, now func() time.Time, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.DeleteExpired(ctx, now().Add(-grace)); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
