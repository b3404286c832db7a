package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/redisload"
	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/redisauth"
)

// redisPassword rotates the Redis password of a private primary and replica
// (started for the drill: the shared Redis's default user and config are
// never touched) under two live go-redis pools that read their credentials
// from secret directories (redisauth.PasswordFile) and do writes, reads and
// pub/sub: the named user app with the alternate strategy (app → app_v2),
// and the legacy requirepass default user with the dual strategy. It
// reports the failed commands, which must be zero, and checks the old
// passwords are refused on every node, also after a restart of each. It
// runs when the drill's Redis (Options.RedisURL) is reachable and
// redis-server is installed.
func redisPassword(ctx context.Context, o *Options, p *Phase) error {
	if o.RedisURL == "" {
		return skip(p, "no Redis: set REDIS_URL or --redis-url-file")
	}
	// The drill's Redis phases run when Redis is reachable; this one rotates
	// private servers, never that one.
	probe, err := redisClient(ctx, o.RedisURL)
	var u errUnreachable
	if errors.As(err, &u) {
		return absent(p, o.RedisConfigured, u, "Redis (REDIS_URL)")
	}
	if err != nil {
		return err
	}
	probe.Close()
	dir, err := os.MkdirTemp("", "rotation-drill-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pw := func() (string, error) { return keygen.New(keygen.Redis) }
	oldDefault, err := pw()
	if err != nil {
		return err
	}
	prim, err := redisserver.Start(dir, redisserver.Options{Requirepass: oldDefault})
	if errors.Is(err, redisserver.ErrNoServer) {
		return skip(p, "redis-server not installed (apt-get install redis-server)")
	}
	if err != nil {
		return err
	}
	defer prim.Stop()
	repl, err := redisserver.Start(dir, redisserver.Options{Requirepass: oldDefault, ReplicaOf: prim.Addr, Masterauth: oldDefault})
	if err != nil {
		return err
	}
	defer repl.Stop()
	if err := redisserver.WaitReplica(ctx, repl.Addr, oldDefault); err != nil {
		return err
	}
	p.Event("private Redis primary %s and replica %s, requirepass set (legacy)", prim.Addr, repl.Addr)
	oldApp, err := pw()
	if err != nil {
		return err
	}
	for _, s := range []*redisserver.Server{prim, repl} {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: oldDefault})
		err := c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldApp, "~app:*", "resetchannels", "&app:*", "+@all", "-@dangerous").Err()
		if err == nil {
			err = c.ConfigRewrite(ctx).Err()
		}
		c.Close()
		if err != nil {
			return err
		}
	}
	appSecrets, err := newSecretVolume(filepath.Join(dir, "app-secret"), map[string]string{"username": "app", "password": oldApp})
	if err != nil {
		return err
	}
	defSecrets, err := newSecretVolume(filepath.Join(dir, "default-secret"), map[string]string{"password": oldDefault})
	if err != nil {
		return err
	}
	appCreds := redisauth.PasswordFile(appSecrets.path("password"), appSecrets.path("username"))
	defCreds := redisauth.PasswordFile(defSecrets.path("password"), "")
	pool := func(creds redisauth.CredentialsFunc) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: prim.Addr, CredentialsProviderContext: creds, ConnMaxLifetime: 500 * time.Millisecond, PoolFIFO: true})
	}
	appPool, defPool := pool(appCreds), pool(defCreds)
	defer appPool.Close()
	defer defPool.Close()
	var loads []*redisload.Load
	halt := func() {
		for _, l := range loads {
			l.Stop()
		}
	}
	defer halt()
	for _, l := range []struct {
		c     *redis.Client
		creds redisauth.CredentialsFunc
		pre   string
	}{{appPool, appCreds, "app:"}, {defPool, defCreds, "app:default:"}} {
		ld, err := redisload.Start(ctx, l.c, l.creds, l.pre)
		if err != nil {
			return err
		}
		loads = append(loads, ld)
	}

	adm, err := redisauth.ConnectOptions(ctx, &redis.Options{Addr: prim.Addr, Password: oldDefault})
	if err != nil {
		return err
	}
	defer adm.Close()
	for _, n := range adm.Nodes() {
		p.Fact("node %s: %s, Redis %s, persists with %s", n.Addr, n.Role, n.Version, n.Persist)
	}
	// Alternate: app → app_v2.
	newApp, err := pw()
	if err != nil {
		return err
	}
	newAppS := fingerprint.NewSecret([]byte(newApp))
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: newAppS})
	if err != nil {
		return err
	}
	p.FP("Redis app_v2 password (new)", newAppS.Fingerprint())
	if _, err := adm.Apply(ctx, plan); err != nil {
		return err
	}
	p.Event("apply: %s created on %d nodes with the rules of app, verified (two-way diff empty)", plan.New, len(plan.Nodes))
	if err := appSecrets.write(map[string]string{"username": plan.New, "password": newApp}); err != nil {
		return err
	}
	p.Event("cutover: the app secret now names %s", plan.New)
	var peak int
	if err := adm.Drain(ctx, "app", redisauth.DrainOptions{Timeout: 2 * time.Minute, Poll: 200 * time.Millisecond, Progress: func(s redisauth.DrainProgress) {
		peak = max(peak, s.Clients)
	}}); err != nil {
		return err
	}
	p.Event("drain: no client of app on any node (at most %d seen after cutover)", peak)
	if _, err := adm.Retire(ctx, plan.RetireOptions()); err != nil {
		return err
	}
	p.Event("retire: app deleted on every node")
	// Dual: the default user with requirepass.
	newDefault, err := pw()
	if err != nil {
		return err
	}
	newDefS := fingerprint.NewSecret([]byte(newDefault))
	plan2, err := adm.Plan(ctx, redisauth.PlanOptions{User: "default", Password: newDefS})
	if err != nil {
		return err
	}
	p.FP("Redis default password (new)", newDefS.Fingerprint())
	if _, err := adm.Apply(ctx, plan2); err != nil {
		return err
	}
	p.Event("apply: new password added to default on every node; the replica's masterauth moved to it")
	if err := defSecrets.write(map[string]string{"password": newDefault}); err != nil {
		return err
	}
	if err := adm.Drain(ctx, "default", redisauth.DrainOptions{Window: 2 * time.Second, Poll: 500 * time.Millisecond}); err != nil {
		return err
	}
	if _, err := adm.Retire(ctx, plan2.RetireOptions()); err != nil {
		return err
	}
	p.Event("retire: default keeps only the new password; requirepass cleared in the same MULTI/EXEC")
	time.Sleep(500 * time.Millisecond)
	halt()

	var ops, fails, msgs int64
	var firstErr string
	for _, l := range loads {
		ops += l.Ops()
		fails += l.Fails()
		msgs += l.Received()
		if errs := l.Errors(); firstErr == "" && len(errs) > 0 {
			firstErr = errs[0]
		}
	}
	p.Fact("%d commands (SET, GET, PUBLISH) through the credentials provider during both rotations, %d failed; %d pub/sub messages received", ops, fails, msgs)
	if fails > 0 {
		return fmt.Errorf("%d failed Redis commands during the rotation (first: %s)", fails, firstErr)
	}
	if ops == 0 || msgs == 0 {
		return errors.New("the Redis load did not run")
	}
	for _, s := range []*redisserver.Server{repl, prim} {
		if err := s.Restart(); err != nil {
			return err
		}
	}
	if err := redisserver.WaitReplica(ctx, repl.Addr, newDefault); err != nil {
		return err
	}
	for _, s := range []*redisserver.Server{prim, repl} {
		for _, c := range []struct {
			user, pw string
			ok       bool
		}{{"app", oldApp, false}, {"app_v2", newApp, true}, {"", oldDefault, false}, {"", newDefault, true}} {
			cl := redis.NewClient(&redis.Options{Addr: s.Addr, Username: c.user, Password: c.pw, MaxRetries: -1})
			err := cl.Ping(ctx).Err()
			cl.Close()
			if (err == nil) != c.ok {
				who := c.user
				if who == "" {
					who = "default"
				}
				return fmt.Errorf("after restart of %s: %s with its %s password: %v", s.Addr, who, map[bool]string{true: "new", false: "old"}[c.ok], err)
			}
		}
	}
	p.Fact("after a restart of each node: old passwords refused, new ones accepted, replica in sync with the new masterauth")
	for _, s := range []*redisserver.Server{prim, repl} {
		b, _ := os.ReadFile(s.Log)
		if strings.Contains(string(b), newApp) || strings.Contains(string(b), newDefault) {
			return fmt.Errorf("the server log of %s contains a new password", s.Addr)
		}
	}
	p.Fact("server logs hold neither new password (they were sent only as SHA-256 hashes)")
	p.Learn("Redis keeps connections authenticated after their password or user is removed: only new connections need the new credentials, so ConnMaxLifetime + PoolFIFO lets every pod follow without a restart")
	return nil
}

// secretVolume is written like a Kubernetes secret volume: files are
// symlinks into ..data, which is swapped atomically.
type secretVolume struct {
	dir string
	gen int
}

func newSecretVolume(dir string, files map[string]string) (*secretVolume, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	v := &secretVolume{dir: dir}
	if err := v.write(files); err != nil {
		return nil, err
	}
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *secretVolume) path(name string) string { return filepath.Join(v.dir, name) }

func (v *secretVolume) write(files map[string]string) error {
	v.gen++
	d := filepath.Join(v.dir, "..v"+strconv.Itoa(v.gen))
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content+"\n"), 0o600); err != nil {
			return err
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(d), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(v.dir, "..data"))
}
