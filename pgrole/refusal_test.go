package pgrole_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

// The runbook's Option A after "GRANT app TO app_v2" is refused, both at
// plan time and at apply time, with the reason.
func TestDropRefusedWhileNewRoleIsAMember(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	_, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Retire: pgrole.RetireDrop, Verifier: verifierFor(t, "x")})
	if !errors.Is(err, pgrole.ErrStableRole) || !strings.Contains(err.Error(), "Option A") {
		t.Fatalf("plan drop of the stable role: %v", err)
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	// Mirror-style drop of the old role while v2 is its member.
	mp := *p
	mp.Strategy, mp.Retire, mp.ReassignTo = pgrole.Mirror, pgrole.RetireDrop, p.New
	_, err = adm.ApplyPhase(ctx, &mp, pgrole.PhaseRetire)
	var de *pgrole.DependencyError
	if !errors.As(err, &de) || !errors.Is(err, pgrole.ErrDependentMembers) || de.Members[0] != p.New {
		t.Fatalf("drop with a dependent member: %v", err)
	}
	f.check(t, p.New) // nothing was applied
}

func TestDropRefusedWithSessionsAndOwnedObjects(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	// Without a reassign target the plan refuses: the old role owns a table.
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop,
		Verifier: verifierFor(t, "x")}); !errors.Is(err, pgrole.ErrOwnsObjects) {
		t.Fatalf("owned objects without a target: %v", err)
	}
	// Mirror cannot copy owner rights (verify would refuse): share them.
	f.shareOwnership(t)
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop,
		ReassignTo: f.app + "_v2", Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatal(err)
		}
	}
	c, err := pgx.Connect(ctx, testsvc.URLAs(f.db.Name, f.app, ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = adm.ApplyPhase(ctx, p, pgrole.PhaseRetire)
	if !errors.Is(err, pgrole.ErrSessionsRemain) {
		t.Fatalf("drop with a live session: %v", err)
	}
	// Drain times out while the session lives, reporting progress…
	var seen []pgrole.DrainProgress
	err = adm.Drain(ctx, f.app, pgrole.DrainOptions{Timeout: 300 * quickDrain.Poll / 100, Poll: quickDrain.Poll,
		Progress: func(s pgrole.DrainProgress) { seen = append(seen, s) }})
	if !errors.Is(err, pgrole.ErrDrainTimeout) || len(seen) == 0 || seen[0].Sessions != 1 {
		t.Fatalf("drain with a live session: %v %+v", err, seen)
	}
	// …and incident mode terminates it.
	if err := adm.Drain(ctx, f.app, pgrole.DrainOptions{Terminate: true, Timeout: quickDrain.Timeout, Poll: quickDrain.Poll}); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("the session survived incident drain")
	}
	// A mistyped role is not "drained": it has no sessions because it does
	// not exist.
	if err := adm.Drain(ctx, f.app+"_typo", quickDrain); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("drain of a role that does not exist: %v, want ErrRoleNotFound", err)
	}
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseRetire); err != nil {
		t.Fatal(err)
	}
}

func TestHostileAndLongNamesRefused(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		want error
	}{
		{`x"; DROP ROLE postgres; --`, pgrole.ErrInvalidName},
		{"app\x00", pgrole.ErrInvalidName},
		{"app role", pgrole.ErrInvalidName},
		{"pg_signal_backend", pgrole.ErrInvalidName},
		{"", pgrole.ErrInvalidName},
		{long, pgrole.ErrNameTooLong},
	} {
		_, err := adm.Plan(ctx, pgrole.PlanOptions{Role: tc.name, Verifier: verifierFor(t, "x")})
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.name, err, tc.want)
		}
		var ne *pgrole.NameError
		if !errors.As(err, &ne) {
			t.Errorf("%q: not a *NameError: %v", tc.name, err)
		}
	}
	// A base of 60 bytes leaves no room for "_v2".
	base := strings.Repeat("b", 61)
	if _, err := pgrole.NextLoginName(base, base, func(string) bool { return false }); !errors.Is(err, pgrole.ErrNameTooLong) {
		t.Fatalf("suffix overflow: %v", err)
	}
	if _, err := adm.Introspect(ctx, "rt_no_such_role_"+testsvc.Suffix()); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("missing role: %v", err)
	}
}

// A name that needs quoting (upper case, '-', '.', '$') is rotated safely.
func TestQuotedNameRotates(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	name := "RT-Mixed.Case$" + testsvc.RoleName(t, "q")
	t.Cleanup(func() {
		a := testsvc.Admin(t)
		for _, n := range []string{name + "_v2", name} {
			_, _ = a.Exec(context.Background(), "DROP OWNED BY "+pgx.Identifier{n}.Sanitize())
			_, _ = a.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize())
		}
	})
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN")
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: name, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Rotate(ctx, p, pgrole.Hooks{Drain: quickDrain}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Introspect(ctx, name+"_v2"); err != nil {
		t.Fatal(err)
	}
}

// The operator lacks a privilege: refused up front, or, when it fails
// midway, the error says exactly what was committed.
func TestOperatorLacksPrivilege(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	weak := testsvc.RoleName(t, "op")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(weak)+" LOGIN")
	adm, err := pgrole.Connect(ctx, testsvc.URLAs(f.db.Name, weak, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close(ctx)
	if _, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.app, Verifier: verifierFor(t, "x")}); !errors.Is(err, pgrole.ErrInsufficientPrivilege) {
		t.Fatalf("operator without CREATEROLE: %v", err)
	}
	// With CREATEROLE it can create roles, but not change the owner's
	// default privileges in the fixture database.
	mustExec(t, testsvc.Admin(t), "ALTER ROLE "+q(weak)+" CREATEROLE")
	adm2, err := pgrole.Connect(ctx, testsvc.URLAs(f.db.Name, weak, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer adm2.Close(ctx)
	// It cannot record the rotation's state: refused before anything runs.
	if _, err := adm2.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")}); !errors.Is(err, pgrole.ErrInsufficientPrivilege) || !strings.Contains(err.Error(), "rotation.pgrole_state") {
		t.Fatalf("operator that cannot record state: %v", err)
	}
	mustExec(t, f.db.Pool, "GRANT CREATE ON DATABASE "+q(f.db.Name)+" TO "+q(weak),
		"GRANT SET ON PARAMETER log_statement, log_min_error_statement, log_min_duration_statement TO "+q(weak))
	p, err := adm2.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	// The grant it cannot make is found before the create phase commits
	// anything: no LOGIN role is left behind.
	_, err = adm2.ApplyPhase(ctx, p, pgrole.PhaseCreate)
	if !errors.Is(err, pgrole.ErrInsufficientPrivilege) || !strings.Contains(err.Error(), "pre-check") || !strings.Contains(err.Error(), "GRANT") || !strings.Contains(err.Error(), "nothing was committed") {
		t.Fatalf("create phase as a weak operator: %v", err)
	}
	if _, err := adm2.Introspect(ctx, p.New); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("a role was left behind: %v", err)
	}
	if st, err := adm2.Rotation(ctx, f.app); err != nil || st != nil {
		t.Fatalf("rotation state left behind: %+v %v", st, err)
	}
	t.Logf("reported: %v", err)

	// The operator fixes the cause (here: runs as a superuser) and rotates.
	adm3 := connectAdmin(t, f.db.Name)
	f.shareOwnership(t) // mirror cannot copy owner rights
	rp, err := adm3.Plan(ctx, pgrole.PlanOptions{Role: f.app, Strategy: pgrole.Mirror, New: p.New, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := adm3.ApplyPhase(ctx, rp, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	f.check(t, p.New)
}

// A password statement that fails (here: resuming onto a role dropped in
// the meantime) must not put the verifier into the server log as the
// statement of the error. Skipped when the server log cannot be read.
func TestFailedPasswordStatementStaysOutOfServerLog(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	logPath := serverLog(t)
	app := testsvc.RoleName(t, "lg")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(app)+" LOGIN", "CREATE ROLE "+q(app+"_v2")+" LOGIN")
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: app, New: app + "_v2", Resume: true, Verifier: verifierFor(t, "x")})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, testsvc.Admin(t), "DROP ROLE "+q(app+"_v2"))
	before, err := os.Stat(logPath)
	if err != nil {
		t.Skipf("server log unreadable: %v", err)
	}
	var ae *pgrole.ApplyError
	if _, err := adm.ApplyPhase(ctx, p, pgrole.PhaseCreate); !errors.As(err, &ae) {
		t.Fatalf("resume onto a dropped role: %v, want *ApplyError", err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Skipf("server log unreadable: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(before.Size(), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tail), app+"_v2") {
		t.Skip("the server log does not show this test's error (another log file?)")
	}
	if strings.Contains(string(tail), string(p.Verifier().Secret().Bytes())) {
		t.Fatal("the server log holds the verifier of the failed statement")
	}
}

// serverLog returns the server's log file: pg_current_logfile() with the
// logging collector, else the Debian default for the running major version.
func serverLog(t *testing.T) string {
	var path *string
	var major int
	if err := testsvc.Admin(t).QueryRow(context.Background(),
		"SELECT pg_current_logfile(), current_setting('server_version_num')::int / 10000").Scan(&path, &major); err != nil {
		t.Fatal(err)
	}
	if path != nil && *path != "" {
		if filepath.IsAbs(*path) {
			return *path
		}
		var dir string
		_ = testsvc.Admin(t).QueryRow(context.Background(), "SELECT current_setting('data_directory')").Scan(&dir)
		return filepath.Join(dir, *path)
	}
	return fmt.Sprintf("/var/log/postgresql/postgresql-%d-main.log", major)
}

// ValidateName allows '$', so a name may hold "$$": the drop's session
// check, a dollar-quoted DO block, must still parse and let the drop run.
func TestDropRoleWithDollarsInName(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	name := testsvc.RoleName(t, "dl") + "$$x"
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(name)+" LOGIN")
	if _, err := adm.Retire(ctx, pgrole.RetireOptions{Role: name, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop}); err != nil {
		t.Fatalf("drop %q: %v", name, err)
	}
	if _, err := adm.Introspect(ctx, name); !errors.Is(err, pgrole.ErrRoleNotFound) {
		t.Fatalf("%q survived the drop: %v", name, err)
	}
}

// A mistyped strategy is refused; it must not pass for "not alternate",
// which would lift the stable role's protection against a drop.
func TestRetireRefusesUnknownStrategy(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	adm := connectAdmin(t, db.Name)
	stable := testsvc.RoleName(t, "st")
	mustExec(t, testsvc.Admin(t), "CREATE ROLE "+q(stable)+" LOGIN")
	_, err := adm.Retire(ctx, pgrole.RetireOptions{Role: stable, Strategy: "Alternate", Mode: pgrole.RetireDrop})
	if !errors.Is(err, pgrole.ErrBadPlan) {
		t.Fatalf("retire with strategy %q: %v, want ErrBadPlan", "Alternate", err)
	}
	if _, err := adm.Introspect(ctx, stable); err != nil {
		t.Fatalf("the stable role was dropped: %v", err)
	}
}
