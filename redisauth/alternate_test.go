package redisauth_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/redisauth"
)

var appRules = []string{"reset", "on", ">" + oldPW, "~app:*", "%R~shared:*", "~rt:alt:*", "resetchannels", "&rt:alt:*",
	"-@all", "+@read", "+@write", "+@pubsub", "+@connection", "-keys", "(~audit:* +xadd)"}

// TestAlternateReplica rotates app → app_v2 on a primary and its replica
// under load; drain is observed through CLIENT LIST, retire deletes app.
func TestAlternateReplica(t *testing.T) {
	ctx := ctxT(t)
	prim, repl := primaryReplica(t, redisserver.Options{})
	for _, s := range []*redisserver.Server{prim, repl} {
		must(t, client(t, s.Addr, "", "").ACLSetUser(ctx, "app", appRules...).Err())
		must(t, client(t, s.Addr, "", "").ConfigRewrite(ctx).Err())
	}
	monP, monR := monitor(t, prim.Addr, "", ""), monitor(t, repl.Addr, "", "")
	secrets := newSecretDir(t, map[string]string{"username": "app", "password": oldPW})
	creds := redisauth.PasswordFile(secrets.path("password"), secrets.path("username"))
	rdb := redis.NewClient(&redis.Options{Addr: prim.Addr, CredentialsProviderContext: creds, ConnMaxLifetime: 300 * time.Millisecond, PoolFIFO: true})
	defer rdb.Close()
	// Reads also go to the replica, as a read-scaling service would.
	rrdb := redis.NewClient(&redis.Options{Addr: repl.Addr, CredentialsProviderContext: creds, ConnMaxLifetime: 300 * time.Millisecond, PoolFIFO: true})
	defer rrdb.Close()
	l := startLoad(t, rdb, creds, "rt:alt:")
	var replicaReads, replicaFails int
	stopReads := make(chan struct{})
	readsDone := make(chan struct{})
	go func() {
		defer close(readsDone)
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			if err := rrdb.Get(ctx, "rt:alt:{w0}:1").Err(); err != nil && err != redis.Nil {
				replicaFails++
			}
			replicaReads++
			time.Sleep(3 * time.Millisecond)
		}
	}()

	adm := connect(t, prim.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	if plan.Strategy != redisauth.Alternate || plan.New != "app_v2" {
		t.Fatalf("plan %s → %s (%s)", plan.Old, plan.New, plan.Strategy)
	}
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	old, err := adm.Introspect(ctx, "app")
	must(t, err)
	nu, err := adm.Introspect(ctx, "app_v2")
	must(t, err)
	if fs := redisauth.Diff(old, nu); len(fs) != 0 || len(nu.Selectors) != 1 {
		t.Fatalf("rules differ: %v", fs)
	}
	// Retire before drain is refused: clients still use app.
	if _, err := adm.Retire(ctx, plan.RetireOptions()); !errors.Is(err, redisauth.ErrClientsRemain) {
		t.Fatalf("retire with clients: %v", err)
	}
	secrets.write(t, map[string]string{"username": "app_v2", "password": newPW}) // cutover
	var counts []int
	must(t, adm.Drain(ctx, "app", redisauth.DrainOptions{Timeout: time.Minute, Poll: 100 * time.Millisecond,
		Progress: func(s redisauth.DrainProgress) { counts = append(counts, s.Clients) }}))
	if len(counts) < 2 || counts[0] == 0 || counts[len(counts)-1] != 0 {
		t.Fatalf("drain counts %v: want clients seen, then none", counts)
	}
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	time.Sleep(500 * time.Millisecond)
	close(stopReads)
	<-readsDone
	l.check(t)
	if replicaFails != 0 || replicaReads < 50 {
		t.Fatalf("replica reads: %d, failed %d", replicaReads, replicaFails)
	}
	for addr, err := range adm.CheckLogin(ctx, "app", secret(oldPW)) {
		if err == nil {
			t.Errorf("%s: app still logs in", addr)
		}
	}
	for _, s := range []*redisserver.Server{repl, prim} {
		must(t, s.Restart())
	}
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	for _, s := range []*redisserver.Server{prim, repl} {
		c := client(t, s.Addr, "", "")
		if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "app_v2,default" {
			t.Errorf("%s after restart: users %v", s.Addr, u)
		}
		if err := client(t, s.Addr, "app_v2", newPW).Ping(ctx).Err(); err != nil {
			t.Errorf("%s after restart: app_v2: %v", s.Addr, err)
		}
	}
	adm2 := connect(t, prim.Addr, "", "")
	nu2, err := adm2.Introspect(ctx, "app_v2")
	must(t, err)
	if fs := redisauth.Diff(old, nu2); len(fs) != 0 {
		t.Fatalf("after restart rules differ: %v", fs)
	}
	logP, _ := os.ReadFile(prim.Log)
	logR, _ := os.ReadFile(repl.Log)
	neverShown(t, newPW, map[string]string{"MONITOR primary": monP(), "MONITOR replica": monR(), "primary log": string(logP), "replica log": string(logR)})

	// The next rotation goes app_v2 → app_v3 (the base app is not a
	// generation name; after app_v2 is retired, app_v3 → app_v2).
	plan2, err := adm2.Plan(ctx, redisauth.PlanOptions{User: "app_v2", Password: secret(oldPW + "x")})
	must(t, err)
	if plan2.New != "app_v3" {
		t.Fatalf("next after app_v2: %s", plan2.New)
	}
}

// TestAlternateDiffGatesAndIncident: a new user whose rules were changed
// after apply fails Verify (both directions reported) and Retire; incident
// retire kills the old user's clients.
func TestAlternateDiffGatesAndIncident(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", appRules...).Err())
	adm := connect(t, s.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW), Incident: true})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	// Someone widens app_v2 and narrows it elsewhere.
	must(t, c.ACLSetUser(ctx, "app_v2", "+flushall", "~other:*").Err())
	must(t, c.ACLSetUser(ctx, "app_v2", "resetchannels").Err())
	err = adm.Verify(ctx, plan)
	var de *redisauth.DiffError
	if !errors.As(err, &de) || !errors.Is(err, redisauth.ErrRulesDiff) {
		t.Fatalf("verify: %v", err)
	}
	sides := map[string]bool{}
	for _, f := range de.Differences {
		sides[f.Side] = true
	}
	if !sides["old"] || !sides["new"] {
		t.Fatalf("findings not both ways: %v", de.Differences)
	}
	if _, err := adm.Retire(ctx, plan.RetireOptions()); !errors.As(err, &de) {
		t.Fatalf("retire with a diff: %v", err)
	}
	// A plan again refuses the existing, different app_v2.
	if _, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", New: "app_v2", Password: secret(newPW)}); !errors.Is(err, redisauth.ErrUserExists) {
		t.Fatalf("plan onto a different app_v2: %v", err)
	}
	// Repair by applying again (ACL SETUSER app_v2 reset …).
	plan.Notes = nil
	_, err = adm.Apply(ctx, plan)
	if err == nil {
		// Plan was made before the change: its steps reset app_v2.
		t.Log("re-apply repaired app_v2")
	} else {
		t.Fatal(err)
	}
	// A client stays on app: incident retire kills it.
	stuck := client(t, s.Addr, "app", oldPW)
	must(t, stuck.Ping(ctx).Err())
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	if n, _ := adm.Clients(ctx, "app"); n[s.Addr] != 0 {
		t.Fatalf("clients of app after incident retire: %v", n)
	}
	if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "app_v2,default" {
		t.Fatalf("users after retire: %v", u)
	}
	if err := stuck.Ping(ctx).Err(); err == nil {
		t.Fatal("the old user's connection survived incident retire")
	}
	// The default user is never deleted or replaced by another user.
	if _, err := adm.Plan(ctx, redisauth.PlanOptions{User: "default", Strategy: redisauth.Alternate, Password: secret(newPW)}); !errors.Is(err, redisauth.ErrBadPlan) {
		t.Fatalf("alternate default: %v", err)
	}
}

// TestAlternatePartialRollback: a node that fails mid-apply leaves app_v2
// on the nodes apply reached; rollback deletes it there and leaves app.
func TestAlternatePartialRollback(t *testing.T) {
	ctx := ctxT(t)
	prim, repl := primaryReplica(t, redisserver.Options{})
	for _, s := range []*redisserver.Server{prim, repl} {
		must(t, client(t, s.Addr, "", "").ACLSetUser(ctx, "app", appRules...).Err())
		must(t, client(t, s.Addr, "", "").ConfigRewrite(ctx).Err())
	}
	adm := connect(t, prim.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	repl.Stop()
	var ae *redisauth.ApplyError
	if _, err := adm.Apply(ctx, plan); !errors.As(err, &ae) || ae.Failed.Node != repl.Addr {
		t.Fatalf("apply: %v", err)
	}
	must(t, repl.Restart())
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	adm = connect(t, prim.Addr, "", "")
	// The half-applied state plans again (and would finish); roll back.
	plan, err = adm.Plan(ctx, redisauth.PlanOptions{User: "app", New: "app_v2", Password: secret(newPW)})
	must(t, err)
	done, err := adm.Rollback(ctx, plan)
	must(t, err)
	if len(done) != 2 || done[0].Node != prim.Addr {
		t.Fatalf("rollback ran %v", done)
	}
	for _, s := range []*redisserver.Server{prim, repl} {
		must(t, s.Restart())
		if u, _ := client(t, s.Addr, "", "").ACLUsers(ctx).Result(); strings.Join(u, ",") != "app,default" {
			t.Errorf("%s: users %v", s.Addr, u)
		}
	}
}

// TestAlternateExactCopy: the copy's ACL LIST line equals the original's
// (name and password aside) for a user made without "reset" (no
// sanitize-payload flag) and one with skip-sanitize-payload; re-applying an
// exact copy leaves its clients connected.
func TestAlternateExactCopy(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "plain", "on", ">"+oldPW, "~p:*", "+@read", "+ping", "+client|id").Err())
	must(t, c.ACLSetUser(ctx, "skipper", "reset", "on", ">"+oldPW, "skip-sanitize-payload", "~s:*", "+@all").Err())
	adm := connect(t, s.Addr, "", "")
	line := func(user string) string {
		lines, err := c.ACLList(ctx).Result()
		must(t, err)
		for _, l := range lines {
			if f := strings.Fields(l); f[1] == user {
				var keep []string
				for _, x := range f[2:] {
					if !strings.HasPrefix(x, "#") {
						keep = append(keep, x)
					}
				}
				return strings.Join(keep, " ")
			}
		}
		return ""
	}
	for _, u := range []string{"plain", "skipper"} {
		plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: u, Password: secret(newPW)})
		must(t, err)
		_, err = adm.Apply(ctx, plan)
		must(t, err)
		if a, b := line(u), line(u+"_v2"); a == "" || a != b {
			t.Fatalf("%s: %q vs %q", u, a, b)
		}
		held := client(t, s.Addr, u+"_v2", newPW)
		must(t, held.Ping(ctx).Err())
		id, err := held.ClientID(ctx).Result()
		must(t, err)
		_, err = adm.Apply(ctx, plan) // exact already: left alone
		must(t, err)
		if id2, err := held.ClientID(ctx).Result(); err != nil || id2 != id {
			t.Fatalf("%s: re-apply reconnected the new user's client (%d → %d, %v)", u, id, id2, err)
		}
	}
}

// TestAlternateMasteruser: a replica that logs in to its primary as the
// rotated user (masteruser/masterauth) is moved to the new user by apply,
// retire then deletes the old one, and replication survives restarts.
func TestAlternateMasteruser(t *testing.T) {
	ctx := ctxT(t)
	repRules := []string{"reset", "on", ">" + oldPW, "~*", "&*", "+@all"}
	prim := server(t, redisserver.Options{})
	must(t, client(t, prim.Addr, "", "").ACLSetUser(ctx, "repl", repRules...).Err())
	must(t, client(t, prim.Addr, "", "").ConfigRewrite(ctx).Err())
	repl := server(t, redisserver.Options{ReplicaOf: prim.Addr, Masterauth: oldPW, Extra: []string{"masteruser repl"}})
	must(t, client(t, repl.Addr, "", "").ACLSetUser(ctx, "repl", repRules...).Err())
	must(t, client(t, repl.Addr, "", "").ConfigRewrite(ctx).Err())
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	adm := connect(t, prim.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "repl", Password: secret(newPW)})
	must(t, err)
	if !strings.Contains(plan.Render(), "CONFIG SET masteruser repl_v2 masterauth [new password]") {
		t.Fatalf("plan does not move the replica:\n%s", plan.Render())
	}
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	// The replica's link still runs as repl until it reconnects; kill it
	// so it reconnects as repl_v2, as it would at any network blip.
	must(t, client(t, prim.Addr, "", "").ClientKillByFilter(ctx, "TYPE", "replica").Err())
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	time.Sleep(300 * time.Millisecond)
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	for _, s := range []*redisserver.Server{prim, repl} {
		must(t, s.Restart())
	}
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	cfg, _ := client(t, repl.Addr, "", "").ConfigGet(ctx, "masteruser").Result()
	if cfg["masteruser"] != "repl_v2" {
		t.Fatalf("masteruser after restart: %v", cfg)
	}
}

// TestAlternateReapplyDefaultName: "run apply again" after an interrupted or
// finished apply, without --new, resumes the same new user (it exists with
// the old user's rules and the new password) instead of creating the next
// generation; a user that exists with another password is still skipped.
func TestAlternateReapplyDefaultName(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", appRules...).Err())
	adm := connect(t, s.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	again, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	if again.New != "app_v2" {
		t.Fatalf("re-plan without --new chose %q, want app_v2 (the one the first apply made)", again.New)
	}
	if !strings.Contains(again.Render(), "left alone") {
		t.Errorf("re-plan does not say the exact copy is left alone:\n%s", again.Render())
	}
	_, err = adm.Apply(ctx, again)
	must(t, err)
	if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "app,app_v2,default" {
		t.Fatalf("users after re-apply: %v", u)
	}
	// Another password: app_v2 is someone else's, the next free name is used.
	other, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW + "-other")})
	must(t, err)
	if other.New != "app_v3" {
		t.Fatalf("plan with another password chose %q, want app_v3", other.New)
	}
}

// TestPlanRefusesDisabledUser: a user that is "off" cannot log in, so apply
// could never verify; plan refuses it before anything changes, for both
// strategies.
func TestPlanRefusesDisabledUser(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "dis", "off", ">"+oldPW, "~k:*", "+get").Err())
	adm := connect(t, s.Addr, "", "")
	for _, st := range []redisauth.Strategy{redisauth.Alternate, redisauth.Dual} {
		_, err := adm.Plan(ctx, redisauth.PlanOptions{User: "dis", Strategy: st, Password: secret(newPW)})
		if !errors.Is(err, redisauth.ErrBadPlan) || !strings.Contains(err.Error(), "is off (disabled)") {
			t.Errorf("%s plan of a disabled user: %v, want ErrBadPlan saying it is off", st, err)
		}
	}
	if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "default,dis" {
		t.Errorf("users changed: %v", u)
	}
}

// TestPlanExistingDrift: a plan made with Existing accepts a new user that
// drifted, for Verify to report the diff; Apply and Rollback refuse it.
func TestPlanExistingDrift(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", appRules...).Err())
	adm := connect(t, s.Addr, "", "")
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	must(t, c.ACLSetUser(ctx, "app_v2", "~extra:*").Err())
	p, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", New: "app_v2", Password: secret(newPW), Existing: true})
	must(t, err)
	var de *redisauth.DiffError
	if err := adm.Verify(ctx, p); !errors.As(err, &de) {
		t.Fatalf("verify of a drifted app_v2: %v, want a DiffError", err)
	}
	if _, err := adm.Apply(ctx, p); !errors.Is(err, redisauth.ErrUserExists) {
		t.Fatalf("apply of an Existing plan onto a drifted user: %v", err)
	}
	if _, err := adm.Rollback(ctx, p); !errors.Is(err, redisauth.ErrUserExists) {
		t.Fatalf("rollback of an Existing plan onto a drifted user: %v", err)
	}
}

// TestPlanRefusesOperatorWithoutPersist: an operator user that may not run
// ACL SAVE on a node is refused at plan time (ACL DRYRUN), before any node
// changes, instead of failing after the first node changed.
func TestPlanRefusesOperatorWithoutPersist(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{ACLFile: true})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", appRules...).Err())
	must(t, c.ACLSetUser(ctx, "ops", "reset", "on", ">ops-password-0123456789", "~*", "&*", "+@all", "-acl|save").Err())
	if _, err := redisauth.ConnectOptions(ctx, &redis.Options{Addr: s.Addr, Username: "ops", Password: "ops-password-0123456789"}); !errors.Is(err, redisauth.ErrCannotPersist) || !strings.Contains(err.Error(), "ACL SAVE") {
		t.Fatalf("connect as an operator without acl|save: %v, want ErrCannotPersist naming ACL SAVE", err)
	}
	if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "app,default,ops" {
		t.Errorf("users changed: %v", u)
	}
}
