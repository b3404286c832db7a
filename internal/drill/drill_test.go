package drill

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
)

// longToken matches what a leaked secret would look like: a generated
// base64 key or a 32-character password.
var longToken = regexp.MustCompile(`[A-Za-z0-9+/=]{32,}`)

func phase(t *testing.T, r *Report, id string) *Phase {
	t.Helper()
	for _, p := range r.Phases {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no phase %s in report", id)
	return nil
}

// TestInProcessDrill runs the in-process phases with services that cannot be
// reached: those phases are skipped with the reason, not failed.
func TestInProcessDrill(t *testing.T) {
	r := Run(context.Background(), Options{
		Instances: 3, Clients: 4, Rows: 300,
		DatabaseURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2",
		RedisURL:    "redis://127.0.0.1:1/0",
	})
	if !r.OK() {
		t.Fatalf("drill failed:\n%s", r.Markdown())
	}
	for _, id := range []string{"jwt", "jwt-single-step", "payment", "field"} {
		if p := phase(t, r, id); p.Outcome != Passed {
			t.Errorf("%s: %s %s", id, p.Outcome, p.Reason)
		}
	}
	for _, id := range []string{"field-pg", "db"} {
		if p := phase(t, r, id); p.Outcome != Skipped || !strings.Contains(p.Reason, "Postgres unreachable") {
			t.Errorf("%s: %s %q, want skipped: Postgres unreachable", id, p.Outcome, p.Reason)
		}
	}
	if p := phase(t, r, "redis"); p.Outcome != Skipped || !strings.Contains(p.Reason, "Redis unreachable") {
		t.Errorf("redis: %s %q", p.Outcome, p.Reason)
	}
	if p := phase(t, r, "jwt"); p.AuthErrors != 0 {
		t.Errorf("staged JWT rotation: %d auth errors", p.AuthErrors)
	}
	if p := phase(t, r, "payment"); p.PaymentFailures != 0 {
		t.Errorf("payment rotation: %d failures", p.PaymentFailures)
	}
	md := r.Markdown()
	for _, want := range []string{"## Drill report — field, jwt, payment — local — ", "**Window:**", "### Timeline", "### Results",
		"- Auth errors during rotation: 0", "- Payment failures: 0", "- Rollback triggered: no", "### Learnings",
		"Database password rotation, real Postgres skipped: Postgres (DATABASE_URL) not configured and no local server answered (Postgres unreachable", "Fingerprint JWT_SECRET (new): `"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if m := longToken.FindString(md); m != "" {
		t.Errorf("report contains something secret-shaped: %q", m)
	}
}

// TestDrillAgainstServices runs the phases that need Postgres, PgBouncer and
// Redis against the real ones.
func TestDrillAgainstServices(t *testing.T) {
	testsvc.Admin(t)    // skips (fails under CI) without Postgres
	testsvc.NewRedis(t) // likewise for Redis
	r := Run(context.Background(), Options{
		DatabaseURL: testsvc.DatabaseURL(), RedisURL: testsvc.RedisURL(), Rows: 500,
		Only: []string{"field-pg", "redis", "db", "redis-password"},
	})
	if len(r.Phases) != 4 {
		t.Fatalf("Only ran %d phases", len(r.Phases))
	}
	for _, p := range r.Phases {
		if p.Outcome != Passed {
			t.Errorf("%s: %s %s", p.ID, p.Outcome, p.Reason)
		}
	}
	if rp := phase(t, r, "redis-password"); !strings.Contains(strings.Join(rp.Facts, "\n"), ", 0 failed;") {
		t.Errorf("redis-password facts: %v", rp.Facts)
	}
	db := phase(t, r, "db")
	if db.Rollback == "" {
		t.Error("the db phase did not exercise a rollback")
	}
	md := r.Markdown()
	if !strings.Contains(md, "- Rollback exercised: ") || !strings.Contains(md, "0 failed during two rotations") {
		t.Errorf("report lacks the rollback or the failed-query count:\n%s", md)
	}
	if m := longToken.FindString(md); m != "" {
		t.Errorf("report contains something secret-shaped: %q", m)
	}
}

// TestScratchDBRefusesKeywordDSN: the drill derives DSNs by editing a URL; a
// key=value DSN is refused up front with what to give instead, before any
// database is created, and without echoing the DSN (it may hold a password).
func TestScratchDBRefusesKeywordDSN(t *testing.T) {
	for _, dsn := range []string{"host=127.0.0.1 user=postgres password=kv-secret-0123456789", "mysql://u@h/db", "::"} {
		_, _, err := scratchDB(context.Background(), dsn)
		if err == nil || !strings.Contains(err.Error(), "as a URL") {
			t.Errorf("DSN of %d bytes: %v, want a refusal asking for a URL", len(dsn), err)
		}
		if err != nil && strings.Contains(err.Error(), "kv-secret") {
			t.Errorf("the refusal echoes the DSN (message withheld)")
		}
	}
}
