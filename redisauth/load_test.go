package redisauth_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisload"
	"github.com/goodgo/rotation/redisauth"
)

// secretDir is a directory written the way a Kubernetes secret volume is:
// every file is a symlink into ..data, and ..data is swapped atomically, so
// a reader sees the old user and password or the new ones, never a mix.
type secretDir struct {
	dir string
	gen int
}

func newSecretDir(t *testing.T, files map[string]string) *secretDir {
	d := &secretDir{dir: t.TempDir()}
	d.write(t, files)
	for name := range files {
		must(t, os.Symlink(filepath.Join("..data", name), filepath.Join(d.dir, name)))
	}
	return d
}

func (d *secretDir) path(name string) string { return filepath.Join(d.dir, name) }

func (d *secretDir) write(t *testing.T, files map[string]string) {
	t.Helper()
	d.gen++
	v := filepath.Join(d.dir, "..v"+strconv.Itoa(d.gen))
	must(t, os.Mkdir(v, 0o700))
	for name, content := range files {
		must(t, os.WriteFile(filepath.Join(v, name), []byte(content+"\n"), 0o600))
	}
	tmp := filepath.Join(d.dir, "..data_tmp")
	must(t, os.Symlink(filepath.Base(v), tmp))
	must(t, os.Rename(tmp, filepath.Join(d.dir, "..data")))
}

// load is a service under rotation (internal/redisload): a go-redis pool
// whose every new connection reads its credentials through a redisauth
// provider, doing writes, reads and pub/sub, every failed command counted.
type load struct{ *redisload.Load }

func startLoad(t *testing.T, rdb redis.UniversalClient, creds redisauth.CredentialsFunc, prefix string) *load {
	t.Helper()
	l, err := redisload.Start(context.Background(), rdb, creds, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return &load{l}
}

// check stops the load and fails t on any failed command.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.Stop()
	t.Logf("load: %d commands, %d failed, %d published, %d received", l.Ops(), l.Fails(), l.Published(), l.Received())
	if n := l.Fails(); n != 0 {
		t.Fatalf("%d failed commands: %v", n, l.Errors())
	}
	if l.Ops() < 100 || l.Received() == 0 {
		t.Fatalf("load did not run: %d commands, %d messages", l.Ops(), l.Received())
	}
}

// monitor runs MONITOR on addr for the whole test (redis-cli, authenticated
// as the operator through REDISCLI_AUTH) and returns a function giving its
// output so far.
func monitor(t *testing.T, addr, user, password string) func() string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	args := []string{"-h", host, "-p", port}
	if user != "" {
		args = append(args, "--user", user)
	}
	out := filepath.Join(t.TempDir(), "monitor.txt")
	f, err := os.Create(out)
	must(t, err)
	cmd := exec.Command("redis-cli", append(args, "MONITOR")...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
	cmd.Stdout, cmd.Stderr = f, f
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); f.Close() })
	time.Sleep(200 * time.Millisecond)
	return func() string { b, _ := os.ReadFile(out); return string(b) }
}

// neverShown fails t when secret appears in any of the texts, and checks
// that each text saw something (MONITOR must have been running).
func neverShown(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for name, s := range texts {
		if len(s) < 100 {
			t.Errorf("%s captured almost nothing (%d bytes): was it running?", name, len(s))
		}
		if strings.Contains(s, secret) {
			t.Errorf("%s contains the new password", name)
		}
	}
}
