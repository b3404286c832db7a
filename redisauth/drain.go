package redisauth

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DrainOptions say how to wait for the old credentials to go out of use.
type DrainOptions struct {
	// Timeout bounds the wait for zero clients (Alternate; default 10m).
	Timeout time.Duration
	// Window, when set, waits this long and returns (Dual: Redis cannot say
	// which password a client used), reporting the user's client counts.
	Window time.Duration
	// Terminate (incident mode) ends the user's clients on every node
	// (CLIENT KILL USER) before counting, as pgrole.DrainOptions.Terminate
	// ends a role's sessions.
	Terminate bool
	// Poll is the interval between counts (default 1s).
	Poll time.Duration
	// Progress receives each count.
	Progress func(DrainProgress)
}

// DrainProgress is one count of the old user's clients.
type DrainProgress struct {
	User    string
	Elapsed time.Duration
	Clients int            // on all nodes
	PerNode map[string]int // addr → clients
	// Terminated counts the clients Terminate ended.
	Terminated int
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
	var terminated int
	if o.Terminate {
		for _, n := range a.nodes {
			k, err := n.client.ClientKillByFilter(ctx, "USER", user).Result()
			if err != nil && !strings.Contains(err.Error(), "No such user") {
				return &NodeError{n.Addr, fmt.Errorf("CLIENT KILL USER: %w", err)}
			}
			terminated += int(k)
		}
	}
	for {
		per, err := a.Clients(ctx, user)
		if err != nil {
			return err
		}
		st := DrainProgress{User: user, Elapsed: time.Since(start), PerNode: per, Terminated: terminated}
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
