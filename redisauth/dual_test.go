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

const (
	oldPW = "old-password-AAAAAAAAAAAAAAAAAAAAAAAA"
	newPW = "new-password-BBBBBBBBBBBBBBBBBBBBBBBB"
)

// primaryReplica starts a primary and a replica that both use requirepass
// (the legacy default-user setup); the replica logs in with masterauth.
func primaryReplica(t *testing.T, o redisserver.Options) (*redisserver.Server, *redisserver.Server) {
	p := server(t, o)
	o.ReplicaOf, o.Masterauth = p.Addr, o.Requirepass
	r := server(t, o)
	must(t, redisserver.WaitReplica(ctxT(t), r.Addr, o.Requirepass))
	return p, r
}

// TestDualRequirepassReplica rotates the default user's password of a
// requirepass primary and its replica, under load, with the dual strategy.
func TestDualRequirepassReplica(t *testing.T) {
	ctx := ctxT(t)
	prim, repl := primaryReplica(t, redisserver.Options{Requirepass: oldPW})
	monP, monR := monitor(t, prim.Addr, "", oldPW), monitor(t, repl.Addr, "", oldPW)

	secrets := newSecretDir(t, map[string]string{"password": oldPW})
	creds := redisauth.PasswordFile(secrets.path("password"), "")
	rdb := redis.NewClient(&redis.Options{Addr: prim.Addr, CredentialsProviderContext: creds, ConnMaxLifetime: 300 * time.Millisecond, PoolFIFO: true})
	defer rdb.Close()
	l := startLoad(t, rdb, creds, "rt:dual:")

	adm := connect(t, repl.Addr, "", oldPW) // seeded from the replica: discovery finds the primary
	if len(adm.Nodes()) != 2 {
		t.Fatalf("nodes: %+v", adm.Nodes())
	}
	before, err := adm.Introspect(ctx, "default")
	must(t, err)
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "default", Password: secret(newPW)})
	must(t, err)
	text := plan.Render()
	if strings.Contains(text, newPW) || strings.Contains(text, redisauth.Hash([]byte(newPW))) || !strings.Contains(text, plan.Fingerprint()) {
		t.Fatalf("plan shows the password or the whole hash:\n%s", text)
	}
	if plan.Strategy != redisauth.Dual || !strings.Contains(text, "CONFIG SET masterauth [new password]") {
		t.Fatalf("plan:\n%s", text)
	}
	// Retire before apply is refused: it would lock every client out.
	if _, err := adm.Retire(ctx, plan.RetireOptions()); !errors.Is(err, redisauth.ErrNotApplied) {
		t.Fatalf("retire before apply: %v", err)
	}
	applied, err := adm.Apply(ctx, plan)
	must(t, err)
	t.Logf("applied %v", applied)
	secrets.write(t, map[string]string{"password": newPW}) // cutover
	must(t, adm.Drain(ctx, "default", redisauth.DrainOptions{Window: time.Second, Poll: 200 * time.Millisecond}))
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	time.Sleep(500 * time.Millisecond) // load goes on after retire
	l.check(t)

	for addr, err := range adm.CheckLogin(ctx, "default", secret(oldPW)) {
		if err == nil {
			t.Errorf("%s: the old password still logs in", addr)
		}
	}
	for _, s := range []*redisserver.Server{prim, repl} {
		cfg, _ := client(t, s.Addr, "", newPW).ConfigGet(ctx, "requirepass").Result()
		if cfg["requirepass"] != "" {
			t.Errorf("%s: requirepass still set", s.Addr)
		}
		conf, _ := os.ReadFile(s.Conf)
		if strings.Contains(string(conf), oldPW) {
			t.Errorf("%s: the config file still holds the old password", s.Addr)
		}
	}
	// Every node restarted keeps the new state; the replica reconnects with
	// the new masterauth.
	for _, s := range []*redisserver.Server{repl, prim} {
		must(t, s.Restart())
	}
	must(t, redisserver.WaitReplica(ctx, repl.Addr, newPW))
	for _, s := range []*redisserver.Server{prim, repl} {
		if err := client(t, s.Addr, "", newPW).Ping(ctx).Err(); err != nil {
			t.Errorf("%s after restart: new password: %v", s.Addr, err)
		}
		if err := client(t, s.Addr, "", oldPW).Ping(ctx).Err(); err == nil {
			t.Errorf("%s after restart: the old password logs in", s.Addr)
		}
	}
	// The rules of default are unchanged on every node (both ways); only
	// the password is new.
	after := connect(t, prim.Addr, "", newPW)
	for _, n := range after.Nodes() {
		u, err := connect(t, n.Addr, "", newPW).Introspect(ctx, "default")
		must(t, err)
		if fs := redisauth.Diff(before, u); len(fs) != 0 || len(u.Passwords) != 1 || u.Passwords[0] != redisauth.Hash([]byte(newPW)) {
			t.Errorf("%s: default after rotation: %v %d passwords", n.Addr, fs, len(u.Passwords))
		}
	}
	logP, _ := os.ReadFile(prim.Log)
	logR, _ := os.ReadFile(repl.Log)
	neverShown(t, newPW, map[string]string{"MONITOR primary": monP(), "MONITOR replica": monR(), "primary log": string(logP), "replica log": string(logR)})
}

// TestDualNamedUserAndRollback rotates a named user with an aclfile (ACL
// SAVE), checks a mid-apply node failure can be finished by applying again,
// and that rollback removes the new password.
func TestDualNamedUserAndRollback(t *testing.T) {
	ctx := ctxT(t)
	prim, repl := primaryReplica(t, redisserver.Options{ACLFile: true})
	for _, s := range []*redisserver.Server{prim, repl} {
		c := client(t, s.Addr, "", "")
		must(t, c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, "~app:*", "&app:*", "+@all", "-@dangerous").Err())
		must(t, c.Do(ctx, "ACL", "SAVE").Err())
	}
	adm := connect(t, prim.Addr, "", "")
	for _, n := range adm.Nodes() {
		if n.Persist != redisauth.PersistACLSave {
			t.Fatalf("%s persists with %s", n.Addr, n.Persist)
		}
	}
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Strategy: redisauth.Dual, Password: secret(newPW)})
	must(t, err)
	// The replica dies before apply reaches it.
	repl.Stop()
	_, err = adm.Apply(ctx, plan)
	var ae *redisauth.ApplyError
	if !errors.As(err, &ae) || ae.Failed.Node != repl.Addr || len(ae.Applied) != 2 {
		t.Fatalf("apply with a dead replica: %v", err)
	}
	must(t, repl.Restart())
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	// The primary persisted; the replica is as before: apply again (as a
	// new "rotate redis apply" would, with a new connection) finishes.
	adm = connect(t, prim.Addr, "", "")
	plan, err = adm.Plan(ctx, redisauth.PlanOptions{User: "app", Strategy: redisauth.Dual, Password: secret(newPW)})
	must(t, err)
	if !strings.Contains(plan.Render(), prim.Addr+" already has the new password") {
		t.Fatalf("resumed plan does not say so:\n%s", plan.Render())
	}
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	for _, s := range []*redisserver.Server{prim, repl} {
		acl, _ := os.ReadFile(s.ACLFile)
		if !strings.Contains(string(acl), redisauth.Hash([]byte(newPW))) {
			t.Errorf("%s: aclfile lacks the new hash", s.Addr)
		}
		if err := client(t, s.Addr, "app", oldPW).Ping(ctx).Err(); err != nil {
			t.Errorf("%s: old password during overlap: %v", s.Addr, err)
		}
	}
	// A restart of each node after apply keeps both passwords.
	must(t, repl.Restart())
	must(t, prim.Restart())
	must(t, redisserver.WaitReplica(ctx, repl.Addr, ""))
	for _, s := range []*redisserver.Server{prim, repl} {
		for _, pw := range []string{oldPW, newPW} {
			if err := client(t, s.Addr, "app", pw).Ping(ctx).Err(); err != nil {
				t.Errorf("%s after restart: %v", s.Addr, err)
			}
		}
	}
	adm = connect(t, prim.Addr, "", "")
	// Roll back: the new password is gone everywhere, the old one stays.
	_, err = adm.Rollback(ctx, plan)
	must(t, err)
	for addr, err := range adm.CheckLogin(ctx, "app", secret(newPW)) {
		if err == nil {
			t.Errorf("%s: new password still logs in after rollback", addr)
		}
	}
	for addr, err := range adm.CheckLogin(ctx, "app", secret(oldPW)) {
		if err != nil {
			t.Errorf("%s: old password after rollback: %v", addr, err)
		}
	}
	// Rollback twice is harmless.
	_, err = adm.Rollback(ctx, plan)
	must(t, err)
}

// TestDualRequirepassWithACLFile: requirepass in the config file and users
// in an aclfile; retire leaves neither holding the old password, and a
// restart keeps only the new one.
func TestDualRequirepassWithACLFile(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{Requirepass: oldPW, ACLFile: true})
	// With an aclfile, Redis loads default from it over requirepass (an
	// empty file leaves default nopass, which Plan refuses): give it the
	// requirepass password there, as such a legacy setup has.
	c := client(t, s.Addr, "", oldPW)
	must(t, c.ACLSetUser(ctx, "default", "resetpass", ">"+oldPW).Err())
	must(t, c.Do(ctx, "ACL", "SAVE").Err())
	adm := connect(t, s.Addr, "", oldPW)
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "default", Password: secret(newPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	done, err := adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	var cmds []string
	for _, d := range done {
		cmds = append(cmds, d.Command)
	}
	if !strings.Contains(strings.Join(cmds, ","), "ACL SAVE,CONFIG REWRITE") {
		t.Fatalf("retire ran %v", cmds)
	}
	for _, f := range []string{s.Conf, s.ACLFile} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), oldPW) || strings.Contains(string(b), redisauth.Hash([]byte(oldPW))) {
			t.Errorf("%s still holds the old password", f)
		}
	}
	must(t, s.Restart())
	if err := client(t, s.Addr, "", newPW).Ping(ctx).Err(); err != nil {
		t.Fatalf("new password after restart: %v", err)
	}
	if err := client(t, s.Addr, "", oldPW).Ping(ctx).Err(); err == nil {
		t.Fatal("old password after restart")
	}
}
