package pgrole_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/pgrole"
)

// RetireDryRun returns plan steps (nothing ran, so not Applied), each
// naming its database, and runs none of them: the break-glass password is
// still the old one afterwards. Printed in any form, the steps never show
// the verifier they were computed for.
func TestRetireDryRunReturnsStepsAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	bg := verifierFor(t, "break-glass-"+f.password)
	steps, err := adm.RetireDryRun(ctx, pgrole.RetireOptions{Role: f.app, Mode: pgrole.RetireBreakGlass, BreakGlass: bg})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Database != f.db.Name || !strings.HasPrefix(steps[0].SQL, "ALTER ROLE ") || !strings.Contains(steps[0].SQL, "[redacted SCRAM-SHA-256 verifier") {
		t.Fatalf("dry-run steps %v, want one redacted ALTER ROLE in %s", steps, f.db.Name)
	}
	if got, want := steps[0].String(), "["+f.db.Name+"] "+steps[0].SQL; got != want {
		t.Fatalf("Step.String() = %q, want %q", got, want)
	}
	printed := fmt.Sprintf("%v %+v %#v %s", steps, steps, steps, steps[0])
	if text := strings.Trim(bg.SQLLiteral(), "'"); strings.Contains(printed, text) {
		t.Fatal("a printed dry-run step holds the break-glass verifier")
	}
	stored, err := adm.StoredVerifier(ctx, f.app)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Matches(fingerprint.NewSecret([]byte(f.password))) {
		t.Fatalf("the dry run changed %s's password", f.app)
	}
}

// A plan's steps hold the statement the executor sends (the new role's
// verifier); printing them with any verb shows only the redacted text.
func TestPlanStepsPrintRedacted(t *testing.T) {
	v := verifierFor(t, "new password")
	old := &pgrole.Role{Name: "app", ServerVersion: 150004, Attributes: pgrole.Attributes{Login: true, Inherit: true, ConnLimit: -1}}
	p, err := pgrole.BuildPlan(old, "goodgo", pgrole.PlanOptions{Role: "app", Verifier: v}, func(n string) bool { return n == "app" })
	if err != nil {
		t.Fatal(err)
	}
	steps := p.Phase(pgrole.PhaseCreate).Steps
	printed := fmt.Sprintf("%v %+v %#v", steps, steps, steps)
	if text := strings.Trim(v.SQLLiteral(), "'"); strings.Contains(printed, text) {
		t.Fatalf("printed plan steps hold the verifier")
	}
	if !strings.Contains(printed, "[redacted SCRAM-SHA-256 verifier") {
		t.Fatalf("printed plan steps lack the redacted statement: %s", printed)
	}
}
