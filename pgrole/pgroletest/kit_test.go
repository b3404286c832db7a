package pgroletest_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/pgroletest"
)

func setup(ctx context.Context, c *pgx.Conn, role string) error {
	r := pgx.Identifier{role}.Sanitize()
	_, err := c.Exec(ctx, `CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL);
		GRANT SELECT, INSERT ON orders TO `+r+`; GRANT USAGE ON SEQUENCE orders_id_seq TO `+r)
	return err
}

// load runs the application's queries on pool until stop; it returns the
// number of successful and failed round trips.
func load(ctx context.Context, pool *pgxpool.Pool, stop <-chan struct{}) (ok, failed *atomic.Int64, firstErr *atomic.Value, wait func()) {
	ok, failed, firstErr = new(atomic.Int64), new(atomic.Int64), new(atomic.Value)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := pool.Exec(ctx, `INSERT INTO orders (note) VALUES ('x')`)
				if err == nil {
					var n int
					err = pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return ok, failed, firstErr, wg.Wait
}

func loginFails(t *testing.T, db *pgroletest.DB, role string, pw fingerprint.Secret) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, db.URL(db.Name, role, &pw))
	if err == nil {
		c.Close(ctx)
		return false
	}
	return true
}

func TestApplicationFollowsTwoRotations(t *testing.T) {
	for _, strategy := range []pgrole.Strategy{pgrole.Alternate, pgrole.Mirror} {
		t.Run(string(strategy), func(t *testing.T) {
			ctx := context.Background()
			db := pgroletest.New(t, pgroletest.Options{Setup: setup})
			if fi, err := os.Stat(db.DSNFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("DSN file: %v %v", fi.Mode(), err)
			}
			pool, err := pgxpool.NewWithConfig(ctx, db.PoolConfig(t))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			stop := make(chan struct{})
			ok, failed, firstErr, wait := load(ctx, pool, stop)
			time.Sleep(300 * time.Millisecond)
			type login struct {
				role string
				pw   fingerprint.Secret
			}
			var old []login
			for i := 0; i < 2; i++ {
				old = append(old, login{db.Role, db.Password})
				r := db.Rotate(t, pgroletest.RotateOptions{Strategy: strategy})
				if r.Old == r.New || db.Role != r.New || len(r.Applied) == 0 {
					t.Fatalf("rotation %d: %+v, role now %s", i+1, r, db.Role)
				}
				time.Sleep(300 * time.Millisecond)
			}
			close(stop)
			wait()
			if failed.Load() != 0 || ok.Load() < 50 {
				t.Fatalf("%d ok, %d failed (first: %v)", ok.Load(), failed.Load(), firstErr.Load())
			}
			for _, l := range old {
				if db.PasswordValid(t, l.role, l.pw) {
					t.Errorf("retired login %s still valid with its old password", l.role)
				}
			}
			if !db.PasswordValid(t, db.Role, db.Password) || loginFails(t, db, db.Role, db.Password) {
				t.Errorf("current login %s refused", db.Role)
			}
			t.Logf("%s: %d queries, 0 failed, role now %s", strategy, ok.Load(), db.Role)
		})
	}
}

func TestCleanupDropsEverything(t *testing.T) {
	var name, base string
	t.Run("inner", func(t *testing.T) {
		db := pgroletest.New(t, pgroletest.Options{Setup: setup})
		db.Rotate(t, pgroletest.RotateOptions{})
		name, base = db.Name, db.Stable
	})
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		dsn = pgroletest.DefaultAdminDSN
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $2))`, name, base).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d objects of %s/%s left after the test: %v", n, name, base, err)
	}
}
