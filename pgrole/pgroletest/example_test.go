package pgroletest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/pgrole/pgroletest"
)

// An application's integration test: its pool reads the DSN file the kit
// rewrites at cutover, so it follows the rotation without a restart.
func Example() {
	t := &testing.T{} // in a real test: the test function's *testing.T
	ctx := context.Background()
	db := pgroletest.New(t, pgroletest.Options{
		Setup: func(ctx context.Context, c *pgx.Conn, role string) error {
			_, err := c.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY);
				GRANT SELECT, INSERT ON orders TO `+pgx.Identifier{role}.Sanitize())
			return err
		},
	})
	pool, err := pgxpool.NewWithConfig(ctx, db.PoolConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// … run the application's load on pool in the background …
	r := db.Rotate(t, pgroletest.RotateOptions{})
	if db.PasswordValid(t, r.Old, db.Password) {
		t.Fatal("the new password works on the old role")
	}
	// … stop the load: it must have seen no error.
}
