package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/refreshpg"
)

// TestDryRunGeneratedKeysNotForTheTicket: a dry run of a command that
// generates its keys (jwt stage, field stage, jwt incident) validates with
// throwaway keys. Their fingerprints are never those of the real run, so the
// dry run must neither print them nor present them as "record in the
// ticket" (an on-call SRE recorded the dry run's fingerprints, which matched
// nothing after the real stage).
func TestDryRunGeneratedKeysNotForTheTicket(t *testing.T) {
	const fieldKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	known := map[string]bool{fingerprint.OfString(jwtB): true, fingerprint.OfString(jwtRA): true, fingerprint.OfString(fieldKey): true}
	hex16 := regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	for _, args := range [][]string{
		{"jwt", "stage", "--dry-run"},
		{"jwt", "stage", "--dry-run", "--json"},
		{"field", "stage", "--dry-run"},
		{"field", "stage", "--dry-run", "--json"},
		{"jwt", "incident", "--dry-run"},
		{"jwt", "incident", "--dry-run", "--json"},
	} {
		dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "FIELD_ENCRYPTION_KEY": fieldKey})
		r := runCLI(t, vars, "", append(args, "--dir", dir)...)
		if r.code != exitOK {
			t.Fatalf("%v: %v", args, r)
		}
		if strings.Contains(r.stdout, "record in the ticket") {
			t.Errorf("%v: a dry run with generated keys says \"record in the ticket\":\n%s", args, r.stdout)
		}
		for _, fp := range hex16.FindAllString(r.stdout, -1) {
			if !known[fp] {
				t.Errorf("%v: prints %s, the fingerprint of a key the real run will not use:\n%s", args, fp, r.stdout)
			}
		}
	}
	// With the keys given on stdin the dry run's fingerprints are the real ones.
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	r := runCLI(t, vars, goldenAccessNext+"\n"+goldenRefreshNext+"\n", "jwt", "stage", "--dir", dir, "--stdin", "--dry-run")
	if !strings.Contains(r.stdout, fingerprint.OfString(goldenAccessNext)) || !strings.Contains(r.stdout, "record in the ticket") {
		t.Errorf("--stdin dry run: %v", r)
	}
}

// TestJWTStatusFleetLifetimes: the procedure says to hold until the retire
// time "rotate jwt status" prints. For a fleet whose lifetimes are not the
// defaults (a drill deployment: JWT_REFRESH_TTL=3m), status must take the
// same --access-ttl/--refresh-ttl/--retire-margin as promote and retire, or
// it prints a retire time a month away while retire already accepts.
func TestJWTStatusFleetLifetimes(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": goldenRefreshNext,
		"JWT_REFRESH_SECRET_PREVIOUS": jwtRA, "JWT_REFRESH_SECRET_PREVIOUS_SINCE": "2026-11-27T08:58:00Z"})
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	r := runCLI(t, vars, "", "jwt", "status", "--dir", dir, "--json", "--access-ttl", "1m", "--refresh-ttl", "3m", "--retire-margin", "30s")
	if r.code != exitOK || !strings.Contains(r.stdout, `"retire_at": "2026-11-27T09:01:30Z"`) {
		t.Errorf("status with the fleet's lifetimes: %v", r)
	}
	// jwt retire names the same retire time.
	if r := runCLI(t, vars, "", "jwt", "retire", "--dir", dir, "--ring", "refresh", "--access-ttl", "1m", "--refresh-ttl", "3m", "--retire-margin", "30s"); r.code != exitCheck || !strings.Contains(r.stderr, "2026-11-27 09:01 UTC") {
		t.Errorf("retire before the fleet's retire time: %v", r)
	}
}

// TestJWTRetireBothAfterOneRing: the access ring's previous key retires
// first (its TTL is shorter), so an operator runs "jwt retire --ring access"
// and later plain "jwt retire". The second run must retire the refresh ring,
// not fail with "JWT_SECRET_PREVIOUS is not set: nothing to retire".
func TestJWTRetireBothAfterOneRing(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": goldenRefreshNext,
		"JWT_REFRESH_SECRET_PREVIOUS": jwtRA, "JWT_REFRESH_SECRET_PREVIOUS_SINCE": "2026-10-01T00:00:00Z"})
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	r := runCLI(t, vars, "", "jwt", "retire", "--dir", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "JWT_REFRESH_SECRET_PREVIOUS") {
		t.Fatalf("retire with the access ring already retired: %v", r)
	}
	if v, _ := secretsDir(dir).read(); v["JWT_REFRESH_SECRET_PREVIOUS"] != "" || v["JWT_REFRESH_SECRET_PREVIOUS_SINCE"] != "" {
		t.Errorf("refresh previous still there: %v", v["JWT_REFRESH_SECRET_PREVIOUS_SINCE"])
	}
	// Nothing left in either ring: exit 1, said once.
	if r := runCLI(t, vars, "", "jwt", "retire", "--dir", dir); r.code != exitCheck || !strings.Contains(r.stderr, "nothing to retire") {
		t.Errorf("nothing to retire: %v", r)
	}
	// One ring named explicitly and empty: still refused.
	if r := runCLI(t, vars, "", "jwt", "retire", "--dir", dir, "--ring", "access"); r.code != exitCheck || !strings.Contains(r.stderr, "JWT_SECRET_PREVIOUS is not set") {
		t.Errorf("--ring access, nothing there: %v", r)
	}
}

// TestAuditTargetAbsolute: "rotate jwt stage --dir secrets" typed in
// /srv/api recorded the target "directory secrets", which names nothing in
// the trail. Directory and file targets are recorded absolute.
func TestAuditTargetAbsolute(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "secrets")
	if err := secretsDir(dir).write(map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "FIELD_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	log := filepath.Join(base, "audit.jsonl")
	vars := map[string]string{"ROTATE_AUDIT_LOG": log}
	for _, args := range [][]string{{"jwt", "stage", "--dir", "secrets"}, {"field", "stage", "--dir", "secrets"}, {"keygen", "-o", "pw", "db"}} {
		if r := runCLI(t, vars, "", args...); r.code != exitOK {
			t.Fatalf("%v: %v", args, r)
		}
	}
	recs := readAuditLines(t, log)
	want := []string{"directory " + dir, "directory " + dir, "file " + filepath.Join(base, "pw")}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if rec.Target != want[i] {
			t.Errorf("%s: target %q, want %q", rec.Command, rec.Target, want[i])
		}
	}
}

// TestMutatingJSONNamesCommand: the documented style says a command that
// changes something says "command" and "dry_run" in its JSON. jwt
// flush-sessions and jwt incident said neither (and incident no dry_run).
func TestMutatingJSONNamesCommand(t *testing.T) {
	rd := testsvc.NewRedis(t)
	prefix := rd.Prefix + "auth:user_status:v1:"
	rd.Client.Set(context.Background(), prefix+"1", "active", time.Hour)
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL()}
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	for _, c := range []struct {
		command string
		dryRun  bool
		args    []string
	}{
		{"jwt flush-sessions", true, []string{"jwt", "flush-sessions", "--prefix", prefix, "--dry-run", "--json"}},
		{"jwt flush-sessions", false, []string{"jwt", "flush-sessions", "--prefix", prefix, "--yes", "--json"}},
		{"jwt incident", true, []string{"jwt", "incident", "--dir", dir, "--prefix", prefix, "--dry-run", "--json"}},
	} {
		r := runCLI(t, vars, "", c.args...)
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != exitOK {
			t.Fatalf("%v: %v %v", c.args, err, r)
		}
		if doc["command"] != c.command || doc["dry_run"] != c.dryRun {
			t.Errorf("%v: command %v, dry_run %v; want %q, %v:\n%s", c.args, doc["command"], doc["dry_run"], c.command, c.dryRun, r.stdout)
		}
	}
}

// TestIncidentAuditTarget: jwt incident changes the directory, the status
// cache and the refresh tokens; its audit record named only "refresh tokens
// of every user" (the last step overwrote the directory).
func TestIncidentAuditTarget(t *testing.T) {
	rd := testsvc.NewRedis(t)
	prefix := rd.Prefix + "auth:user_status:v1:"
	rd.Client.Set(context.Background(), prefix+"1", "active", time.Hour)
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL(), "ROTATE_AUDIT_LOG": log}
	if r := runCLI(t, vars, "", "jwt", "incident", "--dir", dir, "--prefix", prefix, "--yes"); r.code != exitOK && r.code != exitCheck {
		t.Fatalf("incident: %v", r)
	}
	recs := readAuditLines(t, log)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	for _, want := range []string{"directory " + dir, "redis prefix " + prefix} {
		if !strings.Contains(recs[0].Target, want) {
			t.Errorf("target %q does not name %q", recs[0].Target, want)
		}
	}
}

// TestFieldRetireNeedsYes: field retire deletes the previous key from the
// only place it lives (the versioned directory keeps no older copy), so a
// value the census did not cover (another column, a backup) can never be
// read again. Like every irreversible command it asks on a terminal and
// needs --yes otherwise; it ran without either.
func TestFieldRetireNeedsYes(t *testing.T) {
	const oldKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	db := testsvc.Postgres(t)
	if _, err := db.Pool.Exec(context.Background(), `CREATE TABLE people (id bigint PRIMARY KEY, nid bytea)`); err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, map[string]string{"FIELD_ENCRYPTION_KEY": goldenFieldNext, "FIELD_ENCRYPTION_KEY_PREVIOUS": oldKey})
	vars := map[string]string{"DATABASE_URL": db.URL, "ROTATE_TZ": "UTC"}
	columns := filepath.Join(t.TempDir(), "columns")
	if err := os.WriteFile(columns, []byte("people nid binary unbound id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"field", "retire", "--dir", dir, "--columns", columns}
	if r := runCLI(t, vars, "", args...); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("without --yes: %v", r)
	}
	if v, _ := secretsDir(dir).read(); v["FIELD_ENCRYPTION_KEY_PREVIOUS"] != oldKey {
		t.Fatal("the previous key was deleted without --yes")
	}
	if r := runCLI(t, vars, "", append(args, "--dry-run")...); r.code != exitOK {
		t.Errorf("--dry-run: %v", r)
	}
	if r := runCLI(t, vars, "", append(args, "--yes")...); r.code != exitOK {
		t.Errorf("--yes: %v", r)
	}
	if v, _ := secretsDir(dir).read(); v["FIELD_ENCRYPTION_KEY_PREVIOUS"] != "" {
		t.Error("--yes did not retire the key")
	}
}

// TestJWTStageEmptyDir: staging in a directory without JWT_SECRET said
// "JWT_SECRET: required but not set: not found in map" (an internal type's
// name); it says which variable is missing in which directory, as field
// stage does.
func TestJWTStageEmptyDir(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "", "jwt", "stage", "--dir", dir)
	if r.code != exitCheck || !strings.Contains(r.stderr, "JWT_SECRET is not set in "+dir) || strings.Contains(r.stderr, "map") {
		t.Errorf("empty dir: %v", r)
	}
}

// TestChecklistFromAuditAfterIncident: a ticket whose scheduled rotation
// (promote) was followed by an incident rotation: the checklist took the
// incident's fingerprints but the overlap end of the superseded promotion,
// a month of "overlap" for keys that have none.
func TestChecklistFromAuditAfterIncident(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	vars := map[string]string{"ROTATE_AUDIT_LOG": log, "ROTATE_TICKET": "SEC-42", "ROTATE_TZ": "UTC"}
	for _, args := range [][]string{{"jwt", "stage", "--dir", dir}, {"jwt", "promote", "--dir", dir, "--skip-fleet-check"}} {
		if r := runCLI(t, vars, "", args...); r.code != exitOK {
			t.Fatalf("%v: %v", args, r)
		}
	}
	r := runCLI(t, vars, "", "checklist", "--from-audit", "jwt", "production")
	if !strings.Contains(r.stdout, "promoted 2026-11-27 09:00 UTC") {
		t.Fatalf("after promote: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "incident", "--dir", dir, "--yes"); r.code != exitOK {
		t.Fatalf("incident: %v", r)
	}
	v, _ := secretsDir(dir).read()
	r = runCLI(t, vars, "", "checklist", "--from-audit", "jwt", "production")
	if r.code != exitOK || !strings.Contains(r.stdout, fingerprint.OfString(v["JWT_SECRET"])) ||
		strings.Contains(r.stdout, "promoted 2026") || !strings.Contains(r.stdout, "none (incident rotation") {
		t.Errorf("after incident: %v", r)
	}
}

// TestStageEmptyStdin: "jwt stage --stdin < /dev/null" said "want 2 keys
// ..., got 1 lines"; it says stdin is empty.
func TestStageEmptyStdin(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	if r := runCLI(t, nil, "", "jwt", "stage", "--dir", dir, "--stdin"); r.code != exitUsage || !strings.Contains(r.stderr, "stdin is empty") {
		t.Errorf("empty stdin: %v", r)
	}
}

// TestFlagsBeforeVerb: flags go anywhere on the line (issue 15 point 6), but
// "rotate jwt --dir D status" said `unknown subcommand "--dir"`.
func TestFlagsBeforeVerb(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	want := runCLI(t, vars, "", "jwt", "status", "--dir", dir, "--json")
	if got := runCLI(t, vars, "", "jwt", "--dir", dir, "status", "--json"); got != want || got.code != exitOK {
		t.Errorf("flags before the verb: %v, want %v", got, want)
	}
	if got := runCLI(t, vars, "", "jwt", "--json", "status", "--dir", dir); got != want {
		t.Errorf("a flag before the verb: %v", got)
	}
	// A flag value that is also a verb name is ambiguous: refused, exit 2.
	if r := runCLI(t, vars, "", "jwt", "--prefix", "status", "flush-sessions"); r.code != exitUsage || !strings.Contains(r.stderr, "put the subcommand first") {
		t.Errorf("ambiguous: %v", r)
	}
	// No verb at all: still the unknown-subcommand usage.
	if r := runCLI(t, vars, "", "jwt", "--dir", dir); r.code != exitUsage || !strings.Contains(r.stderr, "unknown subcommand") {
		t.Errorf("no verb: %v", r)
	}
}

// TestTopHelpNamesStagedVerbs: "rotate --help" is where a new on-call
// engineer looks first; it listed jwt as "status, inspect a token, sign a
// smoke token, flush sessions" and field without stage/promote/retire, the
// verbs the procedures are run with.
func TestTopHelpNamesStagedVerbs(t *testing.T) {
	r := runCLI(t, nil, "", "--help")
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "jwt" && f[0] != "field") {
			continue
		}
		for _, verb := range []string{"stage", "promote", "retire"} {
			if !strings.Contains(line, verb) {
				t.Errorf("%q does not name %s", line, verb)
			}
		}
	}
}

// TestPromoteSinceInTheZone: with ROTATE_TZ=Asia/Ho_Chi_Minh, promote
// printed the retire times in +07 but the *_SINCE values it wrote only in
// UTC ("= 2026-11-27T09:00:00Z"), two zones in one output (issue 15 point
// 8). The value written stays RFC 3339 UTC; the line shows it in the zone.
func TestPromoteSinceInTheZone(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA,
		"JWT_SECRET_NEXT": goldenAccessNext, "JWT_REFRESH_SECRET_NEXT": goldenRefreshNext})
	r := runCLI(t, map[string]string{"ROTATE_TZ": "Asia/Ho_Chi_Minh"}, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check")
	if r.code != exitOK {
		t.Fatal(r)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "_SINCE") && !strings.Contains(line, "2026-11-27 16:00 +07") {
			t.Errorf("SINCE line not in the zone: %q", line)
		}
	}
}

// TestInspectEmptyStdin: "jwt inspect < /dev/null" said "read token: empty
// secret"; it says what to do, as fingerprint does.
func TestInspectEmptyStdin(t *testing.T) {
	vars := map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA}
	if r := runCLI(t, vars, "", "jwt", "inspect"); r.code != exitUsage || r.stderr != "rotate jwt inspect: empty input: pipe the token on stdin\n" {
		t.Errorf("empty stdin: %v", r)
	}
}

// TestPromoteHintsRing: after "jwt stage --ring access", plain "jwt
// promote" refused with "JWT_REFRESH_SECRET_NEXT is not staged: run jwt
// stage first", though the access ring was staged: it names --ring access.
func TestPromoteHintsRing(t *testing.T) {
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "JWT_SECRET_NEXT": goldenAccessNext})
	r := runCLI(t, nil, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check")
	if r.code != exitCheck || !strings.Contains(r.stderr, "--ring access to promote only the staged ring") {
		t.Errorf("promote with one ring staged: %v", r)
	}
}

// TestNoAuditLogSaysSo: an on-call engineer in a new shell (the export of
// ROTATE_AUDIT_LOG gone) staged and promoted with no audit trail and no
// word about it. A change made without a log says so on stderr; a dry run,
// a read-only command and a logged change do not.
func TestNoAuditLogSaysSo(t *testing.T) {
	const warn = "no audit log (--audit-log / ROTATE_AUDIT_LOG): this change is recorded nowhere"
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	if r := runCLI(t, nil, "", "jwt", "stage", "--dir", dir, "--dry-run"); r.code != exitOK || strings.Contains(r.stderr, warn) {
		t.Errorf("dry run: %v", r)
	}
	if r := runCLI(t, nil, "", "jwt", "status", "--dir", dir); strings.Contains(r.stderr, warn) {
		t.Errorf("status: %v", r)
	}
	if r := runCLI(t, nil, "", "jwt", "stage", "--dir", dir); r.code != exitOK || !strings.Contains(r.stderr, warn) {
		t.Errorf("stage without a log: %v", r)
	}
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	if r := runCLI(t, map[string]string{"ROTATE_AUDIT_LOG": log}, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check"); r.code != exitOK || strings.Contains(r.stderr, warn) {
		t.Errorf("promote with a log: %v", r)
	}
}

// TestIncidentDryRunCounts: the incident's dry run said "would flush every
// key" and "would revoke every refresh token", with no count (issue 15
// point 4: dry runs give counts), and claimed it would revoke even with no
// DATABASE_URL, where the real run reports the step not configured.
func TestIncidentDryRunCounts(t *testing.T) {
	rd := testsvc.NewRedis(t)
	prefix := rd.Prefix + "auth:user_status:v1:"
	for _, k := range []string{"1", "2", "3"} {
		rd.Client.Set(context.Background(), prefix+k, "active", time.Hour)
	}
	db := testsvc.Postgres(t)
	if err := refreshpg.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	st := refreshpg.New(db.Pool)
	for _, id := range []string{"a", "b"} {
		if err := st.Record(context.Background(), jwtkeys.RefreshRecord{ID: id, Subject: "alice", ExpiresAt: time.Date(2026, 12, 27, 9, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA})
	r := runCLI(t, map[string]string{"REDIS_URL": testsvc.RedisURL(), "DATABASE_URL": db.URL}, "", "jwt", "incident", "--dir", dir, "--prefix", prefix, "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "would flush 3 keys") || !strings.Contains(r.stdout, "would revoke 2 live refresh tokens") {
		t.Errorf("dry run counts: %v", r)
	}
	r = runCLI(t, nil, "", "jwt", "incident", "--dir", dir, "--dry-run")
	if !strings.Contains(r.stdout, "refresh_tokens   not_configured") {
		t.Errorf("dry run without DATABASE_URL: %v", r)
	}
}

// TestEmptyFleetFile: an empty --fleet-file made promote say "missing
// required flag --fleet or --fleet-file" and jwt fleet "no instances: give
// ... --file F", though the flag was given. They name the empty file.
func TestEmptyFleetFile(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "fleet.txt")
	if err := os.WriteFile(empty, []byte("# nothing yet\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "JWT_SECRET_NEXT": goldenAccessNext, "JWT_REFRESH_SECRET_NEXT": goldenRefreshNext})
	for _, args := range [][]string{
		{"jwt", "fleet", "--dir", dir, "--file", empty},
		{"jwt", "promote", "--dir", dir, "--fleet-file", empty},
	} {
		r := runCLI(t, nil, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, empty+" lists no instance URL") {
			t.Errorf("%v: %v", args, r)
		}
	}
	if v, _ := secretsDir(dir).read(); v["JWT_SECRET"] != jwtB {
		t.Error("promote changed the directory")
	}
}

// TestChecklistNamesTheTicket: with --ticket / ROTATE_TICKET set (the docs
// set it once for the shell), the checklist's first line still said only
// "Ticket opened in Paperclip"; it names the ticket.
func TestChecklistNamesTheTicket(t *testing.T) {
	r := runCLI(t, map[string]string{"ROTATE_TICKET": "SEC-42"}, "", "checklist", "--fingerprint", "0123456789abcdef", "db", "production")
	if r.code != exitOK || !strings.Contains(r.stdout, "- [ ] Ticket SEC-42 opened in Paperclip") {
		t.Errorf("checklist: %v", r)
	}
}
