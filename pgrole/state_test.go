package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

// A second rotation while one is unfinished is refused (no _v3); a resume
// from a new connection (the operator's process crashed) continues onto the
// same role with the same verifier, byte for byte, so PgBouncer's userlist
// stays valid; retire ends the rotation and the next one may start.
func TestUnfinishedRotationRefusedAndResumed(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "state")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))

	adm := connectAdmin(t, db.Name)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: verifierFor(t, "first-password")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		var s string
		if err := db.Pool.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", p.New).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := stored()
	adm.Close(ctx) // the operator's process dies here

	adm = connectAdmin(t, db.Name)
	_, err = adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: verifierFor(t, "first-password")})
	if !errors.Is(err, pgrole.ErrRotationInProgress) || !strings.Contains(err.Error(), p.New) || !strings.Contains(err.Error(), "Resume") {
		t.Fatalf("second rotation while one is unfinished: %v", err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", app+"_v3").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a _v3 role exists (%d, %v)", n, err)
	}
	st, err := adm.Rotation(ctx, app)
	if err != nil || st == nil || st.New != p.New || st.Verifier.Fingerprint() != p.Verifier().Fingerprint() {
		t.Fatalf("state: %+v, %v", st, err)
	}

	// Resume: a fresh verifier is offered (new salt) but the recorded one is used.
	rp, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Resume: true, Verifier: verifierFor(t, "first-password")})
	if err != nil {
		t.Fatal(err)
	}
	if rp.New != p.New || rp.Verifier().Fingerprint() != p.Verifier().Fingerprint() {
		t.Fatalf("resume onto %s fp=%s, want %s fp=%s", rp.New, rp.Verifier().Fingerprint(), p.New, p.Verifier().Fingerprint())
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, rp, ph); err != nil {
			t.Fatalf("resume %s: %v", ph, err)
		}
	}
	if stored() != first {
		t.Fatal("resume re-salted the verifier")
	}
	// The state holds the verifier, never the password, and PUBLIC cannot read it.
	var leak, public bool
	if err := db.Pool.QueryRow(ctx, `SELECT bool_or(verifier LIKE '%first-password%'), has_table_privilege('public', 'rotation.pgrole_state', 'SELECT')
		FROM rotation.pgrole_state`).Scan(&leak, &public); err != nil || leak || public {
		t.Fatalf("state table: leak=%v public=%v %v", leak, public, err)
	}
	if _, err := adm.ApplyPhase(ctx, rp, pgrole.PhaseRetire); err != nil {
		t.Fatal(err)
	}
	if st, err := adm.Rotation(ctx, app); err != nil || st != nil {
		t.Fatalf("state after retire: %+v %v", st, err)
	}
	// Finished: the next rotation (from the new login role) may start.
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Verifier: verifierFor(t, "second-password")}); err != nil {
		t.Fatalf("next rotation after retire: %v", err)
	}
}
