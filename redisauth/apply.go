package redisauth

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
)

// Applied is one command that a node accepted.
type Applied struct {
	Node    string `json:"node"`
	Command string `json:"command"` // as in the plan: hashes shortened, no password
}

func (a Applied) String() string { return "[" + a.Node + "] " + a.Command }

// ApplyError reports a failed step and what was applied before it. Every
// step is idempotent: Apply again (after fixing the node) finishes the
// rotation; Rollback undoes it.
type ApplyError struct {
	Applied []Applied
	Failed  Step
	Err     error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("redisauth: [%s] %s failed after %d applied step(s): %v; run apply again to finish, or rollback", e.Failed.Node, e.Failed.Command, len(e.Applied), e.Err)
}
func (e *ApplyError) Unwrap() error { return e.Err }

func (a *Admin) byAddr(addr string) *Node {
	for _, n := range a.nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// persist saves the node's ACLs the way it is configured.
func persist(ctx context.Context, n *Node) error {
	var err error
	switch n.Persist {
	case PersistACLSave:
		err = n.client.Do(ctx, "ACL", "SAVE").Err()
	case PersistConfigRewrite:
		err = n.client.Do(ctx, "CONFIG", "REWRITE").Err()
	default:
		err = ErrCannotPersist
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v (the change is live but would be lost at restart)", ErrCannotPersist, n.Persist, err)
	}
	return nil
}

func (a *Admin) runSteps(ctx context.Context, steps []Step) ([]Applied, error) {
	var done []Applied
	for _, s := range steps {
		n := a.byAddr(s.Node)
		if n == nil {
			return done, &ApplyError{done, s, fmt.Errorf("%w: node %s is not part of this connection", ErrBadPlan, s.Node)}
		}
		if s.skipIf != nil {
			skip, err := s.skipIf(ctx, n)
			if err != nil {
				return done, &ApplyError{done, s, err}
			}
			if skip {
				continue
			}
		}
		var err error
		switch {
		case s.persist && s.args == nil:
			err = persist(ctx, n)
		case s.multi != nil:
			_, err = n.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, c := range s.multi {
					pipe.Do(ctx, c...)
				}
				return nil
			})
		case s.args != nil:
			err = n.client.Do(ctx, s.args...).Err()
		}
		if err != nil {
			return done, &ApplyError{done, s, err}
		}
		done = append(done, Applied{s.Node, s.Command})
	}
	return done, nil
}

// Apply runs the create phase on every node (new password or new user, then
// ACL SAVE or CONFIG REWRITE there), then Verify.
func (a *Admin) Apply(ctx context.Context, p *Plan) ([]Applied, error) {
	if p.conflict != nil {
		return nil, p.conflict
	}
	var create []Step
	for _, s := range p.Steps {
		if s.Phase == PhaseCreate {
			create = append(create, s)
		}
	}
	done, err := a.runSteps(ctx, create)
	if err != nil {
		return done, err
	}
	return done, a.Verify(ctx, p)
}

// Verify checks every node: the new user has the new password, its rules
// equal the old user's both ways (Alternate), and a new connection logs in
// with the new user and password.
func (a *Admin) Verify(ctx context.Context, p *Plan) error {
	news, err := a.usersOn(ctx, p.New)
	if err != nil {
		return err
	}
	var olds map[string]*User
	if p.Strategy == Alternate {
		if olds, err = a.usersOn(ctx, p.Old); err != nil {
			return err
		}
	}
	for _, n := range a.nodes {
		u := news[n.Addr]
		if u == nil || !slices.Contains(u.Passwords, p.hash) {
			return &NodeError{n.Addr, fmt.Errorf("%w: %s lacks the new password", ErrNotApplied, p.New)}
		}
		want := p.Rules
		if olds != nil && olds[n.Addr] != nil {
			want = olds[n.Addr]
		}
		if fs := Diff(want, u); len(fs) > 0 {
			return &DiffError{Old: p.Old, New: p.New, Node: n.Addr, Findings: fs}
		}
		if err := a.login(ctx, n, p.New, p.password); err != nil {
			return &NodeError{n.Addr, err}
		}
	}
	return nil
}

// login opens a fresh connection to n as user with password and sends PING.
func (a *Admin) login(ctx context.Context, n *Node, user string, password fingerprint.Secret) error {
	o := a.opt
	o.Addr, o.Username, o.Password, o.CredentialsProvider, o.CredentialsProviderContext = n.Addr, user, string(password.Bytes()), nil, nil
	o.StreamingCredentialsProvider = nil
	o.Protocol, o.DisableIdentity, o.PoolSize, o.MaxRetries = 2, true, 1, -1
	c := redis.NewClient(&o)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil && !strings.HasPrefix(err.Error(), "NOPERM") {
		// NOPERM: logged in, but the user may not PING.
		if strings.Contains(err.Error(), "WRONGPASS") {
			return fmt.Errorf("%w: %s cannot log in with the new password", ErrNotApplied, user)
		}
		return fmt.Errorf("log in as %s: %w", user, err)
	}
	return nil
}

// CheckLogin reports, per node, whether user logs in with password on a new
// connection: nil, or the error. After retire, the old password must fail on
// every node.
func (a *Admin) CheckLogin(ctx context.Context, user string, password fingerprint.Secret) map[string]error {
	out := make(map[string]error, len(a.nodes))
	for _, n := range a.nodes {
		out[n.Addr] = a.login(ctx, n, user, password)
	}
	return out
}

// DrainOptions say how to wait for the old credentials to go out of use.
type DrainOptions struct {
	// Timeout bounds the wait for zero clients (Alternate; default 10m).
	Timeout time.Duration
	// Window, when set, waits this long and returns (Dual: Redis cannot say
	// which password a client used), reporting the user's client counts.
	Window time.Duration
	// Kill (incident) kills the user's clients on every node
	// (CLIENT KILL USER) before counting.
	Kill bool
	// Poll is the interval between counts (default 1s).
	Poll time.Duration
	// Progress receives each count.
	Progress func(DrainStatus)
}

// DrainStatus is one count of the old user's clients.
type DrainStatus struct {
	User    string
	Elapsed time.Duration
	Clients int            // on all nodes
	PerNode map[string]int // addr → clients
	Killed  int64
}

// Drain waits until no node has a client authenticated as user (or, with
// Window, until the window has passed).
func (a *Admin) Drain(ctx context.Context, user string, o DrainOptions) error {
	if err := ValidateName(user); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	start := time.Now()
	var killed int64
	if o.Kill {
		for _, n := range a.nodes {
			k, err := n.client.ClientKillByFilter(ctx, "USER", user).Result()
			if err != nil && !strings.Contains(err.Error(), "No such user") {
				return &NodeError{n.Addr, fmt.Errorf("CLIENT KILL USER: %w", err)}
			}
			killed += k
		}
	}
	for {
		per, err := a.Clients(ctx, user)
		if err != nil {
			return err
		}
		st := DrainStatus{User: user, Elapsed: time.Since(start), PerNode: per, Killed: killed}
		for _, c := range per {
			st.Clients += c
		}
		if o.Progress != nil {
			o.Progress(st)
		}
		if o.Window > 0 {
			if st.Elapsed >= o.Window {
				return nil
			}
		} else if st.Clients == 0 {
			return nil
		} else if st.Elapsed >= o.Timeout {
			return fmt.Errorf("%w: %d client(s) of %q after %s (%s); use incident mode to kill them", ErrDrainTimeout, st.Clients, user, o.Timeout, perNode(per))
		}
		wait := o.Poll
		if o.Window > 0 && o.Window-st.Elapsed < wait {
			wait = o.Window - st.Elapsed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func perNode(m map[string]int) string {
	var parts []string
	for k, v := range m {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// RetireOptions say what to retire.
type RetireOptions struct {
	Strategy Strategy
	// User is the old user. Dual: the user whose other passwords go.
	User string
	// New is the user that replaced it (Alternate); it must exist on every
	// node with the same rules.
	New string
	// Password is the new password (Dual): every other password of User is
	// removed; it must be on every node first.
	Password fingerprint.Secret
	// Incident kills the old user's clients (Alternate) instead of refusing.
	Incident bool
}

// RetirePlan computes the retire steps for every node without running them
// (the CLI's --dry-run). It refuses what Retire refuses.
func (a *Admin) RetirePlan(ctx context.Context, o RetireOptions) ([]Step, error) {
	if err := ValidateName(o.User); err != nil {
		return nil, err
	}
	switch o.Strategy {
	case Dual:
		return a.retireDual(ctx, o)
	case Alternate:
		return a.retireAlternate(ctx, o)
	}
	return nil, fmt.Errorf("%w: strategy %q: use dual or alternate", ErrBadPlan, o.Strategy)
}

// Retire removes the old credentials on every node and persists:
//   - Dual: "ACL SETUSER user !<hash>" for every password but the new one;
//     for "default" with requirepass, one MULTI/EXEC clears requirepass and
//     leaves only the new hash. Refused while a replica authenticates with a
//     password being removed.
//   - Alternate: ACL DELUSER of the old user, refused while it has clients
//     unless Incident (then CLIENT KILL USER first), and refused unless the
//     new user exists everywhere with the same rules.
func (a *Admin) Retire(ctx context.Context, o RetireOptions) ([]Applied, error) {
	steps, err := a.RetirePlan(ctx, o)
	if err != nil {
		return nil, err
	}
	return a.runSteps(ctx, steps)
}

func (a *Admin) retireDual(ctx context.Context, o RetireOptions) ([]Step, error) {
	if o.Password.IsZero() {
		return nil, fmt.Errorf("%w: dual retire needs the new password (it is kept; every other is removed)", ErrBadPlan)
	}
	keep := Hash(o.Password.Bytes())
	users, err := a.usersOn(ctx, o.User)
	if err != nil {
		return nil, err
	}
	for _, n := range a.nodes {
		u := users[n.Addr]
		if u == nil {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: %q", ErrUserNotFound, o.User)}
		}
		if !slices.Contains(u.Passwords, keep) {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: %q lacks the new password: apply first; retire would lock its clients out", ErrNotApplied, o.User)}
		}
	}
	if err := a.checkReplicaAuth(ctx, o.User, keep); err != nil {
		return nil, err
	}
	var steps []Step
	for _, n := range a.nodes {
		var drop []string
		for _, h := range users[n.Addr].Passwords {
			if h != keep {
				drop = append(drop, h)
			}
		}
		switch {
		case o.User == "default" && n.Requirepass:
			steps = append(steps, Step{Node: n.Addr, Phase: PhaseRetire,
				Command: `MULTI; CONFIG SET requirepass ""; ACL SETUSER default resetpass #` + shortHash(keep) + "…; EXEC",
				multi:   [][]any{{"CONFIG", "SET", "requirepass", ""}, {"ACL", "SETUSER", "default", "resetpass", "#" + keep}}})
		case len(drop) > 0:
			args := []any{"ACL", "SETUSER", o.User}
			cmd := "ACL SETUSER " + o.User
			for _, h := range drop {
				args = append(args, "!"+h)
				cmd += " !" + shortHash(h) + "…"
			}
			steps = append(steps, Step{Node: n.Addr, Phase: PhaseRetire, Command: cmd, args: args})
		default:
			continue // nothing left to remove here (an earlier retire)
		}
		steps = append(steps, Step{Node: n.Addr, Phase: PhaseRetire, Command: string(n.Persist), persist: true})
		if o.User == "default" && n.Requirepass && n.Persist == PersistACLSave && n.ConfigFile != "" {
			// requirepass lives in the config file, users in the aclfile:
			// both must drop the old password.
			steps = append(steps, Step{Node: n.Addr, Phase: PhaseRetire, Command: "CONFIG REWRITE", persist: true, args: []any{"CONFIG", "REWRITE"}})
		}
	}
	return steps, nil
}

// checkReplicaAuth refuses when a node authenticates (or would, after a
// failover) to its primary as user with a password other than keep (a hash).
func (a *Admin) checkReplicaAuth(ctx context.Context, user, keep string) error {
	for _, n := range a.nodes {
		cfg, err := n.client.ConfigGet(ctx, "master*").Result()
		if err != nil {
			return &NodeError{n.Addr, fmt.Errorf("CONFIG GET masteruser/masterauth: %w", err)}
		}
		mu := cfg["masteruser"]
		if mu == "" {
			mu = "default"
		}
		if mu == user && cfg["masterauth"] != "" && (keep == "" || Hash([]byte(cfg["masterauth"])) != keep) {
			return &NodeError{n.Addr, fmt.Errorf("%w: it logs in to its primary as %q with another password (masterauth): it would fail at its next reconnect; apply the plan (it moves masterauth) first", ErrReplicaAuth, user)}
		}
	}
	return nil
}

func (a *Admin) retireAlternate(ctx context.Context, o RetireOptions) ([]Step, error) {
	if o.User == "default" {
		return nil, fmt.Errorf("%w: the default user is never deleted", ErrBadPlan)
	}
	if err := ValidateName(o.New); err != nil {
		return nil, err
	}
	if o.New == o.User {
		return nil, fmt.Errorf("%w: new user equals the old", ErrBadPlan)
	}
	olds, err := a.usersOn(ctx, o.User)
	if err != nil {
		return nil, err
	}
	news, err := a.usersOn(ctx, o.New)
	if err != nil {
		return nil, err
	}
	for _, n := range a.nodes {
		if olds[n.Addr] == nil {
			continue // already deleted there
		}
		if news[n.Addr] == nil {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: %q does not exist: deleting %q would lock its clients out", ErrNotApplied, o.New, o.User)}
		}
		if fs := Diff(olds[n.Addr], news[n.Addr]); len(fs) > 0 {
			return nil, &DiffError{Old: o.User, New: o.New, Node: n.Addr, Findings: fs}
		}
	}
	if err := a.checkReplicaAuth(ctx, o.User, ""); err != nil {
		return nil, err
	}
	per, err := a.Clients(ctx, o.User)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, c := range per {
		total += c
	}
	if total > 0 && !o.Incident {
		return nil, fmt.Errorf("%w: %d client(s) of %q (%s): wait (rotate redis drain) or use incident mode", ErrClientsRemain, total, o.User, perNode(per))
	}
	var steps []Step
	for _, n := range a.nodes {
		if olds[n.Addr] == nil {
			continue
		}
		if o.Incident {
			steps = append(steps, Step{Node: n.Addr, Phase: PhaseRetire, Command: "CLIENT KILL USER " + o.User, args: []any{"CLIENT", "KILL", "USER", o.User}})
		}
		steps = append(steps,
			Step{Node: n.Addr, Phase: PhaseRetire, Command: "ACL DELUSER " + o.User, args: []any{"ACL", "DELUSER", o.User}},
			Step{Node: n.Addr, Phase: PhaseRetire, Command: string(n.Persist), persist: true})
	}
	return steps, nil
}

// Rollback undoes an applied (not retired) plan on every node where it is
// present: Dual removes the new password, Alternate deletes the new user
// (refused while it has clients). It refuses once the old credentials are
// gone (ErrBadPlan), and when a replica already authenticates with the new
// credentials (ErrReplicaAuth: set its masterauth back first).
func (a *Admin) Rollback(ctx context.Context, p *Plan) ([]Applied, error) {
	if p.conflict != nil {
		return nil, p.conflict
	}
	olds, err := a.usersOn(ctx, p.Old)
	if err != nil {
		return nil, err
	}
	for _, n := range a.nodes {
		u := olds[n.Addr]
		if u == nil || (p.Strategy == Dual && len(slices.DeleteFunc(slices.Clone(u.Passwords), func(h string) bool { return h == p.hash })) == 0) {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: the old credentials were retired there: rollback is no longer possible", ErrBadPlan)}
		}
		cfg, err := n.client.ConfigGet(ctx, "master*").Result()
		if err == nil && cfg["masterauth"] != "" && Hash([]byte(cfg["masterauth"])) == p.hash {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: its masterauth is already the new password; set it back first", ErrReplicaAuth)}
		}
	}
	var steps []Step
	if p.Strategy == Alternate {
		per, err := a.Clients(ctx, p.New)
		if err != nil {
			return nil, err
		}
		for addr, c := range per {
			if c > 0 {
				return nil, &NodeError{addr, fmt.Errorf("%w: %d client(s) use %q: point them back at %q first", ErrClientsRemain, c, p.New, p.Old)}
			}
		}
	}
	news := olds
	if p.Strategy == Alternate {
		if news, err = a.usersOn(ctx, p.New); err != nil {
			return nil, err
		}
	}
	for _, n := range a.nodes {
		switch {
		case news[n.Addr] == nil, p.Strategy == Dual && !slices.Contains(news[n.Addr].Passwords, p.hash):
			continue // not applied there
		case p.Strategy == Dual:
			steps = append(steps, Step{Node: n.Addr, Command: "ACL SETUSER " + p.Old + " !" + shortHash(p.hash) + "…", args: []any{"ACL", "SETUSER", p.Old, "!" + p.hash}})
		default:
			steps = append(steps, Step{Node: n.Addr, Command: "ACL DELUSER " + p.New, args: []any{"ACL", "DELUSER", p.New}})
		}
		steps = append(steps, Step{Node: n.Addr, Command: string(n.Persist), persist: true})
	}
	return a.runSteps(ctx, steps)
}
