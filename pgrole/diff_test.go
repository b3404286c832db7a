package pgrole_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

func findings(ms []pgrole.Difference) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		out[m.Kind+" "+m.Object+" "+m.Privilege] = true
	}
	return out
}

// Issue 11.4: mirror copies parameter privileges and VALID UNTIL and the
// membership options; the diff then is empty, and each of these taken away
// from the new role, or added to it, is a finding: parameter privileges,
// VALID UNTIL, the PostgreSQL 16 SET and ADMIN options, PostgreSQL 17
// MAINTAIN, ownership and object privileges, both ways.
func TestDiffEveryKindBothWays(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.shareOwnership(t)
	adm := connectAdmin(t, f.db.Name)
	v := adm.ServerVersion()
	t.Logf("server_version_num %d", v)
	grp := testsvc.RoleName(t, "grp")
	app := q(f.app)
	admin := testsvc.Admin(t)
	mustExec(t, admin,
		"CREATE ROLE "+q(grp)+" NOLOGIN",
		"GRANT SET ON PARAMETER log_min_duration_statement TO "+app,
		"ALTER ROLE "+app+" VALID UNTIL '"+validUntil()+"'")
	if v >= 160000 {
		mustExec(t, admin, "GRANT "+q(grp)+" TO "+app+" WITH ADMIN TRUE, SET FALSE")
	} else {
		mustExec(t, admin, "GRANT "+q(grp)+" TO "+app+" WITH ADMIN OPTION")
	}
	if v >= 170000 {
		mustExec(t, f.db.Pool, "GRANT MAINTAIN ON app.orders TO "+app)
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "new-"+f.password)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	if err := adm.VerifyPrivileges(ctx, p.Old, p.New); err != nil {
		t.Fatalf("after the mirror grant phase: %v", err)
	}
	nw := q(p.New)
	mustExec(t, admin,
		"REVOKE SET ON PARAMETER log_min_duration_statement FROM "+nw,
		"GRANT ALTER SYSTEM ON PARAMETER log_min_duration_statement TO "+nw,
		"ALTER ROLE "+nw+" VALID UNTIL 'infinity'",
		"REVOKE ADMIN OPTION FOR "+q(grp)+" FROM "+nw)
	mustExec(t, f.db.Pool,
		"GRANT DELETE ON app.orders TO "+nw,
		"CREATE TABLE app.new_owns (x int)",
		"ALTER TABLE app.new_owns OWNER TO "+nw)
	want := []string{
		"PARAMETER log_min_duration_statement SET",
		"PARAMETER log_min_duration_statement extra: ALTER SYSTEM",
		"MEMBERSHIP " + grp + " ADMIN OPTION on",
		"TABLE app.orders extra: DELETE",
		"OWNER TABLE app.new_owns extra: owner rights (of " + p.New + ")",
	}
	if v >= 160000 {
		mustExec(t, admin, "GRANT "+q(grp)+" TO "+nw+" WITH SET TRUE")
		want = append(want, "MEMBERSHIP "+grp+" extra: SET ROLE to")
	}
	if v >= 170000 {
		mustExec(t, f.db.Pool, "REVOKE MAINTAIN ON app.orders FROM "+nw)
		want = append(want, "TABLE app.orders MAINTAIN")
	}
	ms, err := adm.Diff(ctx, p.Old, p.New)
	if err != nil {
		t.Fatal(err)
	}
	got := findings(ms)
	for _, w := range want {
		if !got[w] {
			t.Errorf("diff does not list %q:\n%v", w, ms)
		}
	}
	var validUntilSeen bool
	for _, m := range ms {
		if m.Kind == "ATTRIBUTE" && strings.HasPrefix(m.Privilege, "VALID UNTIL ") && strings.Contains(m.Privilege, "infinity") {
			validUntilSeen = true
		}
	}
	if !validUntilSeen {
		t.Errorf("diff does not list the VALID UNTIL change: %v", ms)
	}
}

// validUntil is a VALID UNTIL a year from now.
func validUntil() string { return time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339) }
