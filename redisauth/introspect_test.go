package redisauth_test

import (
	"errors"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/redisauth"
)

// TestRoundTrip creates users with every kind of rule, reads each into the
// model, creates a copy from the model, and checks that ACL GETUSER and
// ACL LIST of the copy equal the original's.
func TestRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	adm := connect(t, s.Addr, "", "")
	c := client(t, s.Addr, "", "")
	h1, h2 := redisauth.Hash([]byte("one")), redisauth.Hash([]byte("two"))
	cases := map[string][]string{
		"selectors": {"on", "#" + h1, "~foo*", "%R~bar:*", "%W~baz:*", "%RW~both", "resetchannels", "&ch:*", "&news", "-@all", "+@read", "-get", "+config|get",
			"(~x* +set)", "(%R~y* &n:* +get +client|list)"},
		"all":        {"on", "#" + h1, "#" + h2, "allkeys", "allchannels", "+@all", "-@dangerous", "+info"},
		"off":        {"off", "#" + h1, "~k", "+ping"},
		"nothing":    {"on", "#" + h1},
		"sanitize":   {"on", "#" + h1, "skip-sanitize-payload", "~*", "&*", "+@all", "-flushall"},
		"sanitize2":  {"on", "#" + h1, "sanitize-payload", "~a", "+@write"},
		"nopass":     {"on", "nopass", "~*", "+@read"},
		"channels":   {"on", "#" + h1, "resetchannels", "&a", "&b*", "+subscribe", "+publish"},
		"keys-dup":   {"on", "#" + h1, "~a", "%R~a", "+get"},
		"punct-name": {"on", "#" + h1, "~*", "+get"},
	}
	for name, rules := range cases {
		t.Run(name, func(t *testing.T) {
			orig := "rt_" + name
			if name == "punct-name" {
				orig = "svc.api:eu@1-a"
			}
			must(t, c.ACLSetUser(ctx, orig, append([]string{"reset"}, rules...)...).Err())
			u, err := adm.Introspect(ctx, orig)
			must(t, err)
			cp := orig + "_v2"
			args := []string{"reset"}
			args = append(args, u.Rules()...)
			for _, h := range u.Passwords {
				args = append(args, "#"+h)
			}
			must(t, c.ACLSetUser(ctx, cp, args...).Err())
			a, err := c.Do(ctx, "ACL", "GETUSER", orig).Result()
			must(t, err)
			b, err := c.Do(ctx, "ACL", "GETUSER", cp).Result()
			must(t, err)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("ACL GETUSER differs:\n%v\n%v", a, b)
			}
			lines, err := c.ACLList(ctx).Result()
			must(t, err)
			var la, lb string
			for _, l := range lines {
				if strings.HasPrefix(l, "user "+orig+" ") {
					la = strings.TrimPrefix(l, "user "+orig+" ")
				}
				if strings.HasPrefix(l, "user "+cp+" ") {
					lb = strings.TrimPrefix(l, "user "+cp+" ")
				}
			}
			if la == "" || la != lb {
				t.Fatalf("ACL LIST differs:\n%s\n%s", la, lb)
			}
			v, err := adm.Introspect(ctx, cp)
			must(t, err)
			if fs := redisauth.Diff(u, v); len(fs) != 0 {
				t.Fatalf("diff of copy: %v", fs)
			}
		})
	}
}

func TestUnreproducibleRefused(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	adm := connect(t, s.Addr, "", "")
	c := client(t, s.Addr, "", "")
	// Redis refuses spaces in patterns itself; parentheses it accepts, and
	// ACL LIST could not tell them from a selector.
	if err := c.ACLSetUser(ctx, "spacey", "on", ">x", "~foo bar", "+get").Err(); err == nil {
		t.Fatal("Redis accepted a pattern with a space: the model must refuse it")
	}
	must(t, c.ACLSetUser(ctx, "paren2", "on", ">x", "(~a) +get)").Err())
	must(t, c.ACLSetUser(ctx, "paren", "on", ">x", "~a(b", "+get").Err())
	for _, u := range []string{"paren", "paren2"} {
		_, err := adm.Introspect(ctx, u)
		if !errors.Is(err, redisauth.ErrUnreproducible) {
			t.Errorf("%s: got %v, want ErrUnreproducible", u, err)
		}
		_, err = adm.Plan(ctx, redisauth.PlanOptions{User: u, Password: secret("new-password-1234567890")})
		if !errors.Is(err, redisauth.ErrUnreproducible) {
			t.Errorf("%s plan: got %v, want ErrUnreproducible", u, err)
		}
	}
	for _, name := range []string{"bad name", "", "x\ny", "1abc", strings.Repeat("a", 129)} {
		if _, err := adm.Introspect(ctx, name); !errors.Is(err, redisauth.ErrInvalidName) {
			t.Errorf("%q: got %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := adm.Introspect(ctx, "nobody_here"); !errors.Is(err, redisauth.ErrUserNotFound) {
		t.Errorf("missing user: %v", err)
	}
	// Nothing was changed by the refusals.
	n, _ := c.ACLUsers(ctx).Result()
	if len(n) != 3 {
		t.Errorf("users now %v", n)
	}
}

func TestACLRefusedBeforeAnyChange(t *testing.T) {
	ctx := ctxT(t)
	// A node where ACL is renamed away.
	s := server(t, redisserver.Options{Extra: []string{`rename-command ACL ""`}})
	_, err := redisauth.ConnectOptions(ctx, &redis.Options{Addr: s.Addr})
	if !errors.Is(err, redisauth.ErrACLRefused) || !strings.Contains(err.Error(), s.Addr) {
		t.Fatalf("renamed ACL: %v", err)
	}
	// An operator user without ACL permission.
	s2 := server(t, redisserver.Options{})
	c := client(t, s2.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "weak", "on", ">weakpw", "~*", "+@all", "-acl").Err())
	_, err = redisauth.ConnectOptions(ctx, &redis.Options{Addr: s2.Addr, Username: "weak", Password: "weakpw"})
	if !errors.Is(err, redisauth.ErrACLRefused) {
		t.Fatalf("NOPERM: %v", err)
	}
	// A server without a config file (and no aclfile) cannot persist:
	// Plan refuses before anything changes.
	port := freePort(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", t.TempDir())
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitUp(t, addr)
	c3 := client(t, addr, "", "")
	must(t, c3.ACLSetUser(ctx, "app", "on", ">old-password-0123456789", "~*", "+@all").Err())
	adm := connect(t, addr, "", "")
	_, err = adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: secret("new-password-1234567890")})
	if !errors.Is(err, redisauth.ErrCannotPersist) || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("no config file: %v", err)
	}
	if us, _ := c3.ACLUsers(ctx).Result(); len(us) != 2 {
		t.Fatalf("users changed: %v", us)
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{"5.0.14": false, "4.0.0": false, "6.0.0": true, "7.0.15": true, "8.2.1": true, "": false, "x": false} {
		err := redisauth.CheckVersion(v)
		if (err == nil) != ok || (err != nil && !errors.Is(err, redisauth.ErrServerTooOld)) {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// TestDiscoveryDedup: a server reached under two addresses (the seed's
// name, the address its replica reports) is one node.
func TestDiscoveryDedup(t *testing.T) {
	prim, repl := primaryReplica(t, redisserver.Options{})
	adm := connect(t, "localhost:"+strconv.Itoa(prim.Port), "", "")
	ns := adm.Nodes()
	if len(ns) != 2 || ns[0].Role != "master" || ns[1].Addr != repl.Addr || ns[1].Role != "replica" {
		t.Fatalf("nodes: %+v", ns)
	}
}
