// Package redisserver starts private redis-server processes (in a temporary
// directory, on free loopback ports, each with its own config file) for
// tests and the drill: a primary with replicas, or a Redis Cluster. The
// shared Redis of REDIS_URL is never touched, and these servers persist
// ACLs (CONFIG REWRITE into their own config file, or ACL SAVE into an
// aclfile) and can be restarted.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoServer: redis-server (or redis-cli, for a cluster) is not installed.
var ErrNoServer = errors.New("redisserver: redis-server not installed")

// Server is one running redis-server.
type Server struct {
	Addr    string // 127.0.0.1:port
	Port    int
	Dir     string
	Conf    string // its config file (CONFIG REWRITE writes here)
	ACLFile string // "" unless Options.ACLFile
	Log     string // its log file
	cmd     *exec.Cmd
	bin     string
}

// Options configure a server.
type Options struct {
	// Requirepass sets the legacy default-user password in the config.
	Requirepass string
	// ACLFile keeps users in an aclfile (ACL SAVE) instead of the config.
	ACLFile bool
	// ReplicaOf makes it a replica of that address; Masterauth is its
	// password to the primary (also for cluster replicas).
	ReplicaOf, Masterauth string
	// Cluster enables cluster mode.
	Cluster bool
	// Extra config lines.
	Extra []string
}

// Start starts a server in a new directory under parent.
func Start(parent string, o Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoServer
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, "redis-"+strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir, Conf: filepath.Join(dir, "redis.conf"), Log: filepath.Join(dir, "redis.log"), bin: bin}
	lines := []string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "dir " + dir, "logfile " + s.Log,
		`save ""`, "appendonly no", "protected-mode no", "loglevel verbose",
	}
	if o.Requirepass != "" {
		lines = append(lines, "requirepass "+o.Requirepass)
	}
	if o.ACLFile {
		s.ACLFile = filepath.Join(dir, "users.acl")
		if err := os.WriteFile(s.ACLFile, nil, 0o600); err != nil {
			return nil, err
		}
		lines = append(lines, "aclfile "+s.ACLFile)
	}
	if o.ReplicaOf != "" {
		h, p, _ := net.SplitHostPort(o.ReplicaOf)
		lines = append(lines, "replicaof "+h+" "+p)
	}
	if o.Masterauth != "" {
		lines = append(lines, "masterauth "+o.Masterauth)
	}
	if o.Cluster {
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		lines = append(lines, "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-port "+strconv.Itoa(bus), "cluster-node-timeout 5000")
	}
	lines = append(lines, o.Extra...)
	if err := os.WriteFile(s.Conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	s.cmd = exec.Command(s.bin, s.Conf)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redisserver: start: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(s.Log)
			return fmt.Errorf("redisserver: %s did not listen: %v\n%s", s.Addr, err, tail(log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Restart stops the server and starts it again from its config file.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Cluster is a Redis Cluster of private servers.
type Cluster struct {
	Masters, Replicas []*Server
}

// All returns every server, masters first.
func (c *Cluster) All() []*Server { return append(append([]*Server(nil), c.Masters...), c.Replicas...) }

// Addrs returns every server's address.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, s := range c.All() {
		a = append(a, s.Addr)
	}
	return a
}

// Stop stops every server.
func (c *Cluster) Stop() {
	for _, s := range c.All() {
		s.Stop()
	}
}

// StartCluster starts masters × (1 + replicas) cluster servers under
// parent, joins them with redis-cli --cluster create and waits for
// cluster_state:ok on every node. o applies to every node (Cluster is set).
// A cluster with a default-user password needs o.Requirepass and
// o.Masterauth set to it.
func StartCluster(ctx context.Context, parent string, masters, replicas int, o Options) (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, ErrNoServer
	}
	o.Cluster = true
	c := &Cluster{}
	var all []*Server
	for i := 0; i < masters*(1+replicas); i++ {
		s, err := Start(parent, o)
		if err != nil {
			c.Masters = all
			c.Stop()
			return nil, err
		}
		all = append(all, s)
	}
	c.Masters, c.Replicas = all[:masters], all[masters:]
	args := []string{"--cluster", "create"}
	for _, s := range all {
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	if o.Requirepass != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+o.Requirepass)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redisserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitOK(ctx, o.Requirepass); err != nil {
		c.Stop()
		return nil, err
	}
	// Read back which nodes ended up replicas.
	c.Masters, c.Replicas = nil, nil
	for _, s := range all {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr, Password: o.Requirepass})
		role, err := rc.Do(ctx, "ROLE").Slice()
		rc.Close()
		if err != nil {
			c.Masters = all
			c.Stop()
			return nil, err
		}
		if r, _ := role[0].(string); r == "master" {
			c.Masters = append(c.Masters, s)
		} else {
			c.Replicas = append(c.Replicas, s)
		}
	}
	return c, nil
}

// WaitOK waits for cluster_state:ok and every replica in sync, on every node.
func (c *Cluster) WaitOK(ctx context.Context, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, s := range c.All() {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr, Password: password})
		for {
			info, err := rc.ClusterInfo(ctx).Result()
			repl, _ := rc.Info(ctx, "replication").Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && !strings.Contains(repl, "master_link_status:down") {
				break
			}
			if ctx.Err() != nil {
				rc.Close()
				return fmt.Errorf("redisserver: cluster node %s not ok: %v", s.Addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rc.Close()
	}
	return nil
}

// WaitReplica waits until the replica at addr reports master_link_status:up.
func WaitReplica(ctx context.Context, addr, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer rc.Close()
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("redisserver: replica %s not in sync: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
