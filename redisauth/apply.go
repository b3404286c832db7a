package redisauth

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
		want := p.OldUser
		if olds != nil && olds[n.Addr] != nil {
			want = olds[n.Addr]
		}
		if fs := Diff(want, u); len(fs) > 0 {
			return &DiffError{Old: p.Old, New: p.New, Node: n.Addr, Differences: fs}
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

// Rollback undoes an applied (not retired) plan on every node where it is
// present: Dual removes the new password, Alternate deletes the new user
// (refused while it has clients: ErrClientsRemain). It refuses once the old
// credentials are gone (ErrRolledForward, as pgrole's Rollback), and when a
// replica already authenticates with the new credentials (ErrReplicaAuth:
// set its masterauth back first).
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
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: the old credentials of %q are gone there; rotate forward instead", ErrRolledForward, p.Old)}
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
