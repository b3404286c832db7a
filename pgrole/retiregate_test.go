package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
)

// Issue 11 re-trial, B1: retire refuses, before changing anything, while
// the rotation has not got past verify: mirror after only the create phase
// (the new role exists and has no grant), and alternate with no successor
// login role at all. Once the grant phase ran, the same retire goes through.
func TestRetireRefusedBeforeVerify(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	adm := connectAdmin(t, db.Name)

	// Mirror, create phase only.
	app := testsvc.RoleName(t, "gm")
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, db.Pool, "CREATE TABLE t (id int)", "GRANT SELECT, INSERT ON t TO "+q(app))
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "gm-password"), Retire: pgrole.RetireDrop})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	o := pgrole.RetireOptions{Role: app, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop, ReassignTo: p.New}
	for name, f := range map[string]func() error{
		"Retire":       func() error { _, err := adm.Retire(ctx, o); return err },
		"RetireDryRun": func() error { _, err := adm.RetireDryRun(ctx, o); return err },
	} {
		err := f()
		if !errors.Is(err, pgrole.ErrSuccessorNotReady) || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "TABLE") {
			t.Fatalf("%s of a mirror rotation stopped after create: %v", name, err)
		}
	}
	var canInsert bool
	if err := db.Pool.QueryRow(ctx, "SELECT has_table_privilege($1, 't', 'INSERT')", app).Scan(&canInsert); err != nil || !canInsert {
		t.Fatalf("the refused retire changed %s (insert %v): %v", app, canInsert, err)
	}
	if st, err := adm.Rotation(ctx, app); err != nil || st == nil {
		t.Fatalf("the refused retire cleared the record: %v %v", st, err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseGrant); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Retire(ctx, o); err != nil {
		t.Fatalf("retire after the grant phase: %v", err)
	}

	// Alternate, no successor role at all.
	alt := testsvc.RoleName(t, "ga")
	mustExec(t, admin, "CREATE ROLE "+q(alt)+" LOGIN")
	_, err = adm.Retire(ctx, pgrole.RetireOptions{Role: alt, Mode: pgrole.RetireNoLogin})
	if !errors.Is(err, pgrole.ErrSuccessorNotReady) || !strings.Contains(err.Error(), "member of the stable role") {
		t.Fatalf("alternate nologin with no successor: %v", err)
	}
	var login bool
	if err := admin.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", alt).Scan(&login); err != nil || !login {
		t.Fatalf("the refused retire made %s NOLOGIN: %v", alt, err)
	}
	// A login member of the stable role inherits all it can do: ready.
	mustExec(t, db.Pool, "CREATE TABLE u (id int)", "GRANT SELECT ON u TO "+q(alt))
	mustExec(t, admin, "CREATE ROLE "+q(alt+"_v2")+" LOGIN IN ROLE "+q(alt))
	if _, err := adm.Retire(ctx, pgrole.RetireOptions{Role: alt, Mode: pgrole.RetireNoLogin}); err != nil {
		t.Fatalf("alternate nologin with a ready successor: %v", err)
	}
}

// Issue 11 re-trial, B1 and B3 from another database: a rotation recorded
// in database A is refused a retire from database B until it got past
// verify; once it did, the retire from B clears the record in A (history
// "retired", marker gone): Rotation finds nothing from either database, and
// a new plan for a re-created role of the same name is accepted.
func TestRetireFromOtherDatabaseGatesAndClearsRecord(t *testing.T) {
	ctx := context.Background()
	dbA, dbB := testsvc.Postgres(t), testsvc.Postgres(t)
	admin := testsvc.Admin(t)
	app := testsvc.RoleName(t, "xd")
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN")
	mustExec(t, dbA.Pool, "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+q(app))
	admA, admB := connectAdmin(t, dbA.Name), connectAdmin(t, dbB.Name)
	v := verifierFor(t, "xd-password")
	p, err := admA.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v, Retire: pgrole.RetireDrop})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admA.ApplyPhase(ctx, p, pgrole.PhaseCreate); err != nil {
		t.Fatal(err)
	}
	o := pgrole.RetireOptions{Role: app, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop, ReassignTo: p.New}
	if _, err := admB.Retire(ctx, o); !errors.Is(err, pgrole.ErrSuccessorNotReady) || !strings.Contains(err.Error(), dbA.Name) {
		t.Fatalf("retire from %s before verify: %v", dbB.Name, err)
	}
	if roleCount(t, app) != 2 {
		t.Fatal("the refused retire dropped a role")
	}
	if _, err := admA.ApplyPhase(ctx, p, pgrole.PhaseGrant); err != nil {
		t.Fatal(err)
	}
	if _, err := admB.Retire(ctx, o); err != nil {
		t.Fatalf("retire from %s after verify: %v", dbB.Name, err)
	}
	for _, adm := range []*pgrole.Admin{admA, admB} {
		if st, err := adm.Rotation(ctx, app); err != nil || st != nil {
			t.Fatalf("record after the retire from the other database: %+v, %v", st, err)
		}
	}
	if _, ok, err := admA.Retired(ctx, app); err != nil || !ok {
		t.Fatalf("history of %s after the retire from %s: %v %v", dbA.Name, dbB.Name, ok, err)
	}
	var comment *string
	if err := admin.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", p.New).Scan(&comment); err != nil || comment != nil {
		t.Fatalf("marker on %s after the retire: %v %v", p.New, comment, err)
	}
	mustExec(t, admin, "CREATE ROLE "+q(app)+" LOGIN")
	if _, err := admA.Plan(ctx, pgrole.PlanOptions{Role: app, Strategy: pgrole.Mirror, Verifier: v}); err != nil {
		t.Fatalf("plan for a re-created %s: %v", app, err)
	}
}
