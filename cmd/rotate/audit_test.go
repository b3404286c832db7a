package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
)

// A change made through the CLI leaves one JSON line in the audit log with
// who, when, which ticket, what and how it ended; dry runs, help and bad
// usage leave none; an audit log that cannot be opened stops the command
// before it changes anything.
func TestAuditTrailFile(t *testing.T) {
	rd := testsvc.NewRedis(t)
	ctx := context.Background()
	prefix := rd.Prefix + "auth:user_status:v1:"
	for i := 0; i < 3; i++ {
		rd.Client.Set(ctx, prefix+string(rune('a'+i)), "active", time.Hour)
	}
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL(), "ROTATE_AUDIT_LOG": log, "ROTATE_ACTOR": "alice"}

	// Not recorded: bad usage (no --yes), help.
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix); r.code != exitUsage {
		t.Fatalf("without --yes: %+v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--help"); r.code != exitOK {
		t.Fatalf("--help: %+v", r)
	}
	if recs, err := readAudit(log); err == nil && len(recs) != 0 {
		t.Fatalf("usage and help were recorded: %+v", recs)
	}
	// Recorded, with the global --ticket flag and a flag after the verb.
	r := runCLI(t, vars, "", "--ticket", "GOO-121", "jwt", "flush-sessions", "--prefix", prefix, "--yes")
	if r.code != exitOK {
		t.Fatalf("flush: %+v", r)
	}
	st, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v, want 0600", st.Mode().Perm())
	}
	recs, err := readAudit(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	got := recs[0]
	want := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) // runCLI's clock
	if !got.Time.Equal(want) || got.Actor != "alice" || got.Ticket != "GOO-121" || got.Command != "jwt flush-sessions" ||
		got.Outcome != "ok" || got.ExitCode != 0 || got.Target != "redis prefix "+prefix || strings.Join(got.Args, " ") != "--prefix "+prefix+" --yes" {
		t.Fatalf("record %+v", got)
	}
	line, _ := os.ReadFile(log)
	for _, key := range []string{`"time":"2026-11-27T09:00:00Z"`, `"actor":`, `"ticket":`, `"command":`, `"outcome":`, `"exit_code":`} {
		if !strings.Contains(string(line), key) {
			t.Errorf("audit line lacks %s: %s", key, line)
		}
	}

	// A second change appends; a failed one is recorded as failed.
	bad := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "ROTATE_AUDIT_LOG": log, "ROTATE_ACTOR": "bob"}
	if r := runCLI(t, bad, "", "jwt", "flush-sessions", "--prefix", prefix, "--yes"); r.code == exitOK {
		t.Fatalf("flush against a closed port succeeded: %+v", r)
	}
	recs, _ = readAudit(log)
	if len(recs) != 2 || recs[1].Actor != "bob" || recs[1].Outcome == "ok" || recs[1].ExitCode == 0 {
		t.Fatalf("records after a failed change: %+v", recs)
	}

	// An audit log that cannot be opened: the command does not run.
	rd.Client.Set(ctx, prefix+"z", "active", time.Hour)
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unwritable := map[string]string{"REDIS_URL": testsvc.RedisURL(), "ROTATE_AUDIT_LOG": filepath.Join(blocker, "log")}
	if r := runCLI(t, unwritable, "", "jwt", "flush-sessions", "--prefix", prefix, "--yes"); r.code != exitCheck ||
		!strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("with an unwritable audit log: %+v", r)
	}
	if n, _ := rd.Client.Exists(ctx, prefix+"z").Result(); n != 1 {
		t.Fatal("the command ran although its audit record could not be written")
	}
}

func TestAuditTrailPostgres(t *testing.T) {
	db := testsvc.Postgres(t)
	rd := testsvc.NewRedis(t)
	prefix := rd.Prefix + "s:"
	rd.Client.Set(context.Background(), prefix+"1", "x", time.Hour)
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL(), "ROTATE_TICKET": "GOO-7"}
	r := runCLI(t, vars, "", "--audit-log", db.URL, "--actor", "carol", "jwt", "flush-sessions", "--prefix", prefix, "--yes")
	if r.code != exitOK {
		t.Fatalf("flush: %+v", r)
	}
	var ticket, command string
	var raw []byte
	if err := db.Pool.QueryRow(context.Background(), `SELECT ticket, command, record FROM rotation_audit`).Scan(&ticket, &command, &raw); err != nil {
		t.Fatal(err)
	}
	var rec AuditRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if ticket != "GOO-7" || command != "jwt flush-sessions" || rec.Actor != "carol" || rec.Outcome != "ok" {
		t.Fatalf("row ticket=%q command=%q record=%+v", ticket, command, rec)
	}
}

func TestAuditArgsRedactURLPasswords(t *testing.T) {
	got := redactArgs([]string{"--x", "postgres://app:s3cr3t-pass@db:5432/app"})
	if strings.Contains(strings.Join(got, " "), "s3cr3t") {
		t.Fatalf("password kept: %q", got)
	}
}

func TestAuditOnlyMutations(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"pg apply --role app", true}, {"pg apply --dry-run", false}, {"pg plan --role app", false},
		{"keygen jwt", false}, {"keygen jwt -o f", true}, {"jwt status", false}, {"jwt flush-sessions --help", false},
	} {
		name, rest := commandName(strings.Fields(c.line))
		if got := isMutation(name, rest); got != c.want {
			t.Errorf("%q: mutation=%v, want %v", c.line, got, c.want)
		}
	}
}
