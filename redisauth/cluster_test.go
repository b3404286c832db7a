package redisauth_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/redisauth"
)

// TestClusterBothStrategies rotates a user on every node of a three-master
// Cluster with one replica per master, under one continuous load through a
// ClusterClient and the credentials provider: first alternate (app →
// app_v2), then dual (a second password for app_v2). Then every node is
// restarted and keeps the new state.
func TestClusterBothStrategies(t *testing.T) {
	ctx := ctxT(t)
	cl, err := redisserver.StartCluster(ctx, t.TempDir(), 3, 1, redisserver.Options{})
	if errors.Is(err, redisserver.ErrNoServer) && !testsvc.InCI() {
		t.Skip(err)
	}
	must(t, err)
	t.Cleanup(cl.Stop)
	rules := []string{"reset", "on", ">" + oldPW, "~rt:cl:*", "resetchannels", "&rt:cl:*", "+@all", "-@dangerous", "+cluster|slots", "+cluster|shards", "+cluster|nodes"}
	var mons = map[string]func() string{}
	for _, s := range cl.All() {
		c := client(t, s.Addr, "", "")
		must(t, c.ACLSetUser(ctx, "app", rules...).Err())
		must(t, c.ConfigRewrite(ctx).Err())
		mons["MONITOR "+s.Addr] = monitor(t, s.Addr, "", "")
	}
	secrets := newSecretDir(t, map[string]string{"username": "app", "password": oldPW})
	creds := redisauth.PasswordFile(secrets.path("password"), secrets.path("username"))
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()[:1], CredentialsProviderContext: creds,
		ConnMaxLifetime: 300 * time.Millisecond, PoolFIFO: true, ReadOnly: true})
	defer rdb.Close()
	l := startLoad(t, rdb, creds, "rt:cl:")

	adm := connect(t, cl.Masters[0].Addr, "", "")
	if !adm.Cluster() || len(adm.Nodes()) != 6 {
		t.Fatalf("discovered %d nodes (cluster %v): %+v", len(adm.Nodes()), adm.Cluster(), adm.Nodes())
	}
	for _, n := range adm.Nodes() {
		if n.Persist != redisauth.PersistConfigRewrite {
			t.Fatalf("%s persists with %s", n.Addr, n.Persist)
		}
	}
	// Alternate.
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret(newPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	secrets.write(t, map[string]string{"username": "app_v2", "password": newPW})
	must(t, adm.Drain(ctx, "app", redisauth.DrainOptions{Timeout: time.Minute, Poll: 200 * time.Millisecond}))
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	// Dual on app_v2.
	const thirdPW = "third-password-CCCCCCCCCCCCCCCCCCCCCCCC"
	plan2, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app_v2", Strategy: redisauth.Dual, Password: secret(thirdPW)})
	must(t, err)
	_, err = adm.Apply(ctx, plan2)
	must(t, err)
	secrets.write(t, map[string]string{"username": "app_v2", "password": thirdPW})
	must(t, adm.Drain(ctx, "app_v2", redisauth.DrainOptions{Window: time.Second, Poll: 200 * time.Millisecond}))
	_, err = adm.Retire(ctx, plan2.RetireOptions())
	must(t, err)
	time.Sleep(500 * time.Millisecond)
	l.check(t)

	for _, c := range []struct{ user, pw string }{{"app", oldPW}, {"app_v2", newPW}} {
		for addr, err := range adm.CheckLogin(ctx, c.user, secret(c.pw)) {
			if err == nil {
				t.Errorf("%s: %s still logs in with its old password", addr, c.user)
			}
		}
	}
	old := &redisauth.User{}
	{
		s := server(t, redisserver.Options{})
		must(t, client(t, s.Addr, "", "").ACLSetUser(ctx, "app", rules...).Err())
		old, err = connect(t, s.Addr, "", "").Introspect(ctx, "app")
		must(t, err)
	}
	for _, s := range cl.All() {
		must(t, s.Restart())
	}
	must(t, cl.WaitOK(ctx, ""))
	adm2 := connect(t, cl.Masters[0].Addr, "", "")
	for _, s := range cl.All() {
		c := client(t, s.Addr, "", "")
		if u, _ := c.ACLUsers(ctx).Result(); strings.Join(u, ",") != "app_v2,default" {
			t.Errorf("%s after restart: users %v", s.Addr, u)
		}
	}
	for addr, err := range adm2.CheckLogin(ctx, "app_v2", secret(thirdPW)) {
		if err != nil {
			t.Errorf("%s after restart: %v", addr, err)
		}
	}
	for addr, err := range adm2.CheckLogin(ctx, "app_v2", secret(newPW)) {
		if err == nil {
			t.Errorf("%s after restart: app_v2's old password logs in", addr)
		}
	}
	nu, err := adm2.Introspect(ctx, "app_v2")
	must(t, err)
	if fs := redisauth.Diff(old, nu); len(fs) != 0 {
		t.Fatalf("rules after rotation and restart differ: %v", fs)
	}
	texts := map[string]string{}
	for name, m := range mons {
		texts[name] = m()
	}
	for _, s := range cl.All() {
		b, _ := os.ReadFile(s.Log)
		texts["log "+s.Addr] = string(b)
	}
	neverShown(t, newPW, texts)
	neverShown(t, thirdPW, texts)
}

// TestClusterDefaultRequirepass rotates the default user's requirepass on a
// Cluster whose replicas log in with masterauth, under load, with the dual
// strategy; then every node restarts with only the new password.
func TestClusterDefaultRequirepass(t *testing.T) {
	ctx := ctxT(t)
	cl, err := redisserver.StartCluster(ctx, t.TempDir(), 3, 1, redisserver.Options{Requirepass: oldPW, Masterauth: oldPW})
	if errors.Is(err, redisserver.ErrNoServer) && !testsvc.InCI() {
		t.Skip(err)
	}
	must(t, err)
	t.Cleanup(cl.Stop)
	secrets := newSecretDir(t, map[string]string{"password": oldPW})
	creds := redisauth.PasswordFile(secrets.path("password"), "")
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), CredentialsProviderContext: creds,
		ConnMaxLifetime: 300 * time.Millisecond, PoolFIFO: true})
	defer rdb.Close()
	l := startLoad(t, rdb, creds, "rt:cld:")
	adm := connect(t, cl.Replicas[0].Addr, "", oldPW)
	if len(adm.Nodes()) != 6 {
		t.Fatalf("nodes: %d", len(adm.Nodes()))
	}
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "default", Password: secret(newPW)})
	must(t, err)
	// Every node has masterauth: replicas use it now, primaries after a
	// failover.
	if n := strings.Count(plan.Render(), "CONFIG SET masterauth"); n != 6 {
		t.Fatalf("%d nodes moved, want 6:\n%s", n, plan.Render())
	}
	_, err = adm.Apply(ctx, plan)
	must(t, err)
	secrets.write(t, map[string]string{"password": newPW})
	must(t, adm.Drain(ctx, "default", redisauth.DrainOptions{Window: time.Second, Poll: 200 * time.Millisecond}))
	_, err = adm.Retire(ctx, plan.RetireOptions())
	must(t, err)
	time.Sleep(500 * time.Millisecond)
	l.check(t)
	for _, s := range cl.All() {
		must(t, s.Restart())
	}
	must(t, cl.WaitOK(ctx, newPW))
	// A failover: a replica takes over, its old primary becomes a replica
	// and must sync with the new masterauth.
	must(t, client(t, cl.Replicas[0].Addr, "", newPW).Do(ctx, "CLUSTER", "FAILOVER").Err())
	time.Sleep(time.Second)
	must(t, cl.WaitOK(ctx, newPW))
	for _, s := range cl.All() {
		if err := client(t, s.Addr, "", oldPW).Ping(ctx).Err(); err == nil {
			t.Errorf("%s: old password after restart", s.Addr)
		}
		if err := client(t, s.Addr, "", newPW).Ping(ctx).Err(); err != nil {
			t.Errorf("%s: new password after restart: %v", s.Addr, err)
		}
		b, _ := os.ReadFile(s.Log)
		if strings.Contains(string(b), newPW) {
			t.Errorf("%s: log holds the new password", s.Addr)
		}
	}
}
