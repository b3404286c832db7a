package redisauth_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// load is a service under rotation: a go-redis pool (connections recycled
// every 300 ms) whose every new connection reads its credentials through a
// redisauth provider, doing writes, reads and pub/sub. Every failed command
// is counted. The subscriber moves to a new subscription (make before
// break) when the provider's user changes, as a service using alternating
// users does.
type load struct {
	ops, fails, published, received atomic.Int64
	mu                              sync.Mutex
	errs                            []string
	stop                            context.CancelFunc
	done                            sync.WaitGroup
}

func (l *load) fail(what string, err error) {
	l.fails.Add(1)
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, what+": "+err.Error())
	}
	l.mu.Unlock()
}

func startLoad(t *testing.T, rdb redis.UniversalClient, creds redisauth.CredentialsFunc, prefix string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stop: cancel}
	for w := 0; w < 4; w++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("%s{w%d}:%d", prefix, w, i%50)
				if err := rdb.Set(ctx, k, i, time.Minute).Err(); err != nil && ctx.Err() == nil {
					l.fail("SET", err)
				}
				if err := rdb.Get(ctx, k).Err(); err != nil && ctx.Err() == nil {
					l.fail("GET", err)
				}
				l.ops.Add(2)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	channel := prefix + "events"
	user, _, _ := creds(ctx)
	ps := rdb.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	l.done.Add(2)
	go func() { // subscriber
		defer l.done.Done()
		ch := ps.Channel()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				ps.Close()
				return
			case <-ch:
				l.received.Add(1)
			case <-tick.C:
				u, _, err := creds(ctx)
				if err != nil || u == user {
					continue
				}
				nps := rdb.Subscribe(ctx, channel)
				if _, err := nps.Receive(ctx); err != nil {
					if ctx.Err() == nil {
						l.fail("SUBSCRIBE", err)
					}
					nps.Close()
					continue
				}
				old := ps
				ps, user, ch = nps, u, nps.Channel()
				go func(c <-chan *redis.Message) { // drain what was in flight
					for range c {
						l.received.Add(1)
					}
				}(old.Channel())
				time.AfterFunc(200*time.Millisecond, func() { old.Close() })
			}
		}
	}()
	go func() { // publisher
		defer l.done.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if err := rdb.Publish(ctx, channel, i).Err(); err != nil && ctx.Err() == nil {
				l.fail("PUBLISH", err)
			}
			l.published.Add(1)
			l.ops.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(l.halt)
	return l
}

func (l *load) halt() {
	l.stop()
	l.done.Wait()
}

// check stops the load and fails t on any failed command.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.halt()
	t.Logf("load: %d commands, %d failed, %d published, %d received", l.ops.Load(), l.fails.Load(), l.published.Load(), l.received.Load())
	if n := l.fails.Load(); n != 0 {
		t.Fatalf("%d failed commands: %v", n, l.errs)
	}
	if l.ops.Load() < 100 || l.received.Load() == 0 {
		t.Fatalf("load did not run: %d commands, %d messages", l.ops.Load(), l.received.Load())
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
