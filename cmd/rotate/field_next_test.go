package main

import (
	"context"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
	"github.com/goodgo/rotation/internal/testsvc"
)

// Issue 12 point 1: staging the new key in FIELD_ENCRYPTION_KEY_NEXT, the
// census calls it "next" and never retirable (it used to be staged in
// _PREVIOUS and reported "safe to retire").
func TestFieldCensusStagedNextNeverRetirable(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, phone text)`); err != nil {
		t.Fatal(err)
	}
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(oldK)
	next, _ := fieldcrypt.NewKeyring(newK)
	v, _ := old.EncryptText(nil, []byte("0901234567"), fieldcrypt.Binding{})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO users VALUES (1, $1)`, string(v)); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": oldK, "FIELD_ENCRYPTION_KEY_NEXT": newK, "DATABASE_URL": db.URL}
	c := runCLI(t, vars, "", "field", "census", "--table", "users", "--column", "phone:text")
	if c.code != exitOK {
		t.Fatalf("census: %+v", c)
	}
	if !strings.Contains(c.stdout, "next key "+next.Primary().String()) || !strings.Contains(c.stdout, "never retirable") {
		t.Fatalf("census does not name the next key: %s", c.stdout)
	}
	if strings.Contains(c.stdout, "safe to retire") {
		t.Fatalf("census calls a key retirable while staging: %s", c.stdout)
	}
	assertNoSecret(t, c, oldK, newK, "0901234567")
	// Issue 12 point 9: the JSON names the table as it is, not as a quoted
	// SQL identifier.
	j := runCLI(t, vars, "", "field", "census", "--table", "users", "--column", "phone:text", "--json")
	if j.code != exitOK || !strings.Contains(j.stdout, `"table": "users"`) {
		t.Fatalf("census --json: %+v", j)
	}
}

// TestProgressBarSaysWhoItWaitsFor: a process with nothing left to claim
// says which process holds the rest.
func TestProgressBarSaysWhoItWaitsFor(t *testing.T) {
	bar := progressBar(pgstore.Progress{Total: 10, Scanned: 5, Waiting: "2 parts held by others, e.g. host pid 7 run ab worker 0"})
	if !strings.Contains(bar, "waiting: 2 parts held by others, e.g. host pid 7") {
		t.Fatal(bar)
	}
}
