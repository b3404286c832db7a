package testsvc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a real three-master Redis Cluster started for one test (in
// a temporary directory, on free ports) and stopped when the test ends.
type RedisCluster struct {
	Client *redis.ClusterClient
	Addrs  []string // "127.0.0.1:port" of each master
	Dir    string
}

// NewRedisCluster starts three redis-server processes with cluster-enabled,
// joins them with "redis-cli --cluster create … --cluster-yes" and waits for
// cluster_state:ok. Missing redis-server or redis-cli skips the test (fails
// it under CI).
func NewRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server", "install it: apt-get install -y redis-server", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "redis-cli", "install it: apt-get install -y redis-tools", err)
	}
	dir, err := os.MkdirTemp("", "rt-rediscluster-")
	if err != nil {
		t.Fatal(err)
	}
	rc := &RedisCluster{Dir: dir}
	var procs []*exec.Cmd
	t.Cleanup(func() {
		if rc.Client != nil {
			rc.Client.Close()
		}
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = p.Process.Kill()
				<-done
			}
		}
		_ = os.RemoveAll(dir)
	})
	for i := 0; i < 3; i++ {
		port, bus := clusterPort(t), clusterPort(t)
		nodeDir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.Mkdir(nodeDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, "--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
			"--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--dir", nodeDir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
			"--logfile", filepath.Join(nodeDir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("testsvc: start redis-server: %v", err)
		}
		procs = append(procs, cmd)
		rc.Addrs = append(rc.Addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, a := range rc.Addrs {
		waitListen(t, a)
	}
	args := append([]string{"--cluster", "create"}, rc.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testsvc: redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, a := range rc.Addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				c.Close()
				t.Fatalf("testsvc: cluster node %s not ok: %v %s", a, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	rc.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs})
	if err := rc.Client.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatalf("testsvc: cluster ping: %v", err)
	}
	return rc
}

func waitListen(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("testsvc: redis-server did not listen on %s: %w", addr, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func clusterPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
