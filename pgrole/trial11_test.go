package pgrole_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// validUntilDiffs returns the VALID UNTIL findings of Diff(old, new).
func validUntilDiffs(t *testing.T, adm *pgrole.Admin, old, new string) []string {
	t.Helper()
	ms, err := adm.Diff(context.Background(), old, new)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Kind == "ATTRIBUTE" && strings.Contains(m.Privilege, "VALID UNTIL") {
			out = append(out, m.Privilege)
		}
	}
	return out
}

func roleCount(t *testing.T, prefix string) int {
	t.Helper()
	var n int
	if err := testsvc.Admin(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 11 trial, finding 1: VALID UNTIL is the password's, not a
// privilege. An expired one is never copied (Plan refuses, naming
// --valid-until), a given one is used and accepted by verify, a future one
// is copied and said so.
func TestTrial11ValidUntil(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	app := testsvc.RoleName(t, "vu")
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN VALID UNTIL '2001-01-01 00:00:00+00'")
	mustExec(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))
	adm := connectAdmin(t, db.Name)
	v := verifierFor(t, "vu-password")

	for _, s := range []pgrole.Strategy{pgrole.Mirror, pgrole.Alternate} {
		_, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: s, Verifier: v})
		if !errors.Is(err, pgrole.ErrBadPlan) || !strings.Contains(err.Error(), "--valid-until") || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("%s: plan of a role whose password expired: %v", s, err)
		}
	}
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v, ValidUntil: "2002-01-01T00:00:00Z"}); !errors.Is(err, pgrole.ErrBadPlan) || !strings.Contains(err.Error(), "has passed") {
		t.Fatalf("a VALID UNTIL in the past: %v", err)
	}
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: v, ValidUntil: "next tuesday"}); !errors.Is(err, pgrole.ErrBadPlan) || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("a bad VALID UNTIL: %v", err)
	}
	if n := roleCount(t, app+"_v"); n != 0 {
		t.Fatalf("%d new role(s) created by refused plans", n)
	}

	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v, ValidUntil: "infinity"})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Render(); !strings.Contains(r, "VALID UNTIL 'infinity' PASSWORD") || !strings.Contains(r, "set by this plan") {
		t.Fatalf("plan:\n%s", r)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	// The plan's VALID UNTIL is accepted for this rotation only: the same
	// pair compared by another role name would be a finding.
	if d := validUntilDiffs(t, adm, app, p.New); len(d) != 0 {
		t.Fatalf("planned VALID UNTIL reported: %v", d)
	}
	// An expiry set by hand that is not the planned one is a finding; an
	// expired one says so.
	mustExec(t, admin, "ALTER ROLE "+q(p.New)+" VALID UNTIL '2099-01-01 00:00:00+00'")
	if d := validUntilDiffs(t, adm, app, p.New); len(d) != 1 {
		t.Fatalf("unplanned VALID UNTIL: %v", d)
	}
	mustExec(t, admin, "ALTER ROLE "+q(p.New)+" VALID UNTIL '2000-01-01 00:00:00+00'")
	if d := validUntilDiffs(t, adm, app, p.New); len(d) != 1 || !strings.Contains(d[0], "expired") {
		t.Fatalf("expired new password: %v", d)
	}
	// Resume repairs it, and removes an attribute added by hand.
	mustExec(t, admin, "ALTER ROLE "+q(p.New)+" CREATEDB")
	rp, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Resume: true, ValidUntil: "infinity"})
	if err != nil {
		t.Fatal(err)
	}
	if r := rp.Render(); !strings.Contains(r, "NOCREATEDB") {
		t.Fatalf("resume plan does not remove CREATEDB:\n%s", r)
	}
	if _, err := adm.ApplyPhase(ctx, rp, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	if err := adm.VerifyPrivileges(ctx, app, p.New); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

// A future VALID UNTIL is copied, and the plan says how to set a fresh one;
// NULL and 'infinity' are the same; an earlier expiry is a finding.
func TestTrial11ValidUntilCopiedAndCompared(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	app, a, b, c := testsvc.RoleName(t, "vc"), testsvc.RoleName(t, "vna"), testsvc.RoleName(t, "vnb"), testsvc.RoleName(t, "vnc")
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN VALID UNTIL '2999-01-01 00:00:00+00'",
		"CREATE ROLE "+q(a)+" LOGIN", "CREATE ROLE "+q(b)+" LOGIN VALID UNTIL 'infinity'", "CREATE ROLE "+q(c)+" LOGIN VALID UNTIL '2998-01-01 00:00:00+00'")
	adm := connectAdmin(t, db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Render(); !strings.Contains(r, "VALID UNTIL '2999-01-01 00:00:00.000000+00'") || !strings.Contains(r, "copied from") || !strings.Contains(r, "--valid-until") {
		t.Fatalf("plan:\n%s", r)
	}
	if d := validUntilDiffs(t, adm, a, b); len(d) != 0 {
		t.Fatalf("NULL vs infinity: %v", d)
	}
	if d := validUntilDiffs(t, adm, b, a); len(d) != 0 {
		t.Fatalf("infinity vs NULL: %v", d)
	}
	if d := validUntilDiffs(t, adm, app, c); len(d) != 1 || !strings.Contains(d[0], "expires before the old one") {
		t.Fatalf("earlier expiry: %v", d)
	}
	if d := validUntilDiffs(t, adm, a, c); len(d) != 1 {
		t.Fatalf("never vs a date (the issue: a missing VALID UNTIL is noticed): %v", d)
	}
}

// With the old password expired, a rotation with --valid-until gives a new
// role that logs in with its password (the trial's outage at cutover).
func TestTrial11ValidUntilNewRoleLogsIn(t *testing.T) {
	testsvc.RequireScram(t)
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "vl")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN VALID UNTIL '2001-01-01 00:00:00+00'")
	adm := connectAdmin(t, db.Name)
	pw := "vl-" + testsvc.Suffix() + testsvc.Suffix()
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, pw), ValidUntil: "infinity"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	c, err := pgx.Connect(ctx, testsvc.URLAs(testsvc.ScramDatabase, p.New, pw))
	if err != nil {
		t.Fatalf("new role cannot log in: %v", err)
	}
	c.Close(ctx)
}

// Finding 4: the record of an unfinished rotation is found from another
// database of the cluster, which refuses to start a second rotation and
// names the database holding it.
func TestTrial11RotationSeenFromEveryDatabase(t *testing.T) {
	ctx := context.Background()
	dbA, dbB := testsvc.Postgres(t), testsvc.Postgres(t)
	app := testsvc.RoleName(t, "sd")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	admA, admB := connectAdmin(t, dbA.Name), connectAdmin(t, dbB.Name)
	v := verifierFor(t, "sd-password")
	p, err := admA.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admA.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	st, err := admB.Rotation(ctx, app)
	if err != nil || st == nil || st.New != p.New || st.Database != dbA.Name || !st.Elsewhere(dbB.Name) {
		t.Fatalf("rotation seen from %s: %+v, %v", dbB.Name, st, err)
	}
	for _, resume := range []bool{false, true} {
		_, err := admB.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v, Resume: resume})
		if !errors.Is(err, pgrole.ErrRotationInProgress) || !strings.Contains(err.Error(), dbA.Name) {
			t.Fatalf("plan from the other database (resume %v): %v", resume, err)
		}
	}
	if n := roleCount(t, app+"_v3"); n != 0 {
		t.Fatal("a _v3 was created")
	}
	// Rolled back where it is recorded: the marker goes, the other database may start one.
	if _, err := admA.Rollback(ctx, p); err != nil {
		t.Fatal(err)
	}
	if st, err := admB.Rotation(ctx, app); err != nil || st != nil {
		t.Fatalf("after rollback: %+v, %v", st, err)
	}
	if _, err := admB.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v}); err != nil {
		t.Fatal(err)
	}
}

// Findings 7 and 10: a plan file is applied once (refused after rollback,
// with the reason), and an edited one is told from a changed catalog.
func TestTrial11PlanFileSingleUse(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "pf")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))
	adm := connectAdmin(t, db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "pf-password")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := pgrole.CreatePlanFile(path, p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte(`"retire": "break-glass"`), []byte(`"retire": "nologin"`), 1)
	if bytes.Equal(edited, b) {
		t.Fatalf("test cannot edit the plan file:\n%s", b)
	}
	if _, err := adm.ReadPlan(ctx, bytes.NewReader(edited)); !errors.Is(err, pgrole.ErrPlanEdited) || errors.Is(err, pgrole.ErrCatalogChanged) {
		t.Fatalf("edited plan file: %v", err)
	}
	fp, err := adm.ReadPlan(ctx, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, fp, ph); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.ReadPlan(ctx, bytes.NewReader(b)); !errors.Is(err, pgrole.ErrPlanUsed) || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("second use while unfinished: %v", err)
	}
	if _, err := adm.Rollback(ctx, fp); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ReadPlan(ctx, bytes.NewReader(b)); !errors.Is(err, pgrole.ErrPlanUsed) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("second use after rollback: %v", err)
	}
	if n := roleCount(t, p.New); n != 0 {
		t.Fatal("the rolled-back role exists again")
	}
}

// Finding 8: a mirror plan of a role that owns objects warns before
// anything is committed, naming them and the fix.
func TestTrial11MirrorPlanWarnsAboutOwnedObjects(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "ow")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE owned_t (id int)", "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))
	adm := connectAdmin(t, db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil || p.OwnerWarning() != "" {
		t.Fatalf("owns nothing: %q, %v", p.OwnerWarning(), err)
	}
	mustExec(t, db.Pool, "ALTER TABLE owned_t OWNER TO "+q(app), "ALTER DEFAULT PRIVILEGES FOR ROLE "+q(app)+" GRANT SELECT ON TABLES TO PUBLIC")
	p, err = adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	w := p.OwnerWarning()
	if !strings.Contains(w, "owned_t") || !strings.Contains(w, "NOLOGIN owner role") || strings.Contains(w, "default privileges") || !strings.Contains(p.Render(), "WARNING: ") {
		t.Fatalf("warning: %q", w)
	}
	// It is what verify would refuse: apply create and grant, and the diff names it.
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	if err := adm.VerifyPrivileges(ctx, app, p.New); !errors.Is(err, pgrole.ErrPrivilegeDiff) || !strings.Contains(err.Error(), "owned_t") {
		t.Fatalf("verify: %v", err)
	}
}

// Finding 10: each transaction is reported as it commits, so an
// interrupted apply shows what is committed.
func TestTrial11ProgressReportsCommits(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "pr")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE t1 (id int)", "CREATE TABLE t2 (id int)", "GRANT SELECT ON t1, t2 TO "+q(app))
	adm := connectAdmin(t, db.Name)
	adm.SetLockRetry(pgrole.LockRetry{BatchSize: 1})
	var events [][]pgrole.Applied
	adm.SetProgress(func(ev pgrole.Progress) {
		if len(ev.Committed) > 0 {
			events = append(events, ev.Committed)
		}
	})
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	var all []pgrole.Applied
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		n := len(events)
		applied, err := adm.ApplyPhase(ctx, p, ph)
		if err != nil {
			t.Fatal(err)
		}
		if ph == pgrole.PhaseGrant && len(events)-n < 2 {
			t.Fatalf("grant phase reported %d commit(s), want one per transaction", len(events)-n)
		}
		all = append(all, applied...)
	}
	var seen []pgrole.Applied
	for _, e := range events {
		seen = append(seen, e...)
	}
	if len(seen) != len(all) {
		t.Fatalf("progress reported %d statements, applied %d", len(seen), len(all))
	}
}

// Finding 10: an operator that cannot use an existing state table is told
// the grants it needs (schema USAGE and the tables' privileges), and those
// grants are enough.
func TestTrial11StateTableGrantsNamed(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	app, other, weak := testsvc.RoleName(t, "sg"), testsvc.RoleName(t, "sgo"), testsvc.RoleName(t, "sgw")
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(other)+" LOGIN", "CREATE ROLE "+q(weak)+" LOGIN CREATEROLE")
	// The superuser's rotation creates the state tables.
	adm := connectAdmin(t, db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: other, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rollback(ctx, p); err != nil {
		t.Fatal(err)
	}
	w, err := pgrole.Connect(ctx, testsvc.URLAs(db.Name, weak, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	_, err = w.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if !errors.Is(err, pgrole.ErrInsufficientPrivilege) || !strings.Contains(err.Error(), "GRANT USAGE ON SCHEMA rotation") ||
		!strings.Contains(err.Error(), "GRANT SELECT, INSERT, UPDATE, DELETE ON rotation.pgrole_state") || strings.Contains(err.Error(), "CREATE on the database") {
		t.Fatalf("weak operator: %v", err)
	}
	mustExec(t, db.Pool, "GRANT USAGE ON SCHEMA rotation TO "+q(weak), "GRANT SELECT, INSERT, UPDATE, DELETE ON rotation.pgrole_state TO "+q(weak),
		"GRANT SELECT, INSERT ON rotation.pgrole_history TO "+q(weak))
	if _, err := w.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")}); err != nil {
		t.Fatalf("after the grants it named: %v", err)
	}
}

// Finding 10: a lock conflict in the grant phase is reported as it waits
// (Progress.Retry), then the phase goes on.
func TestTrial11ProgressReportsLockRetries(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "lr")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE locked (id int)", "GRANT SELECT ON locked TO "+q(app))
	adm := connectAdmin(t, db.Name)
	adm.SetLockRetry(pgrole.LockRetry{Timeout: 100 * time.Millisecond, Attempts: 50, MaxBackoff: 200 * time.Millisecond})
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	// An application transaction holds the table for a while.
	holder, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "LOCK TABLE locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	retries := make(chan pgrole.Progress, 100)
	adm.SetProgress(func(ev pgrole.Progress) {
		if ev.Retry > 0 {
			select {
			case retries <- ev:
			default:
			}
		}
	})
	done := make(chan error, 1)
	go func() { _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseGrant); done <- err }()
	var ev pgrole.Progress
	select {
	case ev = <-retries:
	case err := <-done:
		t.Fatalf("grant phase ended without a reported retry: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no retry reported")
	}
	_ = holder.Rollback(ctx)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ev.Phase != pgrole.PhaseGrant || ev.Retry < 2 || ev.Attempts != 50 || ev.Err == nil || ev.Database != db.Name {
		t.Fatalf("retry event: %+v", ev)
	}
}
