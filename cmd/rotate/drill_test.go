package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

// TestDrillConfiguredButDown: Postgres and Redis named by the environment
// but not answering fail the drill (exit 1), each phase saying which
// service, every reason on one line; the report records the tool's version
// and prints its times in the --tz zone, which its file name carries too.
func TestDrillConfiguredButDown(t *testing.T) {
	vars := map[string]string{
		"DATABASE_URL": "postgres://postgres@127.0.0.1:5499/postgres?sslmode=disable&connect_timeout=2",
		"REDIS_URL":    "redis://127.0.0.1:6399/0",
	}
	r := runCLI(t, vars, "", "--tz", "Asia/Ho_Chi_Minh", "drill", "--only", "field-pg,redis,db,redis-password", "--out", "-")
	if r.code != exitCheck {
		t.Fatalf("exit %d, want 1: %v", r.code, r)
	}
	md := r.stdout
	for _, want := range []string{
		"| Field key re-encryption, real Postgres table | field | failed |",
		"| Incident session flush, real Redis | jwt | failed |",
		"| Database password rotation, real Postgres | db | failed |",
		"| Redis password rotation, private Redis under a live pool | redis | failed |", // was "skipped" (trial #15)
		"Postgres unreachable", "(Postgres (DATABASE_URL) is configured: the drill does not skip it)",
		"Redis unreachable", "(Redis (REDIS_URL) is configured: the drill does not skip it)",
		"**Tool:** rotate ", "(Asia/Ho_Chi_Minh)", " +07",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "skipped") {
		t.Errorf("a configured service was skipped:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "- Reason: ") || strings.HasPrefix(line, "  - ") {
			continue
		}
		if strings.HasPrefix(line, "dial ") || strings.HasPrefix(line, "\t") {
			t.Errorf("an error broke onto its own line: %q", line)
		}
	}
	r = runCLI(t, vars, "", "drill", "--only", "redis", "--json", "--out", "-")
	var sum drillSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != exitCheck || sum.OK || len(sum.Phases) != 1 ||
		sum.Phases[0].ID != "redis" || sum.Phases[0].Outcome != "failed" || !strings.Contains(sum.Phases[0].Reason, "Redis unreachable") ||
		!strings.Contains(r.stdout, `"outcome"`) || strings.Contains(r.stdout, `"status"`) {
		t.Fatalf("--json: %v %v", err, r)
	}
	// Not configured at all (no variables) and the local default absent:
	// skipped, in one clean line. Simulated by pointing the defaults
	// nowhere is not possible from the CLI, so the unconfigured path is
	// covered in internal/drill; here: --in-process runs none of them.
	r = runCLI(t, nil, "", "drill", "--only", "redis", "--in-process", "--out", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "Incident session flush, real Redis skipped: no Redis: set REDIS_URL or --redis-url-file\n") {
		t.Fatalf("in-process: %v", r)
	}
	// The file name is in the same zone: runCLI's clock is 09:00 UTC.
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	r = runCLI(t, nil, "", "--tz", "Asia/Ho_Chi_Minh", "drill", "--only", "redis", "--in-process")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "drill-report-20261127-160000+0700.md")); err != nil {
		t.Fatalf("report file name: %v (%v)", err, r)
	}
}

// TestDrillReportFromAudit (issue 15 point 2): --from-audit fills the drill
// report with the ticket's audit trail, written by the CLI's own mutating
// commands: who, when, what, the new fingerprints, the outcome; records of
// other tickets are left out.
func TestDrillReportFromAudit(t *testing.T) {
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	vars := map[string]string{"ROTATE_AUDIT_LOG": audit, "ROTATE_ACTOR": "oncall@host", "ROTATE_TZ": "Asia/Ho_Chi_Minh"}
	if r := runCLI(t, vars, "", "--ticket", "GOO-7", "keygen", "-o", filepath.Join(dir, "k"), "jwt"); r.code != exitOK {
		t.Fatalf("keygen: %v", r)
	}
	if r := runCLI(t, vars, "", "--ticket", "GOO-8", "keygen", "-o", filepath.Join(dir, "other"), "db"); r.code != exitOK {
		t.Fatalf("keygen: %v", r)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "k"))
	r := runCLI(t, vars, "", "--ticket", "GOO-7", "drill", "--in-process", "--only", "payment", "--from-audit", "--out", "-")
	if r.code != exitOK {
		t.Fatalf("drill: %v", r)
	}
	for _, want := range []string{
		"## Audit trail (ticket GOO-7)",
		"| 2026-11-27 16:00 +07 | oncall@host | keygen | file " + filepath.Join(dir, "k") + " | jwt " + fingerprint.OfString(string(key)) + " | ok |",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "other") || strings.Contains(r.stdout, "GOO-8") {
		t.Errorf("report shows another ticket's record:\n%s", r.stdout)
	}
	assertNoSecret(t, r, string(key))
	j := runCLI(t, vars, "", "--ticket", "GOO-7", "drill", "--in-process", "--only", "payment", "--from-audit", "--out", "-", "--json")
	var doc struct {
		Audit []AuditRecord `json:"audit"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &doc); j.code != exitOK || err != nil || len(doc.Audit) != 1 || doc.Audit[0].Command != "keygen" {
		t.Fatalf("drill --json --from-audit: %v %v", err, j)
	}
	if r := runCLI(t, vars, "", "--ticket", "GOO-9", "drill", "--in-process", "--only", "payment", "--from-audit", "--out", "-"); r.code != exitUsage || !strings.Contains(r.stderr, `no record for ticket "GOO-9"`) {
		t.Fatalf("unknown ticket: %v", r)
	}
}
