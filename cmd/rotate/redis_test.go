package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
)

func redisPair(t *testing.T, o redisserver.Options) (*redisserver.Server, *redisserver.Server) {
	p, err := redisserver.Start(t.TempDir(), o)
	if err == redisserver.ErrNoServer && !testsvc.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	o.ReplicaOf, o.Masterauth = p.Addr, o.Requirepass
	r, err := redisserver.Start(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	if err := redisserver.WaitReplica(context.Background(), r.Addr, o.Requirepass); err != nil {
		t.Fatal(err)
	}
	return p, r
}

func pingAs(addr, user, pw string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: pw, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil && !strings.HasPrefix(err.Error(), "NOPERM") {
		return err // NOPERM: logged in, but may not PING
	}
	return nil
}

// TestRedisProcedureAsDocumented runs both procedures of the docs with the
// real CLI on a primary and its replica.
func TestRedisProcedureAsDocumented(t *testing.T) {
	blocks := procedureBlocks(t, "## REDIS_URL / REDIS_PASSWORD")
	if len(blocks) != 2 {
		t.Fatalf("docs: %d sh blocks in the Redis section, want 2", len(blocks))
	}
	dir := t.TempDir()
	files := map[string]string{"admin.url": filepath.Join(dir, "admin.url"), "pw": filepath.Join(dir, "pw"), "10m": "1s"}

	t.Run("alternate", func(t *testing.T) {
		const opsPW, oldPW = "ops-password-0123456789abcdef", "old-password-0123456789abcdef"
		prim, repl := redisPair(t, redisserver.Options{})
		for _, s := range []*redisserver.Server{prim, repl} {
			c := redis.NewClient(&redis.Options{Addr: s.Addr})
			for _, u := range [][]string{{"ops", "reset", "on", ">" + opsPW, "~*", "&*", "+@all"}, {"app", "reset", "on", ">" + oldPW, "~app:*", "%R~ref:*", "+@read", "+@write", "(~log:* +xadd)"}} {
				if err := c.ACLSetUser(context.Background(), u[0], u[1:]...).Err(); err != nil {
					t.Fatal(err)
				}
			}
			c.ConfigRewrite(context.Background())
			c.Close()
		}
		if err := os.WriteFile(files["admin.url"], []byte("redis://ops:"+opsPW+"@"+prim.Addr+"/0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var newPW string
		audit := filepath.Join(t.TempDir(), "audit.jsonl")
		vars := map[string]string{"ROTATE_AUDIT_LOG": audit, "ROTATE_TICKET": "GOO-16"}
		runProcedure(t, vars, blocks[0], files, map[string]func(){
			"cutover": func() {
				b, _ := os.ReadFile(files["pw"])
				newPW = strings.TrimSpace(string(b))
			},
		}, opsPW, oldPW)
		// The audit log has keygen and apply (with the fingerprint), drain and retire,
		// and never a password; the checklist fills in from it.
		recs, err := readAudit(audit)
		if err != nil {
			t.Fatal(err)
		}
		var cmds []string
		for _, r := range recs {
			cmds = append(cmds, r.Command)
		}
		if strings.Join(cmds, ",") != "keygen,redis apply,redis drain,redis retire" || recs[0].After["redis"] != fingerprint.OfString(newPW) || recs[1].After["password app_v2"] != fingerprint.OfString(newPW) {
			t.Fatalf("audit: %+v", recs)
		}
		raw, _ := os.ReadFile(audit)
		if strings.Contains(string(raw), newPW) || strings.Contains(string(raw), opsPW) {
			t.Fatal("the audit log holds a password")
		}
		r := runCLI(t, vars, "", "checklist", "--from-audit", "redis", "production")
		if r.code != exitOK || !strings.Contains(r.stdout, fingerprint.OfString(newPW)) {
			t.Fatalf("checklist --from-audit: %d %s %s", r.code, r.stdout, r.stderr)
		}
		for _, s := range []*redisserver.Server{prim, repl} {
			if pingAs(s.Addr, "app", oldPW) == nil {
				t.Errorf("%s: app still logs in", s.Addr)
			}
			if err := pingAs(s.Addr, "app_v2", newPW); err != nil {
				t.Errorf("%s: app_v2: %v", s.Addr, err)
			}
		}
		// Retired already: a dry run says there is nothing to do (it printed
		// nothing at all) and its JSON has steps [], not null (trial #15).
		if r := runCLI(t, nil, "", "redis", "retire", "--redis-url-file", files["admin.url"], "--user", "app", "--strategy", "alternate", "--new", "app_v2", "--dry-run"); r.code != exitOK ||
			!strings.Contains(r.stdout, "nothing to do: app is already retired") {
			t.Errorf("retire --dry-run after retire: %v", r)
		}
		if r := runCLI(t, nil, "", "redis", "retire", "--redis-url-file", files["admin.url"], "--user", "app", "--strategy", "alternate", "--new", "app_v2", "--dry-run", "--json"); r.code != exitOK ||
			!strings.Contains(r.stdout, `"steps": []`) {
			t.Errorf("retire --dry-run --json after retire: %v", r)
		}
		// --json: the plan of the next rotation parses and names app_v3.
		r = runCLI(t, nil, "new-password-for-v3-0123456789", "redis", "plan", "--redis-url-file", files["admin.url"], "--user", "app_v2", "--json")
		var p struct {
			New   string `json:"new_user"`
			Nodes []any  `json:"nodes"`
		}
		if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &p) != nil || p.New != "app_v3" || len(p.Nodes) != 2 {
			t.Fatalf("plan --json: %d %s %s", r.code, r.stdout, r.stderr)
		}
		assertNoSecret(t, r, "new-password-for-v3-0123456789", opsPW)
	})

	t.Run("dual-default", func(t *testing.T) {
		const oldPW = "old-requirepass-0123456789abcdef"
		files["pw"] = filepath.Join(t.TempDir(), "pw") // a new password file for this procedure
		prim, repl := redisPair(t, redisserver.Options{Requirepass: oldPW})
		if err := os.WriteFile(files["admin.url"], []byte("redis://:"+oldPW+"@"+repl.Addr+"/0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var newPW string
		runProcedure(t, nil, blocks[1], files, map[string]func(){
			"cutover": func() {
				b, _ := os.ReadFile(files["pw"])
				newPW = strings.TrimSpace(string(b))
			},
			"admin.url": func() {
				_ = os.WriteFile(files["admin.url"], []byte("redis://:"+newPW+"@"+repl.Addr+"/0\n"), 0o600)
			},
		}, oldPW)
		for _, s := range []*redisserver.Server{prim, repl} {
			if pingAs(s.Addr, "", oldPW) == nil {
				t.Errorf("%s: the old requirepass still logs in", s.Addr)
			}
			if err := pingAs(s.Addr, "", newPW); err != nil {
				t.Errorf("%s: new password: %v", s.Addr, err)
			}
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
		}
		if err := redisserver.WaitReplica(context.Background(), repl.Addr, newPW); err != nil {
			t.Fatal(err)
		}
		// Verify with the admin URL updated, after restart, as the doc's
		// last step leaves it.
		r := runCLI(t, nil, newPW, "redis", "verify", "--redis-url-file", files["admin.url"], "--user", "default")
		if r.code != exitOK {
			t.Fatalf("verify after restart: %s", r.stderr)
		}
		assertNoSecret(t, r, newPW, oldPW)
	})
}

// TestRedisCLIRefusals: bad usage and irreversible steps without --yes are
// refused before any connection.
func TestRedisCLIRefusals(t *testing.T) {
	vars := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"redis", "plan"}, "rotate redis plan: missing required flag --user"},
		{[]string{"redis", "apply", "--user", "app", "hunter2-on-argv"}, "never argv"},
		{[]string{"redis", "retire", "--user", "app", "--new", "app_v2"}, "add --yes"},
		{[]string{"redis", "retire", "--user", "app"}, "--new NAME is required"},
		{[]string{"redis", "drain", "--user", "app", "--incident"}, "add --yes"},
		{[]string{"redis", "plan", "--user", "app", "--strategy", "triple"}, `--strategy "triple"`},
		{[]string{"redis", "rollback", "--user", "app", "--new", "app_v2"}, "add --yes"},
	} {
		r := runCLI(t, vars, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		assertNoSecret(t, r, "hunter2-on-argv")
	}
	// An unreachable node is a check failure, with the URL's password hidden.
	r := runCLI(t, map[string]string{"REDIS_URL": "redis://:s3cr3t-admin@127.0.0.1:1/0"}, "new-password-0123456789", "redis", "plan", "--user", "app")
	if r.code != exitCheck {
		t.Fatalf("unreachable: %d %s", r.code, r.stderr)
	}
	assertNoSecret(t, r, "s3cr3t-admin", "new-password-0123456789")
}

// TestRedisChecklistAndInventory: the redis class has its procedure steps
// and its variables, the alternating user among them.
func TestRedisChecklistAndInventory(t *testing.T) {
	r := runCLI(t, nil, "new-redis-password-0123456789abc\n", "checklist", "--stdin", "redis", "production")
	if r.code != exitOK || !strings.Contains(r.stdout, "rotate redis verify") || !strings.Contains(r.stdout, "rotate redis retire --yes") ||
		!strings.Contains(r.stdout, "`"+fingerprint.OfString("new-redis-password-0123456789abc")+"`") {
		t.Fatalf("checklist: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertNoSecret(t, r, "new-redis-password-0123456789abc")
	vars := map[string]string{"REDIS_URL": "redis://app_v2:s3cr3t-redis-password-123@cache:6379/0", "REDIS_USERNAME": "app_v2"}
	r = runCLI(t, vars, "", "inventory", "--class", "redis", "--json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"variable": "REDIS_USERNAME"`) || !strings.Contains(r.stdout, `"variable": "REDIS_PASSWORD"`) {
		t.Fatalf("inventory: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertNoSecret(t, r, "s3cr3t-redis-password-123")
}

// TestRedisVerifyReportsDrift: verify, run after apply, reports a new user
// whose rules drifted (the findings, exit 1) and a wrong password (the new
// user lacks it), instead of refusing as a plan onto an existing user would
// ("choose another --new or delete it"); apply onto the drifted user is
// still refused.
func TestRedisVerifyReportsDrift(t *testing.T) {
	s, err := redisserver.Start(t.TempDir(), redisserver.Options{})
	if err == redisserver.ErrNoServer && !testsvc.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.ACLSetUser(ctx, "app", "reset", "on", ">old-password-0123456789", "~app:*", "+@read").Err(); err != nil {
		t.Fatal(err)
	}
	const pw = "new-password-0123456789abcdef"
	vars := map[string]string{"REDIS_URL": "redis://" + s.Addr + "/0"}
	r := runCLI(t, vars, pw, "redis", "apply", "--user", "app", "--json")
	if r.code != exitOK {
		t.Fatalf("apply: %d %s", r.code, r.stderr)
	}
	// --json keys are snake_case, as in the plan's steps.
	var applied struct {
		Applied []map[string]string `json:"applied"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || len(applied.Applied) == 0 || applied.Applied[0]["node"] != s.Addr || applied.Applied[0]["command"] == "" {
		t.Errorf("apply --json: %v\n%s\nwant applied[].node and .command", err, r.stdout)
	}
	if err := c.ACLSetUser(ctx, "app_v2", "~extra:*").Err(); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, vars, pw, "redis", "verify", "--user", "app", "--new", "app_v2")
	if r.code != exitCheck || !strings.Contains(r.stdout, "~extra:*") || strings.Contains(r.stderr, "delete it") {
		t.Errorf("verify of a drifted app_v2: exit %d\nstdout: %s\nstderr: %s\nwant 1 with the finding", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, vars, pw, "redis", "verify", "--user", "app", "--new", "app_v2", "--json")
	var out struct {
		OK       bool     `json:"ok"`
		Findings []string `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.OK || len(out.Findings) == 0 {
		t.Errorf("verify --json of a drifted app_v2: %v %+v\n%s", err, out, r.stdout)
	}
	r = runCLI(t, vars, "wrong-password-0123456789", "redis", "verify", "--user", "app", "--new", "app_v2")
	if r.code != exitCheck || !strings.Contains(r.stderr, "lacks the new password") {
		t.Errorf("verify with a wrong password: exit %d, stderr %q; want 1, lacks the new password", r.code, r.stderr)
	}
	assertNoSecret(t, r, "wrong-password-0123456789", pw)
	if r := runCLI(t, vars, pw, "redis", "apply", "--user", "app", "--new", "app_v2"); r.code == exitOK || !strings.Contains(r.stderr, "exists with other rules") {
		t.Errorf("apply onto the drifted app_v2: exit %d, stderr %q; want refused", r.code, r.stderr)
	}
}

// TestRedisNodesFlag: a replica that is down is not discovered; --nodes
// refuses the rotation instead of leaving it on the old password, and
// without --nodes the servers found are listed.
func TestRedisNodesFlag(t *testing.T) {
	prim, repl := redisPair(t, redisserver.Options{})
	for _, s := range []*redisserver.Server{prim, repl} {
		c := redis.NewClient(&redis.Options{Addr: s.Addr})
		if err := c.ACLSetUser(context.Background(), "app", "reset", "on", ">old-password-0123456789abcdef", "~app:*", "+@read").Err(); err != nil {
			t.Fatal(err)
		}
		c.ConfigRewrite(context.Background())
		c.Close()
	}
	url := filepath.Join(t.TempDir(), "admin.url")
	if err := os.WriteFile(url, []byte("redis://"+prim.Addr+"/0"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pw = "new-password-0123456789abcdef"
	if r := runCLI(t, nil, pw, "redis", "plan", "--redis-url-file", url, "--user", "app", "--nodes", "2"); r.code != exitOK {
		t.Fatalf("both servers up, --nodes 2: %+v", r)
	}
	repl.Stop()
	r := runCLI(t, nil, pw, "redis", "plan", "--redis-url-file", url, "--user", "app", "--nodes", "2")
	if r.code != exitCheck || !strings.Contains(r.stderr, "found 1 servers, --nodes says 2") || !strings.Contains(r.stderr, prim.Addr) {
		t.Fatalf("replica down, --nodes 2: %+v", r)
	}
	r = runCLI(t, nil, pw, "redis", "plan", "--redis-url-file", url, "--user", "app")
	if r.code != exitOK || !strings.Contains(r.stderr, "found 1 servers") || !strings.Contains(r.stderr, "--nodes 1") {
		t.Fatalf("without --nodes the servers found are not listed: %+v", r)
	}
	assertNoSecret(t, r, pw)
}

// TestRedisDryRunsAndJSON: drain and rollback have dry runs that change
// nothing, and every --json is one document in the CLI's style (an & in a
// key pattern stays &).
func TestRedisDryRunsAndJSON(t *testing.T) {
	s, err := redisserver.Start(t.TempDir(), redisserver.Options{})
	if err == redisserver.ErrNoServer && !testsvc.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.ACLSetUser(ctx, "app", "reset", "on", ">old-password-0123456789", "~app:&*", "+@read").Err(); err != nil {
		t.Fatal(err)
	}
	// A client of the old user, for drain to count.
	old := redis.NewClient(&redis.Options{Addr: s.Addr, Username: "app", Password: "old-password-0123456789", MaxRetries: -1, PoolSize: 1})
	defer old.Close()
	if err := old.Get(ctx, "app:&x").Err(); err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	const pw = "new-password-0123456789abcdef"
	vars := map[string]string{"REDIS_URL": "redis://" + s.Addr + "/0"}

	r := runCLI(t, vars, pw, "redis", "plan", "--user", "app", "--json")
	assertJSONStyle(t, "redis plan", r.stdout)
	if r.code != exitOK || strings.Contains(r.stdout, `\u0026`) || !strings.Contains(r.stdout, "~app:&*") || !strings.Contains(r.stdout, `"command": "redis plan"`) {
		t.Fatalf("plan --json: %v", r)
	}
	r = runCLI(t, vars, "", "redis", "drain", "--user", "app", "--incident", "--dry-run", "--json")
	assertJSONStyle(t, "redis drain --dry-run", r.stdout)
	var d struct {
		DryRun  bool `json:"dry_run"`
		Clients int  `json:"clients"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); r.code != exitOK || err != nil || !d.DryRun || d.Clients < 1 {
		t.Fatalf("drain --incident --dry-run: %v %v", err, r)
	}
	if err := old.Get(ctx, "app:&x").Err(); err != nil && err != redis.Nil {
		t.Fatalf("the dry run killed the old user's client: %v", err)
	}
	if r := runCLI(t, vars, pw, "redis", "apply", "--user", "app"); r.code != exitOK {
		t.Fatalf("apply: %v", r)
	}
	r = runCLI(t, vars, pw, "redis", "rollback", "--user", "app", "--new", "app_v2", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "dry run: would undo apply on 1 node(s): deletes the new user app_v2") {
		t.Fatalf("rollback --dry-run: %v", r)
	}
	if err := pingAs(s.Addr, "app_v2", pw); err != nil {
		t.Fatalf("the rollback dry run removed app_v2: %v", err)
	}
	r = runCLI(t, vars, pw, "redis", "rollback", "--user", "app", "--new", "app_v2", "--yes", "--json")
	assertJSONStyle(t, "redis rollback", r.stdout)
	if r.code != exitOK || !strings.Contains(r.stdout, `"command": "redis rollback"`) || pingAs(s.Addr, "app_v2", pw) == nil {
		t.Fatalf("rollback --json: %v", r)
	}
}
