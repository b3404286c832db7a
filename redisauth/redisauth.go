// Package redisauth rotates a Redis password with zero failed commands, over
// Redis 6+ ACLs, on every node: the primary and its replicas, or every node
// of a Redis Cluster. It is the Redis counterpart of package pgrole and uses
// its vocabulary: Plan, Apply, Verify, Drain, Retire, Rollback.
//
// Two strategies:
//   - Dual: the new password is added beside the old one ("ACL SETUSER u
//     #<sha256>"); applications switch as their connections recycle; retire
//     removes every other password ("!<sha256>"). Redis cannot say which
//     password a connection used, so drain is a time window. The only
//     strategy for the "default" user, including legacy requirepass setups:
//     retire then clears requirepass in the same MULTI/EXEC that leaves the
//     new hash, so the config file keeps no stale plaintext password that a
//     restart would bring back.
//   - Alternate: a new user (app_v2, app_v3 …) with exactly the rules of the
//     old one, read from ACL LIST and cross-checked with ACL GETUSER (flags,
//     commands and categories, key patterns with %R~/%W~, channel patterns,
//     selectors); a two-way Diff gates cutover. CLIENT LIST shows the
//     connections still on the old user, so drain is observable; retire
//     deletes the old user (incident mode first kills its clients).
//
// Passwords reach Redis only as SHA-256 hashes, never in plaintext, so no
// MONITOR, slow log or server log sees them; plans show the first 16 hex
// characters of the hash, which are the password's fingerprint.
//
// Every change is made on every node and persisted there the way the node is
// configured: ACL SAVE when it has an aclfile, CONFIG REWRITE otherwise.
// Plan refuses a node that cannot persist (no config file, no aclfile), a
// server older than 6.0, a node that refuses ACL commands, and a user whose
// rules it cannot reproduce exactly, before anything changes. Every step is
// idempotent: after a node failed mid-apply, Apply again finishes the
// rotation and Rollback undoes it.
//
// The common path:
//
//	adm, _ := redisauth.Connect(ctx, "redis://admin@primary:6379") // password from a file, not argv
//	plan, _ := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Strategy: redisauth.Alternate, Password: newPassword})
//	fmt.Print(plan.Render())
//	_, err := adm.Apply(ctx, plan)   // create app_v2 on every node, persist, verify
//	// cut over: write app_v2 and its password where the services read them
//	_ = adm.Drain(ctx, plan.Old, redisauth.DrainOptions{Timeout: 10 * time.Minute})
//	_, err = adm.Retire(ctx, plan.RetireOptions())
//
// A node whose masterauth is the rotated password (a replica, or a primary,
// which uses it after a failover) is moved to the new credentials by Apply;
// Retire refuses while a node still holds a password being removed.
//
// Services follow the new credentials without a restart through a go-redis
// CredentialsProviderContext (PasswordFile, URLFile, PasswordEnv) as their
// connections recycle (ConnMaxLifetime, with PoolFIFO so idle connections
// recycle too).
package redisauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// MinServerVersion is the oldest Redis redisauth supports (ACLs).
const MinServerVersion = "6.0.0"

var (
	// ErrUserNotFound: the user does not exist (on some node).
	ErrUserNotFound = errors.New("redisauth: user not found")
	// ErrUserExists: the user to create already exists with other rules or
	// another password.
	ErrUserExists = errors.New("redisauth: user already exists")
	// ErrInvalidName: a user name redisauth refuses (see ValidateName).
	ErrInvalidName = errors.New("redisauth: invalid user name")
	// ErrServerTooOld: a node is older than MinServerVersion.
	ErrServerTooOld = errors.New("redisauth: Redis server too old (no ACLs)")
	// ErrACLRefused: a node refuses the ACL commands (renamed, not
	// permitted to the operator user, or a proxy).
	ErrACLRefused = errors.New("redisauth: node refuses ACL commands")
	// ErrUnreproducible: a user's rules cannot be read into the model and
	// reproduced exactly; nothing is changed.
	ErrUnreproducible = errors.New("redisauth: ACL rules cannot be reproduced exactly")
	// ErrNodesDisagree: the user's rules differ between nodes.
	ErrNodesDisagree = errors.New("redisauth: nodes disagree about the user")
	// ErrCannotPersist: a node has neither an aclfile nor a config file; a
	// change there would be lost at restart.
	ErrCannotPersist = errors.New("redisauth: node cannot persist ACL changes")
	// ErrRulesDiff: the new user's rules differ from the old one's; cutover
	// and retire are refused. The error is a *DiffError.
	ErrRulesDiff = errors.New("redisauth: new user's rules differ from the old user's")
	// ErrClientsRemain: clients still use the old user.
	ErrClientsRemain = errors.New("redisauth: clients of the old user remain")
	// ErrDrainTimeout: clients of the old user remained past the timeout.
	ErrDrainTimeout = errors.New("redisauth: drain timed out")
	// ErrNotApplied: the new password or user is missing on some node.
	ErrNotApplied = errors.New("redisauth: the new credentials are not on every node")
	// ErrBadPlan: the plan or its options are inconsistent.
	ErrBadPlan = errors.New("redisauth: invalid plan")
	// ErrRolledForward: rollback is impossible because the old credentials
	// were retired (the old user deleted, or its other passwords removed),
	// as pgrole.ErrRolledForward is for a role.
	ErrRolledForward = errors.New("redisauth: the old credentials were retired; rollback is no longer possible")
	// ErrReplicaAuth: a replica authenticates to its primary with the
	// password being removed (masterauth).
	ErrReplicaAuth = errors.New("redisauth: a replica authenticates with the password being removed")
)

// NameError reports a refused user name; it matches ErrInvalidName.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("redisauth: user name %q refused: %s", truncate(e.Name, 80), e.Reason)
}
func (e *NameError) Unwrap() error { return ErrInvalidName }

// NodeError says which node failed and wraps why.
type NodeError struct {
	Addr string
	Err  error
}

// Error names the node once and the package once: "redisauth: node
// 10.0.0.5:6379: node cannot persist ACL changes: …".
func (e *NodeError) Error() string {
	return "redisauth: node " + e.Addr + ": " + strings.TrimPrefix(e.Err.Error(), "redisauth: ")
}
func (e *NodeError) Unwrap() error { return e.Err }

// DiffError lists the findings of a refused cutover.
type DiffError struct {
	Old, New    string
	Node        string
	Differences []Difference
}

func (e *DiffError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "redisauth: %q and %q differ on %s (%d finding(s))", e.Old, e.New, e.Node, len(e.Differences))
	for i, f := range e.Differences {
		if i == 5 {
			b.WriteString("; …")
			break
		}
		b.WriteString("; " + f.String())
	}
	return b.String()
}
func (e *DiffError) Unwrap() error { return ErrRulesDiff }

// Persistence is how a node keeps ACL changes across a restart.
type Persistence string

const (
	// PersistACLSave: the node has an aclfile; ACL SAVE writes it.
	PersistACLSave Persistence = "ACL SAVE"
	// PersistConfigRewrite: users live in the config file; CONFIG REWRITE.
	PersistConfigRewrite Persistence = "CONFIG REWRITE"
	// PersistNone: neither; redisauth refuses such a node.
	PersistNone Persistence = "none"
)

// Node is one server of the deployment as discovered.
type Node struct {
	Addr    string
	Role    string // "master" or "replica"
	Version string // redis_version
	// Persist says how this node persists ACL changes.
	Persist    Persistence
	ConfigFile string
	ACLFile    string
	// Requirepass reports that requirepass is set (legacy default-user
	// password); its value is never read into the model.
	Requirepass bool

	client *redis.Client
	runID  string
}

// Admin is an operator connection to every node of one deployment: a
// standalone primary with its replicas, or a Redis Cluster. The operator
// user needs the ACL, CONFIG, CLIENT, INFO and ROLE (or CLUSTER) commands on
// every node, with the same credentials. Not safe for concurrent use.
type Admin struct {
	nodes   []*Node
	cluster bool
	opt     redis.Options
}

// Connect connects with a redis:// or rediss:// URL, as pgrole.Connect does
// with a DSN; see ConnectOptions for what it checks. The error never
// contains the URL's password.
func Connect(ctx context.Context, rawURL string) (*Admin, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("redisauth: the admin URL is not a valid redis:// URL (details withheld: it may contain a password)")
	}
	return ConnectOptions(ctx, opt)
}

// ConnectOptions connects to the node in opt.Addr and discovers the rest: the
// primary and every replica (ROLE, INFO replication, followed both ways), or
// every node of a Cluster (CLUSTER NODES). Other nodes are dialled with a
// copy of opt and their address. Each node is checked: Redis 6.0 or later,
// ACL commands allowed, and a way to persist; the first failure is returned
// before anything changes.
func ConnectOptions(ctx context.Context, opt *redis.Options) (*Admin, error) {
	a := &Admin{opt: *opt}
	a.opt.CredentialsProviderContext = opt.CredentialsProviderContext
	seed, err := a.node(ctx, opt.Addr)
	if err != nil {
		a.Close()
		return nil, err
	}
	seen := map[string]bool{seed.Addr: true}
	queue := []*Node{seed}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		peers, err := a.peers(ctx, n)
		if err != nil {
			a.Close()
			return nil, &NodeError{n.Addr, err}
		}
		for _, p := range peers {
			if seen[p] {
				continue
			}
			seen[p] = true
			m, err := a.node(ctx, p)
			if err != nil {
				a.Close()
				return nil, err
			}
			if a.duplicate(m) {
				continue // the same server under another address
			}
			queue = append(queue, m)
		}
	}
	return a, nil
}

// duplicate drops m when a node with its run_id is already known.
func (a *Admin) duplicate(m *Node) bool {
	for _, n := range a.nodes[:len(a.nodes)-1] {
		if n.runID != "" && n.runID == m.runID {
			m.client.Close()
			a.nodes = a.nodes[:len(a.nodes)-1]
			return true
		}
	}
	return false
}

// Nodes returns the discovered nodes, the seed first.
func (a *Admin) Nodes() []Node {
	out := make([]Node, len(a.nodes))
	for i, n := range a.nodes {
		out[i] = *n
		out[i].client = nil
	}
	return out
}

// Cluster reports whether the deployment is a Redis Cluster.
func (a *Admin) Cluster() bool { return a.cluster }

// Close closes every node connection.
func (a *Admin) Close() error {
	for _, n := range a.nodes {
		n.client.Close()
	}
	return nil
}

// node connects to addr and reads what the checks need.
func (a *Admin) node(ctx context.Context, addr string) (*Node, error) {
	o := a.opt
	o.Addr = addr
	o.Protocol = 2
	o.DisableIdentity = true
	o.PoolSize = 2
	c := redis.NewClient(&o)
	n := &Node{Addr: addr, client: c}
	a.nodes = append(a.nodes, n)
	info, err := c.Info(ctx, "server", "replication", "cluster").Result()
	if err != nil {
		return nil, &NodeError{addr, fmt.Errorf("INFO: %w", err)}
	}
	kv := parseInfo(info)
	n.Version, n.ConfigFile, n.runID = kv["redis_version"], kv["config_file"], kv["run_id"]
	if err := CheckVersion(n.Version); err != nil {
		return nil, &NodeError{addr, err}
	}
	n.Role = "master"
	if kv["role"] == "slave" {
		n.Role = "replica"
	}
	if kv["cluster_enabled"] == "1" {
		a.cluster = true
	}
	who, err := c.Do(ctx, "ACL", "WHOAMI").Text()
	if err != nil {
		return nil, &NodeError{addr, fmt.Errorf("%w: ACL WHOAMI: %v", ErrACLRefused, err)}
	}
	cfg, err := c.ConfigGet(ctx, "aclfile").Result()
	if err != nil {
		return nil, &NodeError{addr, fmt.Errorf("CONFIG GET aclfile: %w", err)}
	}
	n.ACLFile = cfg["aclfile"]
	rp, err := c.ConfigGet(ctx, "requirepass").Result()
	if err != nil {
		return nil, &NodeError{addr, fmt.Errorf("CONFIG GET requirepass: %w", err)}
	}
	n.Requirepass = rp["requirepass"] != ""
	switch {
	case n.ACLFile != "":
		n.Persist = PersistACLSave
	case n.ConfigFile != "":
		n.Persist = PersistConfigRewrite
	default:
		n.Persist = PersistNone
	}
	if err := canRun(ctx, c, who, n.Persist); err != nil {
		return nil, &NodeError{addr, err}
	}
	return n, nil
}

// canRun asks the node (ACL DRYRUN, Redis 7+) whether the operator user may
// send what a rotation sends, so that a missing permission (say -acl|save)
// is refused before anything changes rather than after the first node
// changed. A server without ACL DRYRUN, or an operator not allowed to use
// it, is not checked here: the commands themselves then say.
func canRun(ctx context.Context, c *redis.Client, who string, persist Persistence) error {
	cmds := [][]any{{"ACL", "SETUSER", "x"}, {"ACL", "DELUSER", "x"}, {"ACL", "GETUSER", "x"}, {"CLIENT", "LIST"}}
	switch persist {
	case PersistACLSave:
		cmds = append(cmds, []any{"ACL", "SAVE"})
	case PersistConfigRewrite:
		cmds = append(cmds, []any{"CONFIG", "REWRITE"})
	}
	for _, cmd := range cmds {
		res, err := c.Do(ctx, append([]any{"ACL", "DRYRUN", who}, cmd...)...).Text()
		if err != nil {
			return nil // no ACL DRYRUN (Redis 6), or not permitted: unchecked
		}
		if res != "OK" {
			what := fmt.Sprint(cmd[0], " ", cmd[1])
			if persist != PersistNone && (what == "ACL SAVE" || what == "CONFIG REWRITE") {
				return fmt.Errorf("%w: %s: %q may not run it (%s): the change would be live but lost at restart", ErrCannotPersist, what, who, res)
			}
			return fmt.Errorf("%w: %s: %q may not run it (%s)", ErrACLRefused, what, who, res)
		}
	}
	return nil
}

// peers lists the addresses n knows: replicas and primary, or cluster nodes.
func (a *Admin) peers(ctx context.Context, n *Node) ([]string, error) {
	if a.cluster {
		s, err := n.client.ClusterNodes(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("CLUSTER NODES: %w", err)
		}
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			if strings.Contains(f[2], "noaddr") || strings.Contains(f[2], "handshake") {
				continue
			}
			if strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?") {
				return nil, fmt.Errorf("cluster node %s is marked failed: every node must be reachable to rotate its ACLs", f[1])
			}
			addr := f[1]
			if i := strings.IndexAny(addr, "@,"); i >= 0 {
				addr = addr[:i]
			}
			if strings.HasPrefix(addr, ":") {
				addr = hostOf(n.Addr) + addr
			}
			out = append(out, addr)
		}
		return out, nil
	}
	info, err := n.client.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO replication: %w", err)
	}
	kv := parseInfo(info)
	var out []string
	if h, p := kv["master_host"], kv["master_port"]; h != "" {
		out = append(out, net.JoinHostPort(h, p))
	}
	for k, v := range kv {
		if !strings.HasPrefix(k, "slave") || strings.Trim(k[5:], "0123456789") != "" || k == "slave" {
			continue
		}
		f := map[string]string{}
		for _, part := range strings.Split(v, ",") {
			if x, y, ok := strings.Cut(part, "="); ok {
				f[x] = y
			}
		}
		if f["ip"] != "" && f["port"] != "" {
			out = append(out, net.JoinHostPort(f["ip"], f["port"]))
		}
	}
	return out, nil
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func parseInfo(s string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			kv[k] = v
		}
	}
	return kv
}

// CheckVersion returns ErrServerTooOld for a redis_version before 6.0 (or
// one it cannot read).
func CheckVersion(v string) error {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return fmt.Errorf("%w: unreadable redis_version %q", ErrServerTooOld, truncate(v, 20))
	}
	if n < 6 {
		return fmt.Errorf("%w: redis_version %s, redisauth needs %s or later", ErrServerTooOld, v, MinServerVersion)
	}
	return nil
}
