package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/secretenv"
)

func TestFieldEncryptDecrypt(t *testing.T) {
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k1}
	r := runCLI(t, vars, "079201001234\n", "field", "encrypt", "--table", "users", "--column", "nid", "--row", "7")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "fc1:") {
		t.Fatalf("encrypt: %+v", r)
	}
	env := strings.TrimSpace(r.stdout)
	// After rotation (k1 previous) it still decrypts, with the same binding only.
	after := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1}
	d := runCLI(t, after, r.stdout, "field", "decrypt", "--table", "users", "--column", "nid", "--row", "7")
	if d.code != 0 || d.stdout != "079201001234" {
		t.Fatalf("decrypt: %+v", d)
	}
	if d := runCLI(t, after, env, "field", "decrypt", "--table", "users", "--column", "nid", "--row", "8"); d.code != exitCheck || !strings.Contains(d.stderr, "authentication failed") {
		t.Fatalf("other row: %+v", d)
	}
	// Without k1: the error names its key id, which is its fingerprint.
	ring, _ := fieldcrypt.NewKeyring(k1)
	d = runCLI(t, map[string]string{"FIELD_ENCRYPTION_KEY": k2}, env, "field", "decrypt", "--table", "users", "--column", "nid", "--row", "7")
	if d.code != exitCheck || !strings.Contains(d.stderr, ring.Primary().String()) {
		t.Fatalf("unknown key: %+v", d)
	}
	assertNoSecret(t, d, k1, k2, "079201001234")
	// Binary form, raw and hex; the empty string is a value.
	b := runCLI(t, vars, "", "field", "encrypt", "--form", "binary")
	if b.code != 0 || len(b.stdout) != 50 || b.stdout[0] != '\xfc' {
		t.Fatalf("binary: %d bytes %+v", len(b.stdout), b.code)
	}
	if d := runCLI(t, vars, b.stdout, "field", "decrypt", "--form", "binary"); d.code != 0 || d.stdout != "" {
		t.Fatalf("binary decrypt: %+v", d)
	}
	h := runCLI(t, vars, "x", "field", "encrypt", "--form", "binary", "--hex", "--algorithm", "aes256gcm")
	if raw, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(h.stdout, `\x`))); err != nil {
		t.Fatalf("hex output %q: %v", h.stdout, err)
	} else if hd, err := fieldcrypt.ParseHeader(raw, fieldcrypt.Binary); err != nil || hd.Algorithm != fieldcrypt.AES256GCM {
		t.Fatalf("--algorithm aes256gcm sealed with %v (%v)", hd.Algorithm, err)
	}
	if d := runCLI(t, vars, `\x`+h.stdout, "field", "decrypt", "--form", "binary", "--hex"); d.code != 0 || d.stdout != "x" {
		t.Fatalf("hex: %+v %+v", h, d)
	}
	// Bad usage.
	for _, args := range [][]string{
		{"field", "encrypt", "--form", "base32"},
		{"field", "encrypt", "--table", "users"},
		{"field", "decrypt", "--form", "text", "--hex"},
		{"field", "encrypt", "--algorithm", "rot13"},
	} {
		if r := runCLI(t, vars, "v", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
	if r := runCLI(t, map[string]string{"FIELD_ENCRYPTION_KEY": "c2hvcnQ="}, "v", "field", "encrypt"); r.code != exitUsage || !strings.Contains(r.stderr, "FIELD_ENCRYPTION_KEY") {
		t.Fatalf("bad key: %+v", r)
	}
	if r := runCLI(t, vars, "plain", "field", "decrypt"); r.code != exitCheck || !strings.Contains(r.stderr, "not a fieldcrypt envelope") {
		t.Fatalf("plaintext: %+v", r)
	}
}

func TestFieldCensusAndReencrypt(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, nid bytea, email text)`); err != nil {
		t.Fatal(err)
	}
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(k1)
	var rows [][]any
	for i := 1; i <= 1500; i++ {
		id := strconv.Itoa(i)
		nid, _ := old.Encrypt(nil, []byte("n"+id), fieldcrypt.Binding{Table: "users", Column: "nid", Row: id})
		em, _ := old.EncryptText(nil, []byte("e"+id), fieldcrypt.Binding{Table: "users", Column: "email", Row: id})
		var emv any = string(em)
		if i%100 == 0 {
			emv = nil
		}
		rows = append(rows, []any{int64(i), nid, emv})
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "nid", "email"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1, "DATABASE_URL": db.URL}
	tbl := []string{"--table", "users", "--column", "nid", "--column", "email:text", "--bind"}
	cols := tbl[:len(tbl)-1] // census reads headers only: no --bind
	oldID := old.Primary().String()

	c := runCLI(t, vars, "", append([]string{"field", "census"}, cols...)...)
	if c.code != exitCheck || !strings.Contains(c.stdout, oldID) || !strings.Contains(c.stdout, "1500") ||
		!strings.Contains(c.stdout, "NOT retirable") {
		t.Fatalf("census before: %+v", c)
	}
	dry := runCLI(t, vars, "", append([]string{"field", "reencrypt", "--dry-run"}, tbl...)...)
	if dry.code != 0 || !strings.Contains(dry.stdout, `"dry_run":true`) {
		t.Fatalf("dry run: %+v", dry)
	}
	re := runCLI(t, vars, "", append([]string{"field", "reencrypt", "--batch-size", "400", "--workers", "2"}, tbl...)...)
	if re.code != 0 {
		t.Fatalf("reencrypt: %+v", re)
	}
	lines := strings.Split(strings.TrimSpace(re.stdout), "\n")
	var last struct {
		Event  string `json:"event"`
		Report struct {
			Rewrapped int64 `json:"rewrapped"`
			Previous  []struct {
				KeyID  string `json:"key_id"`
				Values int64  `json:"values"`
			} `json:"previous"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Event != "report" ||
		last.Report.Rewrapped != 1500+1485 || last.Report.Previous[0].KeyID != oldID || last.Report.Previous[0].Values != 0 {
		t.Fatalf("report: %v %s", err, lines[len(lines)-1])
	}
	if len(lines) < 3 {
		t.Fatalf("no progress lines: %s", re.stdout)
	}
	c = runCLI(t, vars, "", append([]string{"field", "census", "--json"}, cols...)...)
	var cj censusJSON
	if err := json.Unmarshal([]byte(c.stdout), &cj); c.code != 0 || err != nil || !cj.HeadersOnly || cj.NotCurrent != 0 || cj.ColumnList || len(cj.Tables) != 1 || cj.Tables[0].Table != "users" {
		t.Fatalf("census after: %v %+v", err, c)
	}
	for _, k := range cj.Keys {
		// One table is not every column: never "retirable" here.
		if k.KeyID.String() == oldID && (k.Values != 0 || k.Slot != "previous" || k.Retirable) {
			t.Fatalf("census after: the old key %+v", k)
		}
	}
	for _, col := range cj.Tables[0].Columns {
		for _, k := range col.Keys {
			if k.KeyID.String() == oldID {
				t.Fatalf("census after: %s still has values under the old key", col.Column)
			}
		}
	}
	// The progress bar.
	bar := runCLI(t, vars, "", append([]string{"field", "reencrypt", "--progress", "bar"}, tbl...)...)
	if bar.code != 0 || !strings.Contains(bar.stdout, "0 values left in this table") {
		t.Fatalf("bar: %+v", bar)
	}
	assertNoSecret(t, re, k1, k2)
	assertNoSecret(t, c, k1, k2)
	// Missing database.
	delete(vars, "DATABASE_URL")
	if r := runCLI(t, vars, "", append([]string{"field", "census"}, cols...)...); r.code != exitUsage || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Fatalf("no DSN: %+v", r)
	}
}

// TestFieldReencryptUndecryptable: a value no key opens fails the run, and a
// dry run too, naming its primary key.
func TestFieldReencryptUndecryptable(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE cards (id bigint PRIMARY KEY, pan bytea)`); err != nil {
		t.Fatal(err)
	}
	k1, k2, lost := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(k1)
	gone, _ := fieldcrypt.NewKeyring(lost)
	good, _ := old.Encrypt(nil, []byte("4111111111111111"), fieldcrypt.Binding{})
	orphan, _ := gone.Encrypt(nil, []byte("5500000000000004"), fieldcrypt.Binding{})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO cards VALUES (1, $1), (2, $2)`, good, orphan); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1, "DATABASE_URL": db.URL}
	tbl := []string{"--table", "cards", "--column", "pan"}
	for _, args := range [][]string{{"--dry-run"}, {}} {
		r := runCLI(t, vars, "", append(append([]string{"field", "reencrypt"}, args...), tbl...)...)
		if r.code != exitCheck || !strings.Contains(r.stdout, `"undecryptable":1`) {
			t.Fatalf("reencrypt %v with an undecryptable value: %+v", args, r)
		}
		assertNoSecret(t, r, k1, k2, lost, "5500000000000004")
	}
}

// TestFieldVerify: a bound value moved to another row passes reencrypt and
// census (headers only) but not verify, which names its row and exits 1.
// Bad usage (unknown column, key that is not unique, wrong form) exits 2
// without "run again".
func TestFieldVerify(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (tenant int, id bigint, nid bytea, PRIMARY KEY (tenant, id))`); err != nil {
		t.Fatal(err)
	}
	k1 := fieldcrypttest.NewKey(t)
	r, _ := fieldcrypt.NewKeyring(k1)
	for i := 1; i <= 300; i++ {
		row := strconv.Itoa(i%3) + "," + strconv.Itoa(i)
		v, _ := r.Encrypt(nil, []byte("n"), fieldcrypt.Binding{Table: "users", Column: "nid", Row: row})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO users VALUES ($1, $2, $3)`, i%3, i, v); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k1, "DATABASE_URL": db.URL}
	tbl := []string{"--table", "users", "--pk", "tenant,id", "--column", "nid"}
	v := runCLI(t, vars, "", append([]string{"field", "verify", "--bind", "--batch-size", "40"}, tbl...)...)
	if v.code != exitOK || !strings.Contains(v.stdout, "300 values decrypted") {
		t.Fatalf("verify clean: %+v", v)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE users SET nid = (SELECT nid FROM users WHERE id = 1) WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	if c := runCLI(t, vars, "", append([]string{"field", "census"}, tbl...)...); c.code != exitOK || !strings.Contains(c.stdout, "nothing decrypted") {
		t.Fatalf("census: %+v", c)
	}
	v = runCLI(t, vars, "", append([]string{"field", "verify", "--bind"}, tbl...)...)
	if v.code != exitCheck || !strings.Contains(v.stdout, "undecryptable: users tenant,id=1,4 column nid") {
		t.Fatalf("verify moved value: %+v", v)
	}
	j := runCLI(t, vars, "", append([]string{"field", "verify", "--bind", "--json"}, tbl...)...)
	if j.code != exitCheck || !strings.Contains(j.stdout, `"undecryptable": 1`) || !strings.Contains(j.stdout, `"row": "1,4"`) || !strings.Contains(j.stdout, `"ok": false`) {
		t.Fatalf("verify --json: %+v", j)
	}
	for _, bad := range [][]string{
		{"--table", "users", "--pk", "id", "--column", "nid"},
		{"--table", "users", "--pk", "tenant,id", "--column", "nope"},
		{"--table", "users", "--pk", "tenant,id", "--column", "nid:text"},
		{"--table", "nope", "--pk", "tenant,id", "--column", "nid"},
	} {
		for _, verb := range []string{"verify", "reencrypt"} {
			r := runCLI(t, vars, "", append([]string{"field", verb}, bad...)...)
			if r.code != exitUsage || strings.Contains(r.stderr, "run again") {
				t.Errorf("%s %v: %+v", verb, bad, r)
			}
		}
	}
}

// TestFieldEncryptDecryptLimits: encrypt | decrypt round-trips at every size
// up to the limit its help states, in every form and with both algorithms;
// one byte more is bad usage (exit 2) naming the limit.
func TestFieldEncryptDecryptLimits(t *testing.T) {
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": fieldcrypttest.NewKey(t)}
	h := runCLI(t, vars, "", "field", "encrypt", "--help")
	if h.code != 0 || !strings.Contains(h.stdout, "65536 bytes") {
		t.Fatalf("encrypt --help does not state the limit: %+v", h)
	}
	if h := runCLI(t, vars, "", "field", "decrypt", "--help"); !strings.Contains(h.stdout, "65536 bytes") {
		t.Fatalf("decrypt --help does not state the limit: %+v", h)
	}
	const max = 64 << 10
	for _, form := range [][]string{{"--form", "text"}, {"--form", "binary"}, {"--form", "binary", "--hex"}} {
		for _, alg := range []string{"xchacha20poly1305", "aes256gcm"} {
			for _, n := range []int{0, 1, max - 1, max} {
				pt := strings.Repeat("a", n)
				e := runCLI(t, vars, pt+"\n", append([]string{"field", "encrypt", "--algorithm", alg}, form...)...)
				if e.code != 0 {
					t.Fatalf("%v %s encrypt %d bytes: %d %s", form, alg, n, e.code, e.stderr)
				}
				d := runCLI(t, vars, e.stdout, append([]string{"field", "decrypt"}, form...)...)
				if d.code != 0 || d.stdout != pt {
					t.Fatalf("%v %s decrypt %d bytes: %d %s", form, alg, n, d.code, d.stderr)
				}
			}
		}
		over := runCLI(t, vars, strings.Repeat("a", max+1), append([]string{"field", "encrypt"}, form...)...)
		if over.code != exitUsage || !strings.Contains(over.stderr, "larger than 65536 bytes") {
			t.Fatalf("%v over the limit: %+v", form, over)
		}
	}
	big := "fc1:" + strings.Repeat("A", 87453)
	if d := runCLI(t, vars, big, "field", "decrypt"); d.code != exitUsage || !strings.Contains(d.stderr, "envelope larger than") {
		t.Fatalf("oversized envelope: %+v", d.code)
	}
}

// TestFieldColumnsFile: with --columns, census, reencrypt and verify cover
// every listed column, and a previous key is called retirable only when no
// listed column holds a value under it: one table rewrapped is not enough.
func TestFieldColumnsFile(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, phone text, nid bytea);
		CREATE SCHEMA billing; CREATE TABLE billing.cards (tenant int, id int, pan bytea, PRIMARY KEY (tenant, id))`); err != nil {
		t.Fatal(err)
	}
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(k1)
	for i := 1; i <= 200; i++ {
		id := strconv.Itoa(i)
		ph, _ := old.EncryptText(nil, []byte("+84"+id), fieldcrypt.Binding{Table: "users", Column: "phone", Row: id})
		nid, _ := old.Encrypt(nil, []byte("n"+id), fieldcrypt.Binding{})
		pan, _ := old.Encrypt(nil, []byte("4111"+id), fieldcrypt.Binding{Table: "cards", Column: "pan", Row: "7," + id})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO users VALUES ($1, $2, $3)`, i, string(ph), nid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO billing.cards VALUES (7, $1, $2)`, i, pan); err != nil {
			t.Fatal(err)
		}
	}
	file := t.TempDir() + "/columns"
	list := "# every encrypted column\nusers phone text bound\nusers nid binary unbound id\nbilling.cards pan binary bound tenant,id\n"
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1, "DATABASE_URL": db.URL}
	oldID := old.Primary().String()
	// One column rewrapped: its census says 0 values for this table only,
	// the list census says NOT retirable.
	if r := runCLI(t, vars, "", "field", "reencrypt", "--table", "users", "--column", "phone:text", "--bind", "--progress", "bar"); r.code != exitOK || !strings.Contains(r.stdout, "this table") {
		t.Fatalf("users.phone: %+v", r)
	}
	c := runCLI(t, vars, "", "field", "census", "--columns", file)
	if c.code != exitCheck || !strings.Contains(c.stdout, "previous key "+oldID+": ") || !strings.Contains(c.stdout, "NOT retirable") || strings.Contains(c.stdout, ": retirable") {
		t.Fatalf("census with cards left: %+v", c)
	}
	// docs/rotation-procedures.md steps 4-5, as written.
	if dry := runCLI(t, vars, "", "field", "reencrypt", "--columns", file, "--dry-run"); dry.code != exitOK || strings.Count(dry.stdout, `"dry_run":true`) != 2 {
		t.Fatalf("dry run --columns: %+v", dry)
	}
	re := runCLI(t, vars, "", "field", "reencrypt", "--columns", file, "--batch-size", "50")
	if re.code != exitOK || !strings.Contains(re.stdout, `"event":"census"`) || !strings.Contains(re.stdout, `"retirable":true`) {
		t.Fatalf("reencrypt --columns: %+v", re)
	}
	c = runCLI(t, vars, "", "field", "census", "--columns", file)
	if c.code != exitOK || !strings.Contains(c.stdout, "previous key "+oldID+": 0 values in the 3 listed columns: retirable") {
		t.Fatalf("census after: %+v", c)
	}
	if v := runCLI(t, vars, "", "field", "verify", "--columns", file); v.code != exitOK || strings.Count(v.stdout, "0 undecryptable") != 2 {
		t.Fatalf("verify --columns: %+v", v)
	}
	// Bad usage: --columns with --table; a bad file.
	if r := runCLI(t, vars, "", "field", "census", "--columns", file, "--table", "users"); r.code != exitUsage || !strings.Contains(r.stderr, "drop --table") {
		t.Fatalf("clash: %+v", r)
	}
	_ = os.WriteFile(file, []byte("users phone rot13 bound\n"), 0o600)
	if r := runCLI(t, vars, "", "field", "verify", "--columns", file); r.code != exitUsage || !strings.Contains(r.stderr, "line 1") {
		t.Fatalf("bad file: %+v", r)
	}
}

// TestFieldReencryptAudit: a re-encryption's audit record names the columns
// and the keys the values move from and to, so that the ticket's checklist
// can be filled from the audit log.
func TestFieldReencryptAudit(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, nid bytea)`); err != nil {
		t.Fatal(err)
	}
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(k1)
	nid, _ := old.Encrypt(nil, []byte("n1"), fieldcrypt.Binding{Table: "users", Column: "nid", Row: "1"})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO users VALUES (1, $1)`, nid); err != nil {
		t.Fatal(err)
	}
	newRing, _ := fieldcrypt.NewKeyring(k2)
	oldID, newID := old.Primary().String(), newRing.Primary().String()
	log := t.TempDir() + "/audit.jsonl"
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1, "DATABASE_URL": db.URL,
		"ROTATE_AUDIT_LOG": log, "ROTATE_TICKET": "GOO-121"}
	re := runCLI(t, vars, "", "field", "reencrypt", "--table", "users", "--column", "nid", "--bind")
	if re.code != exitOK {
		t.Fatalf("reencrypt: %+v", re)
	}
	recs, err := readAudit(log)
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit: %v %+v", err, recs)
	}
	r := recs[0]
	if r.Command != "field reencrypt" || r.Target != "columns users(nid)" ||
		r.Before["FIELD_ENCRYPTION_KEY"] != oldID || r.After["FIELD_ENCRYPTION_KEY"] != newID {
		t.Fatalf("record %+v", r)
	}
	c := runCLI(t, vars, "", "checklist", "--from-audit", "field", "prod")
	if c.code != exitOK || !strings.Contains(c.stdout, "`"+newID+"`") {
		t.Fatalf("checklist --from-audit: %+v", c)
	}
	line, _ := os.ReadFile(log)
	for _, k := range []string{k1, k2} {
		if strings.Contains(string(line), k) {
			t.Fatalf("audit line holds a key: %s", line)
		}
	}
}

// TestFieldReencryptCancelled (issue 15 point 9): a cancelled run exits 3
// ("run again to resume"), not 1 like values that remain; with --json the
// document still says what was done (nothing) and "ok": false.
func TestFieldReencryptCancelled(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE cards (id bigint PRIMARY KEY, pan bytea)`); err != nil {
		t.Fatal(err)
	}
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	old, _ := fieldcrypt.NewKeyring(k1)
	v, _ := old.Encrypt(nil, []byte("4111111111111111"), fieldcrypt.Binding{})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO cards VALUES (1, $1)`, v); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FIELD_ENCRYPTION_KEY": k2, "FIELD_ENCRYPTION_KEY_PREVIOUS": k1, "DATABASE_URL": db.URL}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Vars: secretenv.Map(vars)}
	code := run(cancelled, []string{"field", "reencrypt", "--table", "cards", "--column", "pan", "--json"}, env)
	if code != exitRun || !strings.Contains(errb.String(), "run again to resume") {
		t.Fatalf("cancelled: exit %d (want %d), stderr %q", code, exitRun, errb.String())
	}
	assertJSONStyle(t, "cancelled reencrypt", out.String())
	var doc reencryptJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Tables) != 0 || doc.OK {
		t.Fatalf("cancelled --json: %v %s", err, out.String())
	}
}
