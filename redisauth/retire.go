package redisauth

import (
	"context"
	"fmt"
	"slices"

	"github.com/goodgo/rotation/fingerprint"
)

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

// RetireDryRun returns the steps Retire would run on every node, after
// making every check Retire makes, and changes nothing (the CLI's
// --dry-run), as pgrole.Admin.RetireDryRun does for a role: plan steps, not
// Applied, since nothing ran. A refusal is the same error Retire would
// return.
func (a *Admin) RetireDryRun(ctx context.Context, o RetireOptions) ([]Step, error) {
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
	steps, err := a.RetireDryRun(ctx, o)
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
			return nil, &DiffError{Old: o.User, New: o.New, Node: n.Addr, Differences: fs}
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
