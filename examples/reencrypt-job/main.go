// Command reencrypt-job is a deployable batch job that brings encrypted
// columns under the current FIELD_ENCRYPTION_KEY, online: run it (as a
// Kubernetes Job, a cron job or by hand) after promoting a new key, until
// its census of every listed column says the previous key is retirable.
//
//	FIELD_ENCRYPTION_KEY=<new> FIELD_ENCRYPTION_KEY_PREVIOUS=<old> \
//	DATABASE_URL=postgres://… reencrypt-job -columns fieldcrypt-columns
//	# or one table: reencrypt-job -table users -pk id -column national_id -column email:text -bind
//
// It prints one JSON object per batch on stdout ({"event":"progress",…}) and
// a final {"event":"report","report":…,"summary":…} whose report.previous
// lists each previous key with the values left under it: the same lines as
// "rotate field reencrypt" prints (pgstore.ProgressEvent, ReportEvent).
// Killed or cancelled (SIGINT, SIGTERM), it stops after the batch in flight;
// run it again to resume from the checkpoint. Several copies run with the
// same flags (on several machines) share the job; a killed copy's parts are
// taken over after -lease.
//
// Exit status, the same as rotate field reencrypt: 0 when every value is
// under the primary key; 1 when values remain on another key or could not
// be decrypted (listed in the report); 2 for bad usage or configuration
// (nothing read or written); 3 when the run failed or was cancelled, or
// another job holds the table (run again to resume). -dry-run exits 1 only
// for undecryptable values.
//
// With -columns FILE (every encrypted column, see pgstore.ColumnList) it
// works each listed table in turn and ends with {"event":"census",…}, whose
// census.keys says which previous keys no listed column holds any more
// (retirable).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
	"github.com/goodgo/rotation/secretenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], secretenv.Env(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type columns []pgstore.Column

func (c *columns) String() string { return fmt.Sprint(*c) }
func (c *columns) Set(s string) error {
	col, err := pgstore.ParseColumn(s)
	if err == nil {
		*c = append(*c, col)
	}
	return err
}

func run(ctx context.Context, args []string, src secretenv.Source, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reencrypt-job", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		t       pgstore.Table
		cols    columns
		opt     pgstore.ReencryptOptions
		dsnFile = fs.String("database-url-file", "", "read DATABASE_URL from this file instead of the environment")
		alg     = fs.String("algorithm", "xchacha20poly1305", "algorithm for new envelopes: xchacha20poly1305 or aes256gcm")
		legacy  = fs.Bool("migrate-plaintext", false, "accept values that are not envelopes as plaintext and encrypt them (migration only)")
	)
	columnsFile := fs.String("columns", "", "file listing every encrypted column (table column form binding [row key] per line), instead of -table/-column")
	fs.StringVar(&t.Schema, "schema", "", "schema of the table (default: search_path)")
	fs.StringVar(&t.Name, "table", "", "table to re-encrypt (required)")
	fs.StringVar(&t.PK, "pk", "id", "primary key column")
	fs.Var(&cols, "column", "encrypted column, `name` or name:text; repeat for several (required)")
	fs.BoolVar(&t.Bind, "bind", false, "values are bound to (table, column, pk)")
	fs.IntVar(&opt.BatchSize, "batch-size", 1000, "rows per batch")
	fs.IntVar(&opt.Workers, "workers", 1, "parallel workers in this process; processes run with the same job share it")
	fs.IntVar(&opt.Ranges, "ranges", 0, "parts the key range is split into when the job starts (default max(16, 4 x workers))")
	fs.DurationVar(&opt.Lease, "lease", 30*time.Second, "how long a part stays held by a process that stopped renewing it")
	fs.Float64Var(&opt.RowsPerSecond, "rate", 0, "cap on rows read per second (0: none)")
	fs.DurationVar(&opt.Pause, "pause", 0, "pause after each batch")
	fs.BoolVar(&opt.DryRun, "dry-run", false, "read and decrypt, write nothing")
	fs.StringVar(&opt.Job, "job", "", "checkpoint name (default: derived from table, columns and primary key id)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	t.Columns = cols
	list := pgstore.ColumnList{t}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintln(stderr, "reencrypt-job: unexpected arguments")
		return 2
	case *columnsFile != "":
		if t.Name != "" || len(t.Columns) > 0 {
			fmt.Fprintln(stderr, "reencrypt-job: -columns lists the tables and columns: drop -table and -column")
			return 2
		}
		var err error
		if list, err = pgstore.ReadColumnList(*columnsFile); err != nil {
			fmt.Fprintf(stderr, "reencrypt-job: -columns: %v\n", err)
			return 2
		}
	case t.Name == "" || len(t.Columns) == 0:
		fmt.Fprintln(stderr, "reencrypt-job: -columns FILE, or -table and at least one -column, are required")
		return 2
	}
	ring, err := fieldcrypt.LoadKeyring(src)
	if err != nil {
		fmt.Fprintf(stderr, "reencrypt-job: %v\n", err)
		return 2
	}
	switch *alg {
	case "xchacha20poly1305":
	case "aes256gcm":
		ring, _ = ring.WithAlgorithm(fieldcrypt.AES256GCM)
	default:
		fmt.Fprintf(stderr, "reencrypt-job: unknown -algorithm %q\n", *alg)
		return 2
	}
	if *legacy {
		ring = ring.WithLegacy(fieldcrypt.Plaintext)
	}
	dsn, err := databaseURL(src, *dsnFile)
	if err != nil {
		fmt.Fprintf(stderr, "reencrypt-job: %v\n", err)
		return 2
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included.
		fmt.Fprintln(stderr, "reencrypt-job: DATABASE_URL is not a valid Postgres URL")
		return 2
	}
	cfg.MaxConns = int32(max(opt.Workers, 1)) + 2 // workers, the count and the heartbeat (see pgstore.DB)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "reencrypt-job: connect: %v\n", redact(err, dsn))
		return 3
	}
	defer pool.Close()

	enc := json.NewEncoder(stdout)
	opt.Progress = func(p pgstore.Progress) {
		_ = enc.Encode(pgstore.ProgressEvent(p))
	}
	code := 0
	for _, t := range list {
		o := opt
		if o.Job != "" && len(list) > 1 {
			o.Job += " " + t.Name
		}
		rep, err := pgstore.Reencrypt(ctx, pool, ring, t, o)
		switch {
		case errors.Is(err, pgstore.ErrConfig):
			fmt.Fprintf(stderr, "reencrypt-job: %v\n", redact(err, dsn))
			return 2
		case errors.Is(err, pgstore.ErrBusy):
			fmt.Fprintf(stderr, "reencrypt-job: %v\n", redact(err, dsn))
			return 3
		case err != nil:
			fmt.Fprintf(stderr, "reencrypt-job: %v (run again to resume)\n", redact(err, dsn))
			return 3
		}
		_ = enc.Encode(pgstore.ReportEvent(rep))
		fmt.Fprintln(stderr, "reencrypt-job: "+rep.Summary())
		if rep.Undecryptable > 0 || !rep.DryRun && rep.Census.NotUpToDate() > 0 {
			code = 1
		}
	}
	if *columnsFile != "" && !opt.DryRun {
		lc, err := pgstore.TakeListCensus(ctx, pool, ring, list)
		if err != nil {
			fmt.Fprintf(stderr, "reencrypt-job: %v\n", redact(err, dsn))
			return 3
		}
		_ = enc.Encode(pgstore.CensusEvent(lc))
		fmt.Fprintln(stderr, "reencrypt-job: "+lc.Summary())
	}
	return code
}

// databaseURL reads DATABASE_URL from file, or from src.
func databaseURL(src secretenv.Source, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("-database-url-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	v, ok, err := src.Lookup("DATABASE_URL")
	if err != nil {
		return "", err
	}
	if !ok || v == "" {
		return "", errors.New("DATABASE_URL is not set (or pass -database-url-file)")
	}
	return v, nil
}

// redact removes the DSN's password from an error message.
func redact(err error, dsn string) string {
	msg := err.Error()
	if cfg, perr := pgxpool.ParseConfig(dsn); perr == nil && cfg.ConnConfig.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.ConnConfig.Password, "[redacted]")
	}
	return msg
}
