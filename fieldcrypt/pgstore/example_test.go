package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
)

// The batch job after promoting a new FIELD_ENCRYPTION_KEY (the old one in
// FIELD_ENCRYPTION_KEY_PREVIOUS). Not run: it needs a database.
func ExampleReencrypt() {
	ctx := context.Background()
	ring, err := fieldcrypt.LoadKeyringEnv()
	if err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	t := pgstore.Table{Name: "users", PK: "id", Bind: true, Columns: []pgstore.Column{
		{Name: "national_id"},                  // bytea
		{Name: "email", Form: fieldcrypt.Text}, // text
	}}
	rep, err := pgstore.Reencrypt(ctx, pool, ring, t, pgstore.ReencryptOptions{
		Workers: 2, BatchSize: 1000, RowsPerSecond: 20000,
		Progress: func(p pgstore.Progress) { log.Printf("%d/%d rows, ETA %v", p.Scanned, p.Total, p.ETA) },
	})
	if err != nil {
		log.Fatal(err) // cancelled or failed: run again to resume
	}
	fmt.Println(rep.Summary())
	for _, id := range ring.Previous() {
		fmt.Println(id, "safe to retire:", rep.Retirable(id))
	}
}

// The census: values per key id per column, read from headers in SQL.
func ExampleTakeCensus() {
	ctx := context.Background()
	ring, _ := fieldcrypt.LoadKeyringEnv()
	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	t := pgstore.Table{Name: "users", PK: "id", Columns: []pgstore.Column{{Name: "national_id"}}}
	c, err := pgstore.TakeCensus(ctx, pool, ring, t)
	if err != nil {
		log.Fatal(err)
	}
	for _, col := range c.Columns {
		for _, k := range col.Keys {
			fmt.Println(col.Column, k.KeyID, k.Slot, k.Values)
		}
		fmt.Println(col.Column, "NULL", col.Nulls, "not an envelope", col.NotEnvelope)
	}
}

// Before retiring a key: decrypt every value of every listed column with its
// binding, then check that no listed column holds a value under the key.
func ExampleTakeListCensus() {
	ctx := context.Background()
	ring, _ := fieldcrypt.LoadKeyringEnv()
	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	list, err := pgstore.ReadColumnList("fieldcrypt-columns") // "users phone text bound id" …
	if err != nil {
		log.Fatal(err)
	}
	reps, err := pgstore.VerifyList(ctx, pool, ring, list, pgstore.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range reps {
		for _, f := range r.Failures {
			fmt.Println("undecryptable:", r.Table, f.Row, f.Column, f.Err)
		}
	}
	lc, err := pgstore.TakeListCensus(ctx, pool, ring, list)
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range ring.Previous() {
		fmt.Println(id, "retirable:", lc.Retirable(id))
	}
}
