package main

import (
	"context"
	"encoding/hex"
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
	register(command{name: "field", summary: "field encryption: stage, promote, reencrypt, verify, census, retire; encrypt/decrypt one value", run: runField})
}

var fieldSubs = map[string]command{
	"census":    {name: "census", summary: "values per key id per column (and NULLs), read from headers in SQL", run: runFieldCensus},
	"verify":    {name: "verify", summary: "decrypt every value with its binding; list the ones that do not, by row", run: runFieldVerify},
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

// Exit codes of the field commands, shared with examples/reencrypt-job:
// exitOK (0) done / every value as it should be; exitCheck (1) values remain
// on other keys or do not decrypt (listed); exitUsage (2) bad usage or
// configuration (nothing was read or written); exitRun (3) the run failed or
// was cancelled, or another job holds the table: run again to resume.
const exitRun = 3

// tableFlags are shared by census, verify and reencrypt.
type tableFlags struct {
	t       pgstore.Table
	cols    columnFlags
	urlFile string
	columns string // a column-list file (pgstore.ColumnList)
	fs      *flag.FlagSet
	list    pgstore.ColumnList
	dir     string // --dir: keys from a secrets directory
}

// register adds the table flags; bind says whether the command reads
// bindings (census reads headers only and has no --bind).
func (f *tableFlags) register(fs *flag.FlagSet, bind bool) {
	fs.StringVar(&f.t.Schema, "schema", "", "schema of the table (default: search_path)")
	fs.StringVar(&f.t.Name, "table", "", "table holding encrypted columns (required)")
	fs.StringVar(&f.t.PK, "pk", "id", "row key: a unique NOT NULL column, or `a,b` for a composite key")
	fs.Var(&f.cols, "column", "encrypted column: `name` (bytea) or name:text; repeat for several (required)")
	if bind {
		fs.BoolVar(&f.t.Bind, "bind", false, "values are bound to (table, column, row key)")
	}
	fs.StringVar(&f.urlFile, "database-url-file", "", "file holding the DSN (default: $DATABASE_URL)")
	fs.StringVar(&f.columns, "columns", "", "`file` listing every encrypted column (table column form binding [row key] per line), instead of --table/--column")
	f.fs = fs
	fs.StringVar(&f.dir, "dir", "", dirFlagUsage)
}

// tables returns the tables to work on: those of the --columns file, or
// the one of --table and --column.
func (f *tableFlags) tables(env *Env, name string) (pgstore.ColumnList, bool) {
	if f.columns != "" {
		var clash []string
		f.fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "schema", "table", "pk", "column", "bind":
				clash = append(clash, "--"+fl.Name)
			}
		})
		if len(clash) > 0 {
			fmt.Fprintf(env.Stderr, "rotate field %s: --columns lists the tables and columns: drop %s\n", name, strings.Join(clash, ", "))
			return nil, false
		}
		list, err := pgstore.ReadColumnList(f.columns)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate field %s: --columns: %v\n", name, err)
			return nil, false
		}
		return list, true
	}
	f.t.Columns = f.cols
	if f.t.Name == "" || len(f.t.Columns) == 0 {
		fmt.Fprintf(env.Stderr, "rotate field %s: missing required flag --columns FILE, or --table T and at least one --column C\n\n", name)
		f.fs.Usage()
		return nil, false
	}
	return pgstore.ColumnList{f.t}, true
}

// runCode maps an error of package pgstore to an exit code and prints it.
func runCode(env *Env, name string, err error) int {
	if errors.Is(err, pgstore.ErrConfig) {
		fmt.Fprintf(env.Stderr, "rotate field %s: %v\n", name, err)
		return exitUsage
	}
	if errors.Is(err, pgstore.ErrBusy) {
		fmt.Fprintf(env.Stderr, "rotate field %s: %v\n", name, err)
		return exitRun
	}
	fmt.Fprintf(env.Stderr, "rotate field %s: %v (run again to resume)\n", name, err)
	return exitRun
}

// open validates the flags, loads the keyring and connects.
func (f *tableFlags) open(ctx context.Context, env *Env, name string, conns int) (*fieldcrypt.Keyring, *pgxpool.Pool, int) {
	list, ok := f.tables(env, name)
	if !ok {
		return nil, nil, exitUsage
	}
	f.list = list
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
		return nil, nil, exitRun
	}
	return ring, pool, exitOK
}

func runFieldCensus(ctx context.Context, env *Env, args []string) int {
	var f tableFlags
	fs := newFlags(env, "field census", "rotate field census (--columns FILE | --table T [--pk id] --column C[:text]...)\n\n"+
		"Counts, in SQL and without decrypting, the values of each column under each key id (the key's\n"+
		"fingerprint), NULLs and values that are not envelopes. It reads headers only: a value counted\n"+
		"under a key only names it; rotate field verify decrypts every value. Keys come from\n"+
		"FIELD_ENCRYPTION_KEY, FIELD_ENCRYPTION_KEY_NEXT (staged, never retirable) and\n"+
		"FIELD_ENCRYPTION_KEY_PREVIOUS. A previous key is called retirable only with --columns, when no\n"+
		"listed column holds a value under it. Exit 0 when every value names the primary key, 1\n"+
		"otherwise, 2 bad usage, 3 the census could not run.")
	f.register(fs, false)
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	asJSON := of.json(env)
	ring, pool, code := f.open(ctx, env, "census", 2)
	if code != exitOK {
		return code
	}
	defer pool.Close()
	lc, err := pgstore.TakeListCensus(ctx, pool, ring, f.list)
	if err != nil {
		if errors.Is(err, pgstore.ErrConfig) {
			fmt.Fprintf(env.Stderr, "rotate field census: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(env.Stderr, "rotate field census: %v\n", err)
		return exitRun
	}
	if asJSON {
		writeJSON(env.Stdout, censusDoc("field census", lc, f.columns != ""))
	} else {
		printCensus(env, ring, lc, f.columns != "")
	}
	if lc.NotUpToDate() > 0 {
		return exitCheck
	}
	return exitOK
}

// printCensus prints the census table and what it says about each key:
// with a column list, whether it is retirable; for one table, what that
// table holds (never "retirable": other tables may still use the key).
func printCensus(env *Env, ring *fieldcrypt.Keyring, lc *pgstore.ListCensus, all bool) {
	fmt.Fprintf(env.Stdout, "%-28s %-16s %-9s %12s\n", "COLUMN", "KEY ID", "ROLE", "VALUES")
	for _, c := range lc.Tables {
		for _, col := range c.Columns {
			name := col.Column
			if all {
				name = c.Table + "." + col.Column
			}
			for _, k := range col.Keys {
				fmt.Fprintf(env.Stdout, "%-28s %-16s %-9s %12d\n", name, k.KeyID, k.Slot, k.Values)
			}
			if col.NotEnvelope > 0 {
				fmt.Fprintf(env.Stdout, "%-28s %-16s %-9s %12d\n", name, "-", "invalid", col.NotEnvelope)
			}
			fmt.Fprintf(env.Stdout, "%-28s %-16s %-9s %12d\n", name, "-", "null", col.Nulls)
		}
	}
	where := lc.Tables[0].Table
	if all {
		where = fmt.Sprintf("the %d listed columns", lc.Columns)
	}
	for _, k := range lc.Keys {
		switch {
		case k.Slot == "next":
			fmt.Fprintf(env.Stdout, "next key %s: %d values in %s (staged: never retirable)\n", k.KeyID, k.Values, where)
		case k.Slot != "previous":
		case k.Values > 0:
			fmt.Fprintf(env.Stdout, "previous key %s: %d values in %s, NOT retirable: run rotate field reencrypt\n", k.KeyID, k.Values, where)
		case all:
			fmt.Fprintf(env.Stdout, "previous key %s: 0 values in %s: retirable once rotate field verify passes\n", k.KeyID, where)
		default:
			fmt.Fprintf(env.Stdout, "previous key %s: 0 values in %s (this table only: a key is retirable when no encrypted column holds it: rotate field census --columns FILE)\n", k.KeyID, where)
		}
	}
	fmt.Fprintln(env.Stdout, "(key ids read from headers, nothing decrypted: rotate field verify decrypts every value)")
}

func runFieldReencrypt(ctx context.Context, env *Env, args []string) int {
	var f tableFlags
	var opt pgstore.ReencryptOptions
	fs := newFlags(env, "field reencrypt", "rotate field reencrypt (--columns FILE | --table T [--pk id] --column C[:text]... [--bind]) [flags]\n\n"+
		"Rewraps, online, every value not under FIELD_ENCRYPTION_KEY (old keys in\n"+
		"FIELD_ENCRYPTION_KEY_PREVIOUS). Concurrent writes are never overwritten (compare-and-swap).\n"+
		"Interrupted, it resumes from its checkpoint when run again. Several processes (on several\n"+
		"machines) run with the same --job share the work. Progress: a bar on a terminal, JSON lines\n"+
		"otherwise (--progress). With --json, one document on stdout at the end and the progress on\n"+
		"stderr (a bar on a terminal, JSON lines with --progress json, else none). Exit 0 when every value is under the primary key, 1 when values remain\n"+
		"(undecryptable ones are listed), 2 bad usage or configuration, 3 the run failed, was\n"+
		"cancelled or another job holds the table (run again to resume). --dry-run exits 1 only for\n"+
		"undecryptable values.")
	f.register(fs, true)
	fs.IntVar(&opt.BatchSize, "batch-size", 1000, "rows per batch")
	fs.IntVar(&opt.Workers, "workers", 1, "parallel workers in this process; processes run with the same --job share it")
	fs.IntVar(&opt.Ranges, "ranges", 0, "parts the key range is split into when the job starts (default max(16, 4 x workers))")
	fs.DurationVar(&opt.Lease, "lease", 30*time.Second, "how long a part stays held by a process that stopped renewing it")
	fs.Float64Var(&opt.RowsPerSecond, "rate", 0, "cap on rows per second (0: none)")
	fs.DurationVar(&opt.Pause, "pause", 0, "pause after each batch")
	fs.BoolVar(&opt.DryRun, "dry-run", false, "read and decrypt, write nothing")
	fs.StringVar(&opt.Job, "job", "", "checkpoint name (default: from table, columns and primary key id)")
	progress := fs.String("progress", "auto", "auto, bar or json (a stream of JSON lines: {\"event\":\"progress\"|\"report\"|\"census\", …})")
	alg := fs.String("algorithm", "xchacha20poly1305", "for new envelopes: xchacha20poly1305 or aes256gcm")
	migrate := fs.Bool("migrate-plaintext", false, "treat values that are not envelopes as plaintext and encrypt them (migration only)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	asJSON := of.json(env)
	if *progress != "auto" && *progress != "bar" && *progress != "json" {
		fmt.Fprintln(env.Stderr, "rotate field reencrypt: --progress must be auto, bar or json")
		return exitUsage
	}
	ring, pool, code := f.open(ctx, env, "reencrypt", max(opt.Workers, 1)+2) // workers, the count and the heartbeat (see pgstore.DB)
	if code != exitOK {
		return code
	}
	defer pool.Close()
	if ring, code = withAlgorithm(env, ring, *alg); code != exitOK {
		return code
	}
	if *migrate {
		ring = ring.WithLegacy(fieldcrypt.Plaintext)
	}
	auditReencrypt(env, ring, f.list)
	// The progress: a bar (on stderr), a stream of JSON lines, or none.
	// Without --json the stream is the output (stdout); with --json it
	// goes to stderr and the document alone to stdout.
	bar := *progress == "bar" || (*progress == "auto" && isTerminal(env.Stdout) && !asJSON) || (*progress == "auto" && asJSON && isTerminal(env.Stderr))
	stream := !bar && (!asJSON || *progress == "json")
	sw := env.Stdout
	if asJSON {
		sw = env.Stderr
	}
	opt.Progress = func(p pgstore.Progress) {
		switch {
		case bar:
			fmt.Fprintf(env.Stderr, "\r%s", progressBar(p))
			if p.Done {
				fmt.Fprintln(env.Stderr)
			}
		case stream:
			jsonLine(sw, newProgressEvent(p))
		}
	}
	doc := reencryptJSON{Command: "field reencrypt", DryRun: opt.DryRun, Primary: ring.Primary(), Tables: []reencryptTable{}, OK: true}
	code = exitOK
	for _, t := range f.list {
		o := opt
		if o.Job != "" && len(f.list) > 1 {
			o.Job += " " + t.Name
		}
		rep, err := pgstore.Reencrypt(ctx, pool, ring, t, o)
		if err != nil {
			if bar {
				fmt.Fprintln(env.Stderr)
			}
			if asJSON {
				doc.OK = false
				writeJSON(env.Stdout, doc) // the tables done so far
			}
			return runCode(env, "reencrypt", err)
		}
		row := reencryptRow(t, rep)
		switch {
		case asJSON:
			doc.Tables = append(doc.Tables, row)
		case bar:
			printFailures(env, t, rep.Failures, rep.Undecryptable)
			fmt.Fprintln(env.Stdout, rep.Summary())
		}
		if stream {
			jsonLine(sw, struct {
				Event  string         `json:"event"`
				Report reencryptTable `json:"report"` // its summary is report.summary
			}{"report", row})
		}
		// A dry run expects values to remain; values no key opens are not.
		if rep.Undecryptable > 0 || !rep.DryRun && rep.Census.NotUpToDate() > 0 {
			code, doc.OK = exitCheck, false
		}
	}
	if f.columns != "" && !opt.DryRun {
		lc, err := pgstore.TakeListCensus(ctx, pool, ring, f.list)
		if err != nil {
			if asJSON {
				doc.OK = false
				writeJSON(env.Stdout, doc)
			}
			return runCode(env, "reencrypt", err)
		}
		cd := censusDoc("field reencrypt", lc, true)
		switch {
		case asJSON:
			doc.Census = &cd
		case bar:
			fmt.Fprintln(env.Stdout, lc.Summary())
		}
		if stream {
			jsonLine(sw, struct {
				Event   string     `json:"event"`
				Census  censusJSON `json:"census"`
				Summary string     `json:"summary"`
			}{"census", cd, lc.Summary()})
		}
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	return code
}

// auditReencrypt records what a re-encryption changes: the columns (target)
// and the keys their values move from (the previous keys) and to (the
// primary key), so that "rotate checklist --from-audit field" finds the new
// key's fingerprint.
func auditReencrypt(env *Env, ring *fieldcrypt.Keyring, list pgstore.ColumnList) {
	var target []string
	for _, t := range list {
		name := t.Name
		if t.Schema != "" {
			name = t.Schema + "." + t.Name
		}
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = c.Name
		}
		target = append(target, name+"("+strings.Join(cols, ",")+")")
	}
	env.auditTarget("columns " + strings.Join(target, " "))
	var prev []string
	for _, id := range ring.Previous() {
		prev = append(prev, id.String())
	}
	env.auditFingerprint("FIELD_ENCRYPTION_KEY", strings.Join(prev, ","), ring.Primary().String())
}

// printFailures lists undecryptable values by row.
func printFailures(env *Env, t pgstore.Table, fs []pgstore.Failure, n int64) {
	for _, fl := range fs {
		fmt.Fprintf(env.Stdout, "undecryptable: %s %s=%s column %s: %v\n", t.Name, t.PK, fl.Row, fl.Column, fl.Err)
	}
	if n > int64(len(fs)) {
		fmt.Fprintf(env.Stdout, "… and %d more undecryptable values in %s\n", n-int64(len(fs)), t.Name)
	}
}

func runFieldVerify(ctx context.Context, env *Env, args []string) int {
	var f tableFlags
	var opt pgstore.VerifyOptions
	fs := newFlags(env, "field verify", "rotate field verify (--columns FILE | --table T [--pk id] --column C[:text]... [--bind])\n\n"+
		"Decrypts every value of the columns, in row-key order, with its binding (--bind), using\n"+
		"FIELD_ENCRYPTION_KEY, _NEXT and _PREVIOUS, and lists by row the values that do not decrypt:\n"+
		"not envelopes, unknown keys, tampered, forged or moved from another row. Exit 0 when every\n"+
		"value decrypts, 1 otherwise, 2 bad usage or configuration, 3 the pass could not run.")
	f.register(fs, true)
	fs.IntVar(&opt.BatchSize, "batch-size", 1000, "rows per batch")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	asJSON := of.json(env)
	ring, pool, code := f.open(ctx, env, "verify", 2)
	if code != exitOK {
		return code
	}
	defer pool.Close()
	code = exitOK
	doc := verifyJSON{Command: "field verify", Tables: []*pgstore.VerifyReport{}, OK: true}
	for _, t := range f.list {
		rep, err := pgstore.Verify(ctx, pool, ring, t, opt)
		if err != nil {
			if errors.Is(err, pgstore.ErrConfig) {
				fmt.Fprintf(env.Stderr, "rotate field verify: %v\n", err)
				return exitUsage
			}
			fmt.Fprintf(env.Stderr, "rotate field verify: %v\n", err)
			return exitRun
		}
		if asJSON {
			if rep.Keys == nil {
				rep.Keys = []pgstore.KeyCount{}
			}
			doc.Tables = append(doc.Tables, rep)
		} else {
			printFailures(env, t, rep.Failures, rep.Undecryptable)
			fmt.Fprintln(env.Stdout, rep.Summary())
		}
		if !rep.OK() {
			code, doc.OK = exitCheck, false
		}
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	return code
}

// withAlgorithm returns ring set to encrypt with the --algorithm named alg.
func withAlgorithm(env *Env, ring *fieldcrypt.Keyring, alg string) (*fieldcrypt.Keyring, int) {
	switch alg {
	case "xchacha20poly1305":
		return ring, exitOK
	case "aes256gcm":
		r, err := ring.WithAlgorithm(fieldcrypt.AES256GCM)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate field: %v\n", err)
			return nil, exitUsage
		}
		return r, exitOK
	}
	fmt.Fprintf(env.Stderr, "rotate field: unknown --algorithm %q (xchacha20poly1305 or aes256gcm)\n", alg)
	return nil, exitUsage
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
	if p.Waiting != "" {
		// Another process holds the last parts: say so rather than freeze.
		return fmt.Sprintf("[%s%s] %3.0f%% waiting: %s ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.Waiting)
	}
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

// maxFieldPlaintext is the largest value rotate field encrypt takes and
// rotate field decrypt returns; decrypt accepts any envelope of such a
// value, in every form.
const maxFieldPlaintext = 64 << 10

// envelopeMax is the longest envelope (XChaCha20-Poly1305: 50 bytes of
// overhead) of a maxFieldPlaintext value, as decrypt reads it in form f
// (without the trailing newline it drops).
func envelopeMax(f fieldcrypt.Form, hexForm bool) int {
	raw := 50 + maxFieldPlaintext
	switch {
	case f == fieldcrypt.Text:
		return len(fieldcrypt.TextPrefix) + (raw+2)/3*4 // 87,452
	case hexForm:
		return 2 + 2*raw // an optional \x, then 131,172 hex digits
	}
	return raw // 65,586
}

// readValue reads stdin, at most limit bytes once one trailing newline is
// dropped (unless keep).
func readValue(env *Env, keep bool, limit int, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(env.Stdin, int64(limit)+3))
	if err != nil {
		return nil, err
	}
	if !keep {
		switch {
		case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
			b = b[:len(b)-2]
		case len(b) >= 1 && b[len(b)-1] == '\n':
			b = b[:len(b)-1]
		}
	}
	if len(b) > limit {
		clear(b)
		return nil, fmt.Errorf("%s larger than %d bytes", what, limit)
	}
	return b, nil
}

func runFieldEncrypt(_ context.Context, env *Env, args []string) int {
	var v valueFlags
	fs := newFlags(env, "field encrypt", "rotate field encrypt [--form text|binary [--hex]] [--table T --column C --row ID] < plaintext\n\n"+
		"Encrypts one value read from stdin (one trailing newline dropped; empty input is the empty\n"+
		"string) under FIELD_ENCRYPTION_KEY and writes the envelope to stdout. The value may be up to\n"+
		"65536 bytes (64 KiB); rotate field decrypt takes back every envelope encrypt writes. Exit 0\n"+
		"done, 1 it failed, 2 bad usage (an input over the limit).")
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
	var code int
	if ring, code = withAlgorithm(env, ring, *alg); code != exitOK {
		return code
	}
	pt, err := readValue(env, v.keepNewline, maxFieldPlaintext, "value")
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
		"Decrypts one envelope read from stdin with FIELD_ENCRYPTION_KEY, _NEXT or a previous key and\n"+
		"writes the plaintext to stdout. It takes the envelope of any value up to 65536 bytes (64 KiB)\n"+
		"in every form: up to 87,452 characters of text form, 65,586 raw bytes, 131,172 hex digits.\n"+
		"Exit 1 when it does not decrypt (the error names an unknown key id), 2 bad usage.")
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
	in, err := readValue(env, form == fieldcrypt.Binary && !v.hexForm, envelopeMax(form, v.hexForm), "envelope")
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
