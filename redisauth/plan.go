package redisauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
)

// Strategy selects how the new password reaches the user.
type Strategy string

const (
	// Dual adds the new password to the same user beside the old one.
	Dual Strategy = "dual"
	// Alternate creates a new user (app_v2, app_v3 …) with the same rules.
	Alternate Strategy = "alternate"
)

// PhaseName names a phase of a rotation, in order. Cutover and drain are the
// operator's (and Drain's); Apply runs create and verify; Retire runs retire.
type PhaseName string

const (
	PhaseCreate  PhaseName = "create"
	PhaseVerify  PhaseName = "verify"
	PhaseCutover PhaseName = "cutover"
	PhaseDrain   PhaseName = "drain"
	PhaseRetire  PhaseName = "retire"
)

// Phases lists the phases in the order they run.
var Phases = []PhaseName{PhaseCreate, PhaseVerify, PhaseCutover, PhaseDrain, PhaseRetire}

// PlanOptions say what to rotate and how.
type PlanOptions struct {
	// User is the user in use now (the old user); "default" for requirepass
	// setups.
	User string
	// Strategy defaults to Alternate, and to Dual for "default".
	Strategy Strategy
	// New overrides the next user name (Alternate; default NextUserName).
	New string
	// Password is the new password. Only its SHA-256 hash is sent to the
	// servers; Verify logs in with it (AUTH, which servers redact).
	Password fingerprint.Secret
	// Incident: retire kills the old user's clients instead of waiting.
	Incident bool
	// Existing plans a check of what an earlier Apply made (Verify): a new
	// user that exists with other rules or another password is accepted,
	// so that Verify reports the rules diff or the missing password;
	// Apply and Rollback refuse such a plan.
	Existing bool
}

// Step is one command of a plan, or of a dry run (Admin.RetireDryRun), on
// one node: not yet run. Command is the reviewable text with password
// hashes shortened to their fingerprint. Once a node accepted it, a
// command is an Applied.
type Step struct {
	Node    string
	Phase   PhaseName
	Command string
	args    []any
	multi   [][]any // run as one MULTI/EXEC instead of args
	persist bool    // ACL SAVE or CONFIG REWRITE
	// skipIf, when set, is asked before the step: true means the node is
	// already as the step would leave it.
	skipIf func(ctx context.Context, n *Node) (bool, error)
}

// String returns the reviewable command as Applied prints one,
// "[node] command"; it never holds a password or a whole hash, and neither
// does GoString (%#v), which would otherwise print the arguments sent.
func (s Step) String() string { return "[" + s.Node + "] " + s.Command }

// GoString is String.
func (s Step) GoString() string { return s.String() }

// exact reports whether user name on the node equals want exactly (flags,
// passwords, rules).
func exact(name string, want *User) func(ctx context.Context, n *Node) (bool, error) {
	return func(ctx context.Context, n *Node) (bool, error) {
		u, err := readUser(ctx, n, name)
		if err != nil || u == nil {
			return false, err
		}
		return sameModel(u, want) == "", nil
	}
}

// Plan is a reviewable rotation plan over every node.
type Plan struct {
	Strategy Strategy
	Old, New string // equal under Dual
	Incident bool
	Nodes    []Node
	// OldUser is the model of the old user (from the first node), as
	// Admin.Introspect reads it; its Rules are what a new user is given.
	OldUser *User
	Steps   []Step
	// Notes explain choices a reviewer should know about.
	Notes []string

	password fingerprint.Secret
	hash     string
	conflict error // PlanOptions.Existing: why Apply and Rollback refuse
}

// Fingerprint is the new password's fingerprint (the first 16 hex of the
// hash Redis stores).
func (p *Plan) Fingerprint() string { return p.password.Fingerprint() }

// RetireOptions returns the options that retire what this plan replaced.
func (p *Plan) RetireOptions() RetireOptions {
	return RetireOptions{Strategy: p.Strategy, User: p.Old, New: p.New, Password: p.password, Incident: p.Incident}
}

// Hash returns the hex SHA-256 of a password: the form ACL SETUSER takes
// after "#" and ACL GETUSER shows.
func Hash(password []byte) string {
	s := sha256.Sum256(password)
	return hex.EncodeToString(s[:])
}

// Plan introspects the user on every node and returns the plan. It refuses,
// before anything changes, what it cannot do exactly: a name it does not
// accept, a user missing on a node or with other rules there, rules it
// cannot reproduce, a node that cannot persist, a new user that exists with
// other rules or another password. A new user that exists with the same
// rules and the new password (an interrupted Apply) is accepted: Apply
// finishes it.
func (a *Admin) Plan(ctx context.Context, o PlanOptions) (*Plan, error) {
	if err := ValidateName(o.User); err != nil {
		return nil, err
	}
	if o.Password.IsZero() {
		return nil, fmt.Errorf("%w: no new password", ErrBadPlan)
	}
	if o.Strategy == "" {
		o.Strategy = Alternate
		if o.User == "default" {
			o.Strategy = Dual
		}
	}
	if o.Strategy != Dual && o.Strategy != Alternate {
		return nil, fmt.Errorf("%w: strategy %q: use dual or alternate", ErrBadPlan, o.Strategy)
	}
	if o.Strategy == Alternate && o.User == "default" {
		return nil, fmt.Errorf("%w: the default user cannot be replaced by another user (clients that send no user name use it): use the dual strategy", ErrBadPlan)
	}
	p := &Plan{Strategy: o.Strategy, Old: o.User, New: o.User, Incident: o.Incident, password: o.Password, hash: Hash(o.Password.Bytes())}
	for _, n := range a.nodes {
		if n.Persist == PersistNone {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: it runs without a config file and without an aclfile: at its next restart it would forget the new password and bring back the old one", ErrCannotPersist)}
		}
		p.Nodes = append(p.Nodes, Node{Addr: n.Addr, Role: n.Role, Version: n.Version, Persist: n.Persist, ConfigFile: n.ConfigFile, ACLFile: n.ACLFile, Requirepass: n.Requirepass})
	}
	olds, err := a.usersOn(ctx, o.User)
	if err != nil {
		return nil, err
	}
	first := a.nodes[0].Addr
	for _, n := range a.nodes {
		u := olds[n.Addr]
		if u == nil {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: %q (ACLs are per node: create it there first, with the same rules)", ErrUserNotFound, o.User)}
		}
		if fs := Diff(olds[first], u); len(fs) > 0 {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: %q differs from %s: %s", ErrNodesDisagree, o.User, first, fs[0])}
		}
	}
	p.OldUser = olds[first]
	if p.OldUser.NoPass {
		hint := ""
		if o.User == "default" && a.nodes[0].Requirepass && a.nodes[0].ACLFile != "" {
			hint = " (requirepass is set, but the aclfile, loaded after it, makes default nopass: any password is accepted now)"
		}
		return nil, fmt.Errorf("%w: %q is nopass (any password works)%s: rotating a password means nothing until nopass is removed", ErrBadPlan, o.User, hint)
	}
	if !p.OldUser.On {
		return nil, fmt.Errorf("%w: %q is off (disabled): no client can log in with it, so there is nothing to rotate (dual would add a password that cannot log in, alternate would create a disabled copy); turn it on first or rotate the user in use", ErrBadPlan, o.User)
	}
	short := "#" + shortHash(p.hash) + "…"
	switch o.Strategy {
	case Dual:
		for _, n := range a.nodes {
			if slices.Contains(olds[n.Addr].Passwords, p.hash) {
				p.Notes = append(p.Notes, n.Addr+" already has the new password (an earlier apply): the step is a no-op there")
			}
			p.Steps = append(p.Steps,
				Step{Node: n.Addr, Phase: PhaseCreate, Command: "ACL SETUSER " + o.User + " " + short, args: []any{"ACL", "SETUSER", o.User, "#" + p.hash}},
				Step{Node: n.Addr, Phase: PhaseCreate, Command: string(n.Persist), persist: true})
		}
		if o.User == "default" {
			for _, n := range a.nodes {
				if n.Requirepass {
					p.Notes = append(p.Notes, n.Addr+" has requirepass: retire clears it in the same MULTI/EXEC that leaves only the new hash on default, so the config keeps no plaintext password a restart would bring back")
				}
			}
		}
		p.Notes = append(p.Notes, "Redis cannot say which password a connection used: drain is a time window (rotate redis drain --window)")
	case Alternate:
		p.New = o.New
		if p.New == "" {
			// A name taken by an exact copy with the new password is the
			// one an earlier (interrupted) apply made: resume it rather than
			// create the next generation.
			news := map[string]bool{}
			base, _ := SplitUserName(o.User)
			p.New, err = NextUserName(base, o.User, func(name string) bool {
				if _, ok := news[name]; !ok {
					u, err := readUser(ctx, a.nodes[0], name)
					want := *p.OldUser
					want.Name, want.Passwords = name, []string{p.hash}
					news[name] = err != nil || (u != nil && sameModel(u, &want) != "")
				}
				return news[name]
			})
			if err != nil {
				return nil, err
			}
		}
		if err := ValidateName(p.New); err != nil {
			return nil, err
		}
		if p.New == o.User || p.New == "default" {
			return nil, fmt.Errorf("%w: new user %q", ErrBadPlan, p.New)
		}
		news, err := a.usersOn(ctx, p.New)
		if err != nil {
			return nil, err
		}
		rules := p.OldUser.Rules()
		for _, n := range a.nodes {
			if u := news[n.Addr]; u != nil {
				if fs := Diff(p.OldUser, u); len(fs) > 0 || !slices.Equal(u.Passwords, []string{p.hash}) {
					err := &NodeError{n.Addr, fmt.Errorf("%w: %q exists with other rules or another password; choose another --new or delete it", ErrUserExists, p.New)}
					if !o.Existing {
						return nil, err
					}
					if p.conflict == nil {
						p.conflict = err
					}
				} else {
					p.Notes = append(p.Notes, n.Addr+" already has "+p.New+" with the same rules and the new password (an earlier apply): left alone, its clients stay connected")
				}
			}
			// A fresh user, not "reset": reset also sets sanitize-payload,
			// which the old user may not have. DELUSER and SETUSER in one
			// MULTI, so a partial earlier apply is repaired atomically; a
			// copy that is already exact is left alone (its clients stay).
			args := []any{"ACL", "SETUSER", p.New}
			for _, r := range rules {
				args = append(args, r)
			}
			args = append(args, "#"+p.hash)
			want := *p.OldUser
			want.Name, want.Passwords = p.New, []string{p.hash}
			p.Steps = append(p.Steps,
				Step{Node: n.Addr, Phase: PhaseCreate, Command: "MULTI; ACL DELUSER " + p.New + "; ACL SETUSER " + p.New + " " + strings.Join(rules, " ") + " " + short + "; EXEC",
					multi: [][]any{{"ACL", "DELUSER", p.New}, args}, skipIf: exact(p.New, &want)},
				Step{Node: n.Addr, Phase: PhaseCreate, Command: string(n.Persist), persist: true})
		}
		p.Notes = append(p.Notes, "cutover is gated by a two-way rules diff of "+o.User+" and "+p.New+" on every node")
	}
	if err := a.planReplicaAuth(ctx, p); err != nil {
		return nil, err
	}
	for _, n := range a.nodes {
		p.Steps = append(p.Steps, Step{Node: n.Addr, Phase: PhaseVerify, Command: "AUTH " + p.New + " [new password] on a new connection; ACL GETUSER " + p.New + " has " + short})
	}
	return p, nil
}

// planReplicaAuth adds, for each node that authenticates (a replica) or would
// authenticate after a failover (a primary) to its primary as the rotated
// user with one of its passwords (masteruser/masterauth),
// the steps that move it to the new credentials. masterauth holds a
// plaintext password by Redis's design; CONFIG SET is not shown by MONITOR
// and is redacted from the slow log.
func (a *Admin) planReplicaAuth(ctx context.Context, p *Plan) error {
	for _, n := range a.nodes {
		// Primaries too: a primary with masterauth uses it once a failover
		// makes it a replica (Cluster, Sentinel).
		cfg, err := n.client.ConfigGet(ctx, "master*").Result()
		if err != nil {
			return &NodeError{n.Addr, fmt.Errorf("CONFIG GET masteruser/masterauth: %w", err)}
		}
		user := cfg["masteruser"]
		if user == "" {
			user = "default"
		}
		pw := cfg["masterauth"]
		if pw == "" || user != p.Old {
			if user == p.New && pw != "" && Hash([]byte(pw)) == p.hash {
				p.Notes = append(p.Notes, n.Addr+" already authenticates to its primary with the new credentials")
			}
			continue
		}
		if !slices.Contains(p.OldUser.Passwords, Hash([]byte(pw))) {
			continue
		}
		if n.ConfigFile == "" {
			return &NodeError{n.Addr, fmt.Errorf("%w: it logs in to its primary as %q (masterauth) and has no config file: its new masterauth would be lost at restart, and replication with it once the old password is retired", ErrCannotPersist, p.Old)}
		}
		what := "authenticates to its primary"
		if n.Role != "replica" {
			what = "would authenticate to a new primary after a failover"
		}
		p.Notes = append(p.Notes, n.Addr+" "+what+" as "+p.Old+" (masterauth): apply moves it to the new credentials, which every node accepts by then")
		var args [][]any
		cmd := "CONFIG SET masterauth [new password]"
		if p.New != p.Old {
			args = append(args, []any{"CONFIG", "SET", "masteruser", p.New})
			cmd = "CONFIG SET masteruser " + p.New + " masterauth [new password]"
		}
		args = append(args, []any{"CONFIG", "SET", "masterauth", string(p.password.Bytes())})
		p.Steps = append(p.Steps,
			Step{Node: n.Addr, Phase: PhaseCreate, Command: cmd, multi: args},
			Step{Node: n.Addr, Phase: PhaseCreate, Command: "CONFIG REWRITE", persist: true, args: []any{"CONFIG", "REWRITE"}})
	}
	return nil
}

// Render prints the plan for review: one line per command and node, password
// hashes shortened to fingerprints, no password.
func (p *Plan) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# redisauth rotation plan\n# strategy: %s\n# old user: %s\n# new user: %s\n# new password: fp=%s (sent only as its SHA-256 hash)\n", p.Strategy, p.Old, p.New, p.Fingerprint())
	if p.Incident {
		b.WriteString("# incident mode: retire kills the old user's clients\n")
	}
	fmt.Fprintf(&b, "# old user's rules: %s\n", p.OldUser.Describe())
	for _, n := range p.Nodes {
		fmt.Fprintf(&b, "# node %s: %s, Redis %s, persists with %s\n", n.Addr, n.Role, n.Version, n.Persist)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "# note: %s\n", n)
	}
	phase := PhaseName("")
	for _, s := range p.Steps {
		if s.Phase != phase {
			phase = s.Phase
			fmt.Fprintf(&b, "\n# phase %s\n", phase)
		}
		fmt.Fprintf(&b, "[%s] %s\n", s.Node, s.Command)
	}
	fmt.Fprintf(&b, "\n# phase %s: point the services at %s with the new password (files read by redisauth.PasswordFile)\n", PhaseCutover, p.New)
	if p.Strategy == Dual {
		fmt.Fprintf(&b, "# phase %s: wait the window (connections recycle: ConnMaxLifetime)\n# phase %s: remove every password of %s but the new one, on every node\n", PhaseDrain, PhaseRetire, p.Old)
	} else {
		fmt.Fprintf(&b, "# phase %s: until CLIENT LIST shows no client of %s on any node\n# phase %s: ACL DELUSER %s on every node (refused while clients remain unless incident)\n", PhaseDrain, p.Old, PhaseRetire, p.Old)
	}
	return b.String()
}
