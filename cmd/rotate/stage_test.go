package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
)

func writeDir(t *testing.T, vars map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := secretsDir(dir).write(vars, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestJWTStageUsage(t *testing.T) {
	if r := runCLI(t, nil, "", "jwt", "stage"); r.code != exitUsage || !strings.Contains(r.stderr, "missing required flag --dir") {
		t.Errorf("no --dir: %v", r)
	}
	dir := writeDir(t, map[string]string{"JWT_SECRET": newSecret(t, "jwt"), "JWT_REFRESH_SECRET": newSecret(t, "jwt")})
	if r := runCLI(t, nil, "", "jwt", "promote", "--dir", dir); r.code != exitUsage || !strings.Contains(r.stderr, "--fleet") {
		t.Errorf("promote without a fleet: %v", r)
	}
	if r := runCLI(t, nil, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check"); r.code != exitCheck || !strings.Contains(r.stderr, "is not staged") {
		t.Errorf("promote unstaged: %v", r)
	}
	if r := runCLI(t, nil, "", "jwt", "retire", "--dir", dir); r.code != exitCheck || !strings.Contains(r.stderr, "nothing to retire") {
		t.Errorf("retire without previous: %v", r)
	}
}

// TestJWTStageStdinDryRunJSON: keys from stdin, a dry run writes nothing,
// the JSON names every change by fingerprint and never shows a key.
func TestJWTStageStdinDryRunJSON(t *testing.T) {
	cur, ref := newSecret(t, "jwt"), newSecret(t, "jwt")
	dir := writeDir(t, map[string]string{"JWT_SECRET": cur, "JWT_REFRESH_SECRET": ref})
	na, nr := newSecret(t, "jwt"), newSecret(t, "jwt")
	r := runCLI(t, nil, na+"\n"+nr+"\n", "jwt", "stage", "--dir", dir, "--stdin", "--dry-run", "--json")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	assertNoSecret(t, r, cur, ref, na, nr)
	var res stageResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.DryRun || len(res.Changes) != 2 ||
		res.Changes[0].Var != "JWT_SECRET_NEXT" || res.Changes[0].After != fingerprint.OfString(na) || res.Changes[1].After != fingerprint.OfString(nr) {
		t.Fatalf("JSON: %v %+v", err, res)
	}
	if v, _ := secretsDir(dir).read(); v["JWT_SECRET_NEXT"] != "" {
		t.Fatal("a dry run wrote")
	}
	if r := runCLI(t, nil, na+"\n", "jwt", "stage", "--dir", dir, "--stdin"); r.code != exitUsage || !strings.Contains(r.stderr, "want 2 keys") {
		t.Errorf("one key for two rings: %v", r)
	}
	if r := runCLI(t, nil, na+" \n"+nr+"\n", "jwt", "stage", "--dir", dir, "--stdin"); r.code != exitUsage || !strings.Contains(r.stderr, "whitespace") {
		t.Errorf("trailing space: %v", r)
	}
	if r := runCLI(t, nil, na+"\n", "jwt", "stage", "--dir", dir, "--stdin", "--ring", "access"); r.code != 0 {
		t.Fatalf("access only: %v", r)
	}
	v, _ := secretsDir(dir).read()
	if v["JWT_SECRET_NEXT"] != na || v["JWT_REFRESH_SECRET_NEXT"] != "" {
		t.Fatal("access-only stage")
	}
	if r := runCLI(t, nil, "", "jwt", "stage", "--dir", dir, "--ring", "access"); r.code != exitCheck || !strings.Contains(r.stderr, "already staged (fp="+fingerprint.OfString(na)) {
		t.Errorf("stage twice: %v", r)
	}
}

// TestJWTPromoteRefusesVerifyingPrevious: a new promotion while the previous
// key still verifies would drop it: refused unless --incident.
func TestJWTPromoteRefusesVerifyingPrevious(t *testing.T) {
	a, b, c := newSecret(t, "jwt"), newSecret(t, "jwt"), newSecret(t, "jwt")
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) // runCLI's clock
	dir := writeDir(t, map[string]string{"JWT_SECRET": b, "JWT_SECRET_PREVIOUS": a, "JWT_SECRET_PREVIOUS_SINCE": now.Add(-time.Hour).Format(time.RFC3339),
		"JWT_SECRET_NEXT": c, "JWT_REFRESH_SECRET": newSecret(t, "jwt")})
	r := runCLI(t, nil, "", "--tz", "Asia/Ho_Chi_Minh", "jwt", "promote", "--dir", dir, "--ring", "access", "--skip-fleet-check")
	if r.code != exitCheck || !strings.Contains(r.stderr, "still verifies until 2026-11-28 15:15 +07") {
		t.Fatalf("%v", r)
	}
	r = runCLI(t, nil, "", "jwt", "promote", "--dir", dir, "--ring", "access", "--skip-fleet-check", "--incident")
	if r.code != 0 {
		t.Fatalf("--incident: %v", r)
	}
	v, _ := secretsDir(dir).read()
	if v["JWT_SECRET"] != c || v["JWT_SECRET_PREVIOUS"] != b || v["JWT_SECRET_PREVIOUS_SINCE"] != "2026-11-27T09:00:00Z" {
		t.Fatal("promote --incident")
	}
}

// TestJWTIncident: one command; new keys, previous and next dropped, the
// status cache flushed in the real Redis, refresh tokens reported as not
// configured in this build; refused without --yes off a terminal.
func TestJWTIncident(t *testing.T) {
	rd := testsvc.NewRedis(t)
	ctx := context.Background()
	prefix := rd.Prefix + "auth:user_status:v1:"
	for i := 0; i < 50; i++ {
		rd.Client.Set(ctx, prefix+string(rune('a'+i%26))+time.Now().String(), "active", time.Hour)
	}
	rd.Client.Set(ctx, rd.Prefix+"other", "keep", time.Hour)
	a, b, ra := newSecret(t, "jwt"), newSecret(t, "jwt"), newSecret(t, "jwt")
	dir := writeDir(t, map[string]string{"JWT_SECRET": b, "JWT_SECRET_PREVIOUS": a, "JWT_SECRET_PREVIOUS_SINCE": "2026-11-27T08:00:00Z", "JWT_REFRESH_SECRET": ra, "DATABASE_URL": "x"})
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL()}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	if r := runCLI(t, vars, "", "--audit-log", audit, "jwt", "incident", "--dir", dir, "--prefix", prefix); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without --yes: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "incident", "--dir", dir, "--prefix", prefix, "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "would flush") {
		t.Fatalf("dry run: %v", r)
	}
	if n, _ := rd.Client.Exists(ctx, rd.Prefix+"other").Result(); n != 1 {
		t.Fatal("dry run flushed")
	}
	r := runCLI(t, vars, "", "--audit-log", audit, "jwt", "incident", "--dir", dir, "--prefix", prefix, "--yes")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	assertNoSecret(t, r, a, b, ra)
	for _, want := range []string{"keys             ok", "status_cache     ok              flushed 50 keys", "refresh_tokens   not_configured", "fleet            not_configured"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	v, _ := secretsDir(dir).read()
	if v["JWT_SECRET"] == b || v["JWT_SECRET"] == "" || v["JWT_SECRET_PREVIOUS"] != "" || v["JWT_SECRET_PREVIOUS_SINCE"] != "" || v["JWT_REFRESH_SECRET"] == ra || v["DATABASE_URL"] != "x" {
		t.Fatal("incident keys")
	}
	if n, _ := rd.Client.Exists(ctx, rd.Prefix+"other").Result(); n != 1 {
		t.Fatal("flushed outside the prefix")
	}
	recs := readAuditLines(t, audit)
	if len(recs) != 1 || recs[0].Command != "jwt incident" || recs[0].Outcome != "ok" || recs[0].Before["JWT_SECRET_PREVIOUS"] != fingerprint.OfString(a) ||
		recs[0].After["JWT_SECRET"] != fingerprint.OfString(v["JWT_SECRET"]) {
		t.Fatalf("audit: %+v", recs)
	}
	// A configured but unreachable Redis fails the command, naming the step.
	r = runCLI(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:6399/0"}, "", "jwt", "incident", "--dir", dir, "--yes")
	if r.code != exitCheck || !strings.Contains(r.stdout, "status_cache     failed") {
		t.Fatalf("Redis down: %v", r)
	}
}

// TestChecklistFromStagedAudit: the checklist filled from the audit log of
// a staged rotation names the new keys (never the old one moved to
// _PREVIOUS) and counts the overlap from the promotion.
func TestChecklistFromStagedAudit(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	a, ra := newSecret(t, "jwt"), newSecret(t, "jwt")
	dir := writeDir(t, map[string]string{"JWT_SECRET": a, "JWT_REFRESH_SECRET": ra})
	g := []string{"--audit-log", audit, "--ticket", "SEC-9", "--tz", "UTC"}
	na, nr := newSecret(t, "jwt"), newSecret(t, "jwt")
	if r := runCLI(t, nil, na+"\n"+nr+"\n", append(g, "jwt", "stage", "--dir", dir, "--stdin")...); r.code != 0 {
		t.Fatal(r)
	}
	if r := runCLI(t, nil, "", append(g, "jwt", "promote", "--dir", dir, "--skip-fleet-check")...); r.code != 0 {
		t.Fatal(r)
	}
	for i := 0; i < 5; i++ { // map order must not matter
		r := runCLI(t, nil, "", append(g, "checklist", "--from-audit", "jwt", "production")...)
		if r.code != 0 || !strings.Contains(r.stdout, "New JWT_SECRET fingerprint (SHA-256 first 16 chars): `"+fingerprint.OfString(na)+"`") ||
			!strings.Contains(r.stdout, "New JWT_REFRESH_SECRET fingerprint (SHA-256 first 16 chars): `"+fingerprint.OfString(nr)+"`") ||
			!strings.Contains(r.stdout, "Overlap window end date (JWT only): 2026-12-28 09:00 UTC") {
			t.Fatalf("%v", r)
		}
	}
}

// TestJWTIncidentWaitsForFleet: with --fleet the incident command waits
// until every instance signs with the new keys, and says so; an instance
// that never catches up fails the step, named.
func TestJWTIncidentWaitsForFleet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys := map[string]string{"JWT_SECRET": newSecret(t, "jwt"), "JWT_REFRESH_SECRET": newSecret(t, "jwt"), "FIELD_ENCRYPTION_KEY": newSecret(t, "field")}
	dir, stuck := writeDir(t, keys), writeDir(t, keys)
	a, b := startInstance(t, ctx, dir, nil), startInstance(t, ctx, dir, nil)
	fleet := a.fleet.URL + "/keys," + b.fleet.URL + "/keys"
	r := runCLINow(t, nil, "", "jwt", "incident", "--dir", dir, "--yes", "--fleet", fleet)
	if r.code != 0 || !strings.Contains(r.stdout, "fleet            ok              all 2 instances sign with the new keys") {
		t.Fatalf("%v", r)
	}
	c := startInstance(t, ctx, stuck, nil)
	r = runCLINow(t, nil, "", "jwt", "incident", "--dir", dir, "--yes", "--fleet", fleet+","+c.fleet.URL+"/keys", "--wait", "500ms")
	if r.code != exitCheck || !strings.Contains(r.stdout, "fleet            failed          lagging after 500ms: "+c.fleet.URL+"/keys") {
		t.Fatalf("stuck instance: %v", r)
	}
}
