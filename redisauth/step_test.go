package redisauth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/redisauth"
)

// RetireDryRun returns plan steps (nothing ran), as pgrole's does, and
// runs none of them: the old password still logs in. Printed with any
// verb, a step shows its reviewable command, never a whole hash.
func TestRetireDryRunReturnsStepsAndChangesNothing(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{ACLFile: true})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, ">"+newPW, "~app:*", "+@all").Err())
	must(t, c.Do(ctx, "ACL", "SAVE").Err())
	adm := connect(t, s.Addr, "", "")
	steps, err := adm.RetireDryRun(ctx, redisauth.RetireOptions{Strategy: redisauth.Dual, User: "app", Password: secret(newPW)})
	must(t, err)
	if len(steps) != 2 || steps[0].Phase != redisauth.PhaseRetire || !strings.HasPrefix(steps[0].Command, "ACL SETUSER app !") || steps[1].Command != "ACL SAVE" {
		t.Fatalf("dry-run steps %v", steps)
	}
	if got, want := steps[0].String(), "["+s.Addr+"] "+steps[0].Command; got != want {
		t.Fatalf("Step.String() = %q, want %q", got, want)
	}
	printed := fmt.Sprintf("%v %+v %#v", steps, steps, steps)
	if strings.Contains(printed, redisauth.Hash([]byte(oldPW))) || strings.Contains(printed, oldPW) {
		t.Fatalf("a printed step holds the whole hash: %s", printed)
	}
	for addr, err := range adm.CheckLogin(ctx, "app", secret(oldPW)) {
		if err != nil {
			t.Fatalf("after a dry run the old password fails on %s: %v", addr, err)
		}
	}
}

// Once retire removed the old password, Rollback refuses with
// ErrRolledForward, pgrole's name for the same refusal, and leaves the
// new password in place.
func TestRollbackAfterRetireIsRolledForward(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{ACLFile: true})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, "~app:*", "+@all").Err())
	must(t, c.Do(ctx, "ACL", "SAVE").Err())
	adm := connect(t, s.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Strategy: redisauth.Dual, Password: secret(newPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	if _, err := adm.Rollback(ctx, plan); !errors.Is(err, redisauth.ErrRolledForward) || errors.Is(err, redisauth.ErrBadPlan) {
		t.Fatalf("rollback after retire: %v, want ErrRolledForward", err)
	}
	for addr, err := range adm.CheckLogin(ctx, "app", secret(newPW)) {
		if err != nil {
			t.Fatalf("a refused rollback removed the new password on %s: %v", addr, err)
		}
	}
}

// Drain with Terminate (incident mode) ends the user's clients, as
// pgrole's Terminate ends a role's sessions, and reports how many.
func TestDrainTerminateEndsClients(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, "~app:*", "+@all").Err())
	app := client(t, s.Addr, "app", oldPW)
	must(t, app.Ping(ctx).Err())
	adm := connect(t, s.Addr, "", "")
	var last redisauth.DrainProgress
	err := adm.Drain(ctx, "app", redisauth.DrainOptions{Terminate: true, Timeout: 10 * time.Second, Poll: 100 * time.Millisecond,
		Progress: func(p redisauth.DrainProgress) { last = p }})
	if err != nil || last.Terminated < 1 || last.Clients != 0 {
		t.Fatalf("drain with Terminate: %v, last progress %+v; want drained with ≥1 terminated", err, last)
	}
}
