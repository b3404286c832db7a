package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
)

func init() {
	register(command{name: "field", summary: "field encryption: census, online re-encryption, encrypt/decrypt one value", run: runField})
}

var fieldSubs = map[string]command{
	"census":    {name: "census", summary: "rows per key id per column (and NULLs), counted in SQL", run: runFieldCensus},
	"reencrypt": {name: "reencrypt", summary: "rewrap every value under FIELD_ENCRYPTION_KEY, online and resumable", run: runFieldReencrypt},
	"encrypt":   {name: "encrypt", summary: "encrypt one value from stdin to stdout", run: runFieldEncrypt},
	"decrypt":   {name: "decrypt", summary: "decrypt one value from stdin to stdout", run: runFieldDecrypt},
}

func runField(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "field", args, fieldSubs)
}

// columnFlags collects repeated --column name[:text].
type columnFlags []pgstore.Column

func (c *columnFlags) String() string { return fmt.Sprint(*c) }
func (c *columnFlags) Set(s string) error {
	col, err := pgstore.ParseColumn(s)
	if err == nil {
		*c = append(*c, col)
	}
	return err
}

// tableFlags are shared by census and reencrypt.
type tableFlags struct {
	t       pgstore.Table
	cols    columnFlags
	urlFile string
	dir     string // --dir: keys from a secrets directory
}

func (f *tableFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.t.Schema, "schema", "", "schema of the table (default: search_path)")
	fs.StringVar(&f.t.Name, "table", "", "table holding encrypted columns (required)")
	fs.StringVar(&f.t.PK, "pk", "id", "primary key column")
	fs.Var(&f.cols, "column", "encrypted column: `name` (bytea) or name:text; repeat for several (required)")
	fs.BoolVar(&f.t.Bind, "bind", false, "values are bound to (table, column, primary key)")
	fs.StringVar(&f.urlFile, "database-url-file", "", "file holding the DSN (default: $DATABASE_URL)")
	fs.StringVar(&f.dir, "dir", "", dirFlagUsage)
}

// open validates the flags, loads the keyring and connects.
func (f *tableFlags) open(ctx context.Context, env *Env, name string, conns int) (*fieldcrypt.Keyring, *pgxpool.Pool, int) {
	f.t.Columns = f.cols
	if f.t.Name == "" || len(f.t.Columns) == 0 {
		fmt.Fprintf(env.Stderr, "rotate field %s: --table and at least one --column are required\n", name)
		return nil, nil, exitUsage
	}
	ring, err := fieldcrypt.LoadKeyring(fieldSource(env, f.dir))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	dsn, err := pickURL(env, "DATABASE_URL", "", f.urlFile, "")
	if err == nil && dsn == "" {
		err = errors.New("set DATABASE_URL or pass --database-url-file")
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field %s: DATABASE_URL is not a valid Postgres DSN\n", name)
		return nil, nil, exitUsage
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field %s: connect: %v\n", name, err)
		return nil, nil, exitCheck
	}
	return ring, pool, exitOK
}

func runFieldCensus(ctx context.Context, env *Env, args []string) int {
	var f tableFlags
	fs := newFlags(env, "field census", "rotate field census --table T [--pk id] --column C[:text]... [--bind]\n\n"+
		"Counts, in SQL and without decrypting, the values of each column under each key id (the key's\n"+
		"fingerprint), NULLs and values that are not envelopes. Keys come from FIELD_ENCRYPTION_KEY,\n"+
		"FIELD_ENCRYPTION_KEY_NEXT (staged, never retirable) and FIELD_ENCRYPTION_KEY_PREVIOUS. Exit 0 when every value is under the primary key, 1 otherwise.")
	f.register(fs)
	asJSON := fs.Bool("json", false, "print the census as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	ring, pool, code := f.open(ctx, env, "census", 2)
	if code != exitOK {
		return code
	}
	defer pool.Close()
	c, err := pgstore.TakeCensus(ctx, pool, ring, f.t)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field census: %v\n", err)
		return exitCheck
	}
	if *asJSON {
		_ = json.NewEncoder(env.Stdout).Encode(c)
	} else {
		fmt.Fprintf(env.Stdout, "%-20s %-16s %-9s %12s\n", "COLUMN", "KEY ID", "ROLE", "ROWS")
		for _, col := range c.Columns {
			for _, k := range col.Keys {
				fmt.Fprintf(env.Stdout, "%-20s %-16s %-9s %12d\n", col.Column, k.KeyID, k.Role, k.Rows)
			}
			if col.NotEnvelope > 0 {
				fmt.Fprintf(env.Stdout, "%-20s %-16s %-9s %12d\n", col.Column, "-", "invalid", col.NotEnvelope)
			}
			fmt.Fprintf(env.Stdout, "%-20s %-16s %-9s %12d\n", col.Column, "-", "null", col.Nulls)
		}
		if id, ok := ring.Next(); ok {
			fmt.Fprintf(env.Stdout, "next key %s: %d values in %s (staged: never retirable)\n", id, c.Rows(id), c.Table)
		}
		for _, id := range ring.Previous() {
			if n := c.Rows(id); n == 0 {
				fmt.Fprintf(env.Stdout, "previous key %s: 0 values in %s, safe to retire for this table\n", id, c.Table)
			} else {
				fmt.Fprintf(env.Stdout, "previous key %s: %d values in %s, NOT safe to retire: run rotate field reencrypt\n", id, n, c.Table)
			}
		}
	}
	if c.NotCurrent() > 0 {
		return exitCheck
	}
	return exitOK
}

func runFieldReencrypt(ctx context.Context, env *Env, args []string) int {
	var f tableFlags
	var opt pgstore.Options
	fs := newFlags(env, "field reencrypt", "rotate field reencrypt --table T [--pk id] --column C[:text]... [--bind] [flags]\n\n"+
		"Rewraps, online, every value not under FIELD_ENCRYPTION_KEY (old keys in\n"+
		"FIELD_ENCRYPTION_KEY_PREVIOUS). Concurrent writes are never overwritten (compare-and-swap).\n"+
		"Interrupted, it resumes from its checkpoint when run again. Progress: a bar on a terminal,\n"+
		"JSON lines otherwise. Exit 0 when every value is under the primary key, 1 when values remain\n"+
		"(undecryptable ones are listed), 2 bad usage. --dry-run exits 1 only for undecryptable values.")
	f.register(fs)
	fs.IntVar(&opt.BatchSize, "batch-size", 1000, "rows per batch")
	fs.IntVar(&opt.Workers, "workers", 1, "parallel workers over primary-key ranges")
	fs.Float64Var(&opt.RowsPerSecond, "rate", 0, "cap on rows per second (0: none)")
	fs.DurationVar(&opt.Pause, "pause", 0, "pause after each batch")
	fs.BoolVar(&opt.DryRun, "dry-run", false, "read and decrypt, write nothing")
	fs.StringVar(&opt.Job, "job", "", "checkpoint name (default: from table, columns and primary key id)")
	progress := fs.String("progress", "auto", "auto, bar or json")
	alg := fs.String("algorithm", "xchacha20poly1305", "for new envelopes: xchacha20poly1305 or aes256gcm")
	migrate := fs.Bool("migrate-plaintext", false, "treat values that are not envelopes as plaintext and encrypt them (migration only)")
	if code, done := parse(fs, args); done {
		return code
	}
	if *progress != "auto" && *progress != "bar" && *progress != "json" {
		fmt.Fprintln(env.Stderr, "rotate field reencrypt: --progress must be auto, bar or json")
		return exitUsage
	}
	ring, pool, code := f.open(ctx, env, "reencrypt", max(opt.Workers, 1)+1)
	if code != exitOK {
		return code
	}
	defer pool.Close()
	if code := setAlgorithm(env, ring, *alg); code != exitOK {
		return code
	}
	if *migrate {
		ring = ring.WithLegacy(fieldcrypt.Plaintext)
	}
	bar := *progress == "bar" || (*progress == "auto" && isTerminal(env.Stdout))
	enc := json.NewEncoder(env.Stdout)
	opt.Progress = func(p pgstore.Progress) {
		if bar {
			fmt.Fprintf(env.Stderr, "\r%s", progressBar(p))
			if p.Done {
				fmt.Fprintln(env.Stderr)
			}
			return
		}
		_ = enc.Encode(struct {
			Event string `json:"event"`
			pgstore.Progress
			Failures []pgstore.Failure `json:"failures,omitempty"`
		}{Event: "progress", Progress: p})
	}
	rep, err := pgstore.Reencrypt(ctx, pool, ring, f.t, opt)
	if err != nil {
		if bar {
			fmt.Fprintln(env.Stderr)
		}
		fmt.Fprintf(env.Stderr, "rotate field reencrypt: %v (run again to resume)\n", err)
		return exitCheck
	}
	if bar {
		for _, fl := range rep.Failures {
			fmt.Fprintf(env.Stdout, "undecryptable: %s=%s column %s: %v\n", f.t.PK, fl.PK, fl.Column, fl.Err)
		}
		if rep.Undecryptable > int64(len(rep.Failures)) {
			fmt.Fprintf(env.Stdout, "… and %d more undecryptable values\n", rep.Undecryptable-int64(len(rep.Failures)))
		}
		fmt.Fprintln(env.Stdout, rep.Summary())
	} else {
		_ = enc.Encode(struct {
			Event   string          `json:"event"`
			Report  *pgstore.Report `json:"report"`
			Summary string          `json:"summary"`
		}{"report", rep, rep.Summary()})
	}
	if rep.DryRun {
		// Values that remain are expected; values no key opens are not.
		if rep.Undecryptable > 0 {
			return exitCheck
		}
		return exitOK
	}
	if rep.Census.NotCurrent() > 0 || rep.Undecryptable > 0 {
		return exitCheck
	}
	return exitOK
}

func setAlgorithm(env *Env, ring *fieldcrypt.Keyring, alg string) int {
	switch alg {
	case "xchacha20poly1305":
	case "aes256gcm":
		_ = ring.SetAlgorithm(fieldcrypt.AES256GCM)
	default:
		fmt.Fprintf(env.Stderr, "rotate field: unknown --algorithm %q (xchacha20poly1305 or aes256gcm)\n", alg)
		return exitUsage
	}
	return exitOK
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar renders one line: bar, counts, rate and ETA.
func progressBar(p pgstore.Progress) string {
	const width = 30
	frac := 1.0
	if p.Total > 0 {
		frac = min(float64(p.Scanned)/float64(p.Total), 1)
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d rows, %d rewrapped, %d conflicts, %d undecryptable, %.0f rows/s, ETA %s ",
		strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.Scanned, p.Total, p.Rewrapped,
		p.Conflicts, p.Undecryptable, p.RowsPerSecond, p.ETA.Round(time.Second))
}

// valueFlags are shared by encrypt and decrypt.
type valueFlags struct {
	form                 string
	table, column, row   string
	keepNewline, hexForm bool
	dir                  string
}

func (v *valueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.form, "form", "text", "envelope form: text (fc1:…) or binary (raw bytes)")
	fs.BoolVar(&v.hexForm, "hex", false, "binary form as hex (as psql shows bytea, without \\x)")
	fs.StringVar(&v.table, "table", "", "binding: table")
	fs.StringVar(&v.column, "column", "", "binding: column")
	fs.StringVar(&v.row, "row", "", "binding: row primary key as text")
	fs.BoolVar(&v.keepNewline, "keep-newline", false, "keep a trailing newline of the input")
	fs.StringVar(&v.dir, "dir", "", dirFlagUsage)
}

func (v *valueFlags) check(env *Env, name string) (fieldcrypt.Form, fieldcrypt.Binding, bool) {
	b := fieldcrypt.Binding{Table: v.table, Column: v.column, Row: v.row}
	if !b.IsZero() && (v.table == "" || v.column == "" || v.row == "") {
		fmt.Fprintf(env.Stderr, "rotate field %s: a binding needs --table, --column and --row\n", name)
		return 0, b, false
	}
	switch v.form {
	case "text":
		return fieldcrypt.Text, b, !v.hexForm || fail(env, name, "--hex goes with --form binary")
	case "binary":
		return fieldcrypt.Binary, b, true
	}
	fmt.Fprintf(env.Stderr, "rotate field %s: --form must be text or binary\n", name)
	return 0, b, false
}

func fail(env *Env, name, msg string) bool {
	fmt.Fprintf(env.Stderr, "rotate field %s: %s\n", name, msg)
	return false
}

// readValue reads all of stdin (bounded), dropping one trailing newline
// unless keep.
func readValue(env *Env, keep bool) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(env.Stdin, maxSecretInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretInput {
		return nil, fmt.Errorf("input larger than %d bytes", maxSecretInput)
	}
	if !keep {
		switch {
		case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
			b = b[:len(b)-2]
		case len(b) >= 1 && b[len(b)-1] == '\n':
			b = b[:len(b)-1]
		}
	}
	return b, nil
}

func runFieldEncrypt(_ context.Context, env *Env, args []string) int {
	var v valueFlags
	fs := newFlags(env, "field encrypt", "rotate field encrypt [--form text|binary [--hex]] [--table T --column C --row ID] < plaintext\n\n"+
		"Encrypts one value read from stdin (one trailing newline dropped; empty input is the empty\n"+
		"string) under FIELD_ENCRYPTION_KEY and writes the envelope to stdout.")
	v.register(fs)
	alg := fs.String("algorithm", "xchacha20poly1305", "xchacha20poly1305 or aes256gcm")
	if code, done := parse(fs, args); done {
		return code
	}
	form, b, ok := v.check(env, "encrypt")
	if !ok || fs.NArg() > 0 {
		return exitUsage
	}
	ring, err := fieldcrypt.LoadKeyring(fieldSource(env, v.dir))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field encrypt: %v\n", err)
		return exitUsage
	}
	if code := setAlgorithm(env, ring, *alg); code != exitOK {
		return code
	}
	pt, err := readValue(env, v.keepNewline)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field encrypt: %v\n", err)
		return exitUsage
	}
	var out []byte
	if form == fieldcrypt.Text {
		out, err = ring.EncryptText(nil, pt, b)
		out = append(out, '\n')
	} else {
		out, err = ring.Encrypt(nil, pt, b)
		if v.hexForm {
			out = fmt.Appendf(nil, "%x\n", out)
		}
	}
	clear(pt)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field encrypt: %v\n", err)
		return exitCheck
	}
	_, _ = env.Stdout.Write(out)
	return exitOK
}

func runFieldDecrypt(_ context.Context, env *Env, args []string) int {
	var v valueFlags
	fs := newFlags(env, "field decrypt", "rotate field decrypt [--form text|binary [--hex]] [--table T --column C --row ID] < envelope\n\n"+
		"Decrypts one envelope read from stdin with FIELD_ENCRYPTION_KEY or a previous key and writes\n"+
		"the plaintext to stdout. Exit 1 when it does not decrypt (the error names an unknown key id).")
	v.register(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	form, b, ok := v.check(env, "decrypt")
	if !ok || fs.NArg() > 0 {
		return exitUsage
	}
	ring, err := fieldcrypt.LoadKeyring(fieldSource(env, v.dir))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field decrypt: %v\n", err)
		return exitUsage
	}
	// A text or hex envelope may end with a newline; raw binary is kept as is.
	in, err := readValue(env, form == fieldcrypt.Binary && !v.hexForm)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field decrypt: %v\n", err)
		return exitUsage
	}
	var pt []byte
	if form == fieldcrypt.Text {
		pt, err = ring.DecryptText(nil, in, b)
	} else {
		if v.hexForm {
			var herr error
			if in, herr = hex.DecodeString(strings.TrimPrefix(string(in), `\x`)); herr != nil {
				fmt.Fprintln(env.Stderr, "rotate field decrypt: --hex input is not hex")
				return exitUsage
			}
		}
		pt, err = ring.Decrypt(nil, in, b)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field decrypt: %v\n", err)
		return exitCheck
	}
	_, _ = env.Stdout.Write(pt)
	return exitOK
}
