package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/secretenv"
)

func keyText(t *testing.T) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// setup creates users(id bigint, nid bytea, email text) with n rows sealed
// under oldK, bound to their rows.
func setup(t *testing.T, n int, oldK string) *testsvc.DB {
	t.Helper()
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE users (id bigint PRIMARY KEY, nid bytea, email text)`); err != nil {
		t.Fatal(err)
	}
	r, _ := fieldcrypt.NewKeyring(oldK)
	rows := make([][]any, n)
	for i := range rows {
		id := strconv.Itoa(i + 1)
		nid, _ := r.Encrypt(nil, []byte("nid-"+id), fieldcrypt.Binding{Table: "users", Column: "nid", Row: id})
		em, _ := r.EncryptText(nil, []byte("mail-"+id), fieldcrypt.Binding{Table: "users", Column: "email", Row: id})
		rows[i] = []any{int64(i + 1), nid, string(em)}
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "nid", "email"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return db
}

func verify(t *testing.T, db *testsvc.DB, r *fieldcrypt.Keyring, n int) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT id::text, nid, email FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id, email string
		var nid []byte
		if err := rows.Scan(&id, &nid, &email); err != nil {
			t.Fatal(err)
		}
		got, err := r.Decrypt(nil, nid, fieldcrypt.Binding{Table: "users", Column: "nid", Row: id})
		if err != nil || string(got) != "nid-"+id {
			t.Fatalf("row %s nid: %q %v", id, got, err)
		}
		got, err = r.DecryptText(nil, []byte(email), fieldcrypt.Binding{Table: "users", Column: "email", Row: id})
		if err != nil || string(got) != "mail-"+id {
			t.Fatalf("row %s email: %q %v", id, got, err)
		}
		if h, _ := fieldcrypt.ParseHeader(nid, fieldcrypt.Binary); h.KeyID != r.Primary() {
			t.Fatalf("row %s not under the primary key", id)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("%d rows, want %d", seen, n)
	}
}

type event struct {
	Event   string  `json:"event"`
	Scanned int64   `json:"scanned"`
	Done    bool    `json:"done"`
	Summary string  `json:"summary"`
	Report  *report `json:"report"`
}

// retire is report.previous with Safe = no value left.
type retire struct {
	KeyID  string `json:"key_id"`
	Values int64  `json:"values"`
	Safe   bool
}

type report struct {
	Resumed       bool     `json:"resumed"`
	Previous      []retire `json:"previous"`
	TakenOver     int64    `json:"taken_over"`
	Undecryptable int64    `json:"undecryptable"`
	Failures      []struct {
		Row, Column, Error string
	} `json:"failures"`
}

func events(t *testing.T, out []byte) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if e.Report != nil {
			for i := range e.Report.Previous {
				e.Report.Previous[i].Safe = e.Report.Previous[i].Values == 0
			}
		}
		evs = append(evs, e)
	}
	return evs
}

func TestRunInProcess(t *testing.T) {
	oldK, newK := keyText(t), keyText(t)
	db := setup(t, 3000, oldK)
	src := secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": newK, "FIELD_ENCRYPTION_KEY_PREVIOUS": oldK, "DATABASE_URL": db.URL})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-table", "users", "-column", "nid", "-column", "email:text", "-bind", "-workers", "2", "-batch-size", "500"}, src, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	evs := events(t, stdout.Bytes())
	last := evs[len(evs)-1]
	if last.Event != "report" || len(last.Report.Previous) != 1 || !last.Report.Previous[0].Safe || len(evs) < 6 {
		t.Fatalf("events: %+v", evs)
	}
	oldID := mustRing(t, oldK).Primary().String()
	if last.Report.Previous[0].KeyID != oldID || !strings.Contains(stderr.String(), "previous key "+oldID+": 0 values left in this table") {
		t.Fatalf("report: %+v / %s", last, stderr.String())
	}
	for _, k := range []string{oldK, newK} {
		if strings.Contains(stdout.String()+stderr.String(), k) {
			t.Fatal("output reveals a key")
		}
	}
	verify(t, db, mustRing(t, newK), 3000)
}

func mustRing(t *testing.T, k string) *fieldcrypt.Keyring {
	r, err := fieldcrypt.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUsageAndUndecryptable(t *testing.T) {
	oldK, newK, lost := keyText(t), keyText(t), keyText(t)
	db := setup(t, 200, oldK)
	src := secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": newK, "FIELD_ENCRYPTION_KEY_PREVIOUS": oldK, "DATABASE_URL": db.URL})
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-table", "users"}, src, &stdout, &stderr); code != 2 {
		t.Fatalf("missing -column: exit %d", code)
	}
	bad := secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": "short", "DATABASE_URL": db.URL})
	stderr.Reset()
	if code := run(context.Background(), []string{"-table", "users", "-column", "nid"}, bad, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "FIELD_ENCRYPTION_KEY") {
		t.Fatalf("bad key: exit %d %s", code, stderr.String())
	}
	// Configuration the database refuses is bad usage too: exit 2, not
	// "run again to resume".
	for _, args := range [][]string{
		{"-table", "users", "-column", "nope"},
		{"-table", "users", "-column", "nid:text"},
		{"-table", "users", "-pk", "nid", "-column", "email:text"},
		{"-table", "nope", "-column", "nid"},
	} {
		stderr.Reset()
		if code := run(context.Background(), args, src, &stdout, &stderr); code != 2 || strings.Contains(stderr.String(), "run again") {
			t.Errorf("%v: exit %d %s", args, code, stderr.String())
		}
	}
	// A row under a key nobody has: reported with its primary key, exit 1.
	r, _ := fieldcrypt.NewKeyring(lost)
	v, _ := r.Encrypt(nil, []byte("x"), fieldcrypt.Binding{})
	if _, err := db.Pool.Exec(context.Background(), `UPDATE users SET nid = $1 WHERE id = 77`, v); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	code := run(context.Background(), []string{"-table", "users", "-column", "nid", "-bind"}, src, &stdout, &stderr)
	evs := events(t, stdout.Bytes())
	last := evs[len(evs)-1]
	if code != 1 || last.Report == nil || last.Report.Undecryptable != 1 || last.Report.Failures[0].Row != "77" {
		t.Fatalf("exit %d, %+v", code, last.Report)
	}
	if !last.Report.Previous[0].Safe {
		t.Fatal("old key should be retirable: the failing row is under the lost key")
	}
}

// TestBinaryKilledAndResumed builds the job, runs it as a process against the
// real Postgres, stops it with SIGTERM midway, and runs it again: the second
// run resumes and ends with zero rows on the old key and no row lost.
func TestBinaryKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "reencrypt-job")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	oldK, newK := keyText(t), keyText(t)
	db := setup(t, 4000, oldK)
	env := append(os.Environ(), "FIELD_ENCRYPTION_KEY="+newK, "FIELD_ENCRYPTION_KEY_PREVIOUS="+oldK, "DATABASE_URL="+db.URL)
	args := []string{"-table", "users", "-column", "nid", "-column", "email:text", "-bind", "-batch-size", "200", "-rate", "2000"}

	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	lines := 0
	for sc.Scan() {
		if lines++; lines == 3 {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "run again to resume") {
		t.Fatalf("stopped run: %v, %s", err, stderr.String())
	}

	cmd = exec.Command(bin, args[:len(args)-2]...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	evs := events(t, out)
	last := evs[len(evs)-1]
	if last.Report == nil || !last.Report.Resumed || !last.Report.Previous[0].Safe {
		t.Fatalf("resumed report %s", out)
	}
	verify(t, db, mustRing(t, newK), 4000)
}

// TestBinarySIGKILLResumed kills the job with SIGKILL midway, so nothing
// runs on the way out: the checkpoint written inside the batches' own
// transactions must survive, and the next run must resume from it and end
// with zero rows on the old key and no row lost.
func TestBinarySIGKILLResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "reencrypt-job")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	oldK, newK := keyText(t), keyText(t)
	db := setup(t, 4000, oldK)
	env := append(os.Environ(), "FIELD_ENCRYPTION_KEY="+newK, "FIELD_ENCRYPTION_KEY_PREVIOUS="+oldK, "DATABASE_URL="+db.URL)
	// The resumed run takes the killed run's parts over when their leases
	// expire (2s here, 30s by default).
	args := []string{"-table", "users", "-column", "nid", "-column", "email:text", "-bind", "-batch-size", "200", "-workers", "2", "-lease", "2s", "-rate", "2000"}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for lines := 0; sc.Scan(); {
		if lines++; lines == 6 {
			_ = cmd.Process.Kill()
		}
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("killed run exited 0")
	}
	var cursors, old int
	ctx := context.Background()
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM fieldcrypt_checkpoint WHERE cursor IS NOT NULL`).Scan(&cursors); err != nil || cursors == 0 {
		t.Fatalf("no checkpoint cursor survived SIGKILL: %d %v", cursors, err)
	}
	oldFP := mustRing(t, oldK).Primary().String()
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE encode(substring(nid from 2 for 8), 'hex') = $1`, oldFP).Scan(&old); err != nil || old == 0 || old == 4000 {
		t.Fatalf("kill did not land midway: %d rows on the old key, %v", old, err)
	}
	cmd = exec.Command(bin, args[:len(args)-2]...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	evs := events(t, out)
	last := evs[len(evs)-1]
	if last.Report == nil || !last.Report.Resumed || !last.Report.Previous[0].Safe {
		t.Fatalf("resumed report %s", out)
	}
	verify(t, db, mustRing(t, newK), 4000)
}

// BenchmarkJobPeakRSS builds the job, runs it as a process over a table of
// 100,000 and of 1,000,000 rows (one 64-byte bytea column) and reports its
// peak resident set size (getrusage ru_maxrss, what /usr/bin/time -v calls
// "Maximum resident set size"), which must not grow with the table.
//
//	go test -run '^$' -bench BenchmarkJobPeakRSS -benchtime 1x -timeout 30m ./examples/reencrypt-job/
func BenchmarkJobPeakRSS(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "reencrypt-job")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for _, n := range []int{100000, 1000000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			oldK, newK := benchKey(), benchKey()
			db := testsvc.Postgres(b)
			ctx := context.Background()
			if _, err := db.Pool.Exec(ctx, `CREATE TABLE t (id bigint PRIMARY KEY, v bytea)`); err != nil {
				b.Fatal(err)
			}
			r, _ := fieldcrypt.NewKeyring(oldK)
			pt := make([]byte, 64)
			i := 0
			src := pgx.CopyFromFunc(func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				i++
				v, err := r.Encrypt(nil, pt, fieldcrypt.Binding{})
				return []any{int64(i), v}, err
			})
			if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "v"}, src); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				cmd := exec.Command(bin, "-table", "t", "-column", "v", "-workers", "2")
				cmd.Env = append(os.Environ(), "FIELD_ENCRYPTION_KEY="+newK, "FIELD_ENCRYPTION_KEY_PREVIOUS="+oldK, "DATABASE_URL="+db.URL)
				if out, err := cmd.Output(); err != nil {
					b.Fatalf("job: %v %s", err, out)
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
			}
		})
	}
}

func benchKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// TestBinaryThreeProcessesOneKilled runs three job processes on one table at
// once; one is SIGKILLed midway. The two others share the job, take over
// the dead one's parts when its lease expires, and both exit 0 with every
// value under the new key and none lost.
func TestBinaryThreeProcessesOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "reencrypt-job")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	oldK, newK := keyText(t), keyText(t)
	db := setup(t, 6000, oldK)
	env := append(os.Environ(), "FIELD_ENCRYPTION_KEY="+newK, "FIELD_ENCRYPTION_KEY_PREVIOUS="+oldK, "DATABASE_URL="+db.URL)
	args := []string{"-table", "users", "-column", "nid", "-column", "email:text", "-bind", "-batch-size", "100",
		"-workers", "2", "-ranges", "12", "-lease", "2s", "-rate", "1500"}
	type proc struct {
		cmd    *exec.Cmd
		stdout bytes.Buffer
	}
	procs := make([]*proc, 3)
	for i := range procs {
		p := &proc{cmd: exec.Command(bin, args...)}
		p.cmd.Env = env
		if i == 0 {
			pipe, _ := p.cmd.StdoutPipe()
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				sc := bufio.NewScanner(pipe)
				for lines := 0; sc.Scan(); {
					if lines++; lines == 4 {
						_ = p.cmd.Process.Kill()
					}
				}
			}()
		} else {
			p.cmd.Stdout = &p.stdout
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		procs[i] = p
	}
	if err := procs[0].cmd.Wait(); err == nil {
		t.Fatal("killed process exited 0")
	}
	var taken int64
	for i, p := range procs[1:] {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i+1, err, p.stdout.String())
		}
		evs := events(t, p.stdout.Bytes())
		last := evs[len(evs)-1]
		if last.Report == nil || !last.Report.Previous[0].Safe {
			t.Fatalf("process %d report %s", i+1, p.stdout.String())
		}
		taken += last.Report.TakenOver
	}
	if taken == 0 {
		t.Fatal("no survivor took over a part of the killed process")
	}
	verify(t, db, mustRing(t, newK), 6000)
}

// TestColumnsFile: with -columns the job works every listed table and ends
// with the census of every listed column, the same line rotate field
// reencrypt --columns prints; the old key is retirable only then.
func TestColumnsFile(t *testing.T) {
	oldK, newK := keyText(t), keyText(t)
	db := setup(t, 500, oldK)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE cards (id int PRIMARY KEY, pan bytea)`); err != nil {
		t.Fatal(err)
	}
	old := mustRing(t, oldK)
	pan, _ := old.Encrypt(nil, []byte("4111"), fieldcrypt.Binding{})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO cards SELECT i, $1 FROM generate_series(1, 50) i`, pan); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "columns")
	_ = os.WriteFile(file, []byte("users nid binary bound\nusers email text bound\ncards pan binary unbound\n"), 0o600)
	src := secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": newK, "FIELD_ENCRYPTION_KEY_PREVIOUS": oldK, "DATABASE_URL": db.URL})
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"-columns", file, "-table", "users"}, src, &stdout, &stderr); code != 2 {
		t.Fatalf("-columns with -table: exit %d", code)
	}
	stdout.Reset()
	code := run(ctx, []string{"-columns", file, "-batch-size", "64"}, src, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var last struct {
		Event  string `json:"event"`
		Census struct {
			Columns int `json:"columns"`
			Keys    []struct {
				KeyID     string `json:"key_id"`
				Slot      string `json:"slot"`
				Values    int64  `json:"values"`
				Retirable bool   `json:"retirable"`
			} `json:"keys"`
		} `json:"census"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || code != 0 || last.Event != "census" || last.Census.Columns != 3 {
		t.Fatalf("exit %d %v: %s", code, err, lines[len(lines)-1])
	}
	for _, k := range last.Census.Keys {
		if k.Slot == "previous" && (!k.Retirable || k.KeyID != old.Primary().String()) || k.Slot == "primary" && (k.Retirable || k.Values != 1050) {
			t.Fatalf("keys %+v", last.Census.Keys)
		}
	}
	verify(t, db, mustRing(t, newK), 500)
}
