package pgrole

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Trial finding 2: a DROP ROLE that fails with 2BP01 names the dependency
// that remains (PostgreSQL's DETAIL), here a column privilege the role
// granted through a table-level GRANT OPTION, which DROP OWNED leaves.
func TestIssue11DropRoleFailureNamesTheDependency(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	role, rep := testsvc.RoleName(t, "old"), testsvc.RoleName(t, "rep")
	r, p := pgx.Identifier{role}.Sanitize(), pgx.Identifier{rep}.Sanitize()
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range []string{"CREATE ROLE " + r, "CREATE ROLE " + p, "CREATE TABLE stranded (c text)",
		"GRANT UPDATE ON stranded TO " + r + " WITH GRANT OPTION",
		"SET ROLE " + r, "GRANT UPDATE (c) ON stranded TO " + p, "RESET ROLE", "DROP OWNED BY " + r} {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "DROP TABLE IF EXISTS stranded") })
	a, err := Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	drop := "DROP ROLE " + r
	_, err = a.run(ctx, PhaseRetire, []Step{{SQL: drop, exec: drop}})
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "2BP01" {
		t.Fatalf("DROP ROLE: %v, want 2BP01", err)
	}
	if want := "privileges for column c of table stranded"; !strings.Contains(err.Error(), want) {
		t.Fatalf("the error does not name the dependency (%q):\n%v", want, err)
	}
	t.Log(err)
	// Any other error is left as it is.
	if plain := errors.New("x"); dependencyDetail(plain) != plain {
		t.Fatal("dependencyDetail changed an error without DETAIL")
	}
}
