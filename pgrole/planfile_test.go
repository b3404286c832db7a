package pgrole_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

// The plan written with CreatePlanFile (0600, verifier but no password) is
// the plan ReadPlan executes: same SQL, same verifier fingerprint; a catalog
// change after planning refuses it.
func TestPlanFileIsWhatIsApplied(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "pf")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))
	adm := connectAdmin(t, db.Name)
	pw := "plan-file-password-" + testsvc.Suffix()
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, pw)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := pgrole.CreatePlanFile(path, p); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file mode: %v %v", st.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(pw)) || !bytes.Contains(b, p.Verifier().Secret().Bytes()) {
		t.Fatal("plan file holds the password, or lacks the verifier")
	}
	if err := pgrole.CreatePlanFile(path, p); err == nil {
		t.Fatal("an existing plan file was overwritten")
	}

	// A change to the role's privileges after planning: refused.
	mustExec(t, db.Pool, "CREATE TABLE u (id int)", "GRANT SELECT ON u TO "+q(app))
	if _, err := adm.ReadPlan(ctx, bytes.NewReader(b)); !errors.Is(err, pgrole.ErrCatalogChanged) {
		t.Fatalf("plan applied after the catalog changed: %v", err)
	}
	mustExec(t, db.Pool, "DROP TABLE u")
	rp, err := adm.ReadPlan(ctx, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if rp.Verifier().Fingerprint() != p.Verifier().Fingerprint() || rp.New != p.New {
		t.Fatalf("read plan: %s fp=%s, planned %s fp=%s", rp.New, rp.Verifier().Fingerprint(), p.New, p.Verifier().Fingerprint())
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, rp, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	var stored string
	if err := db.Pool.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", p.New).Scan(&stored); err != nil || stored != string(p.Verifier().Secret().Bytes()) {
		t.Fatalf("the server holds another verifier than the plan's (%v)", err)
	}
	// Applying the same file twice: the rotation is unfinished, refused.
	if _, err := adm.ReadPlan(ctx, bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("second apply of the plan file: %v", err)
	}
	if _, err := adm.ReadPlan(ctx, strings.NewReader(`{"version": 9}`)); !errors.Is(err, pgrole.ErrBadPlan) {
		t.Fatalf("bad plan file: %v", err)
	}
}
