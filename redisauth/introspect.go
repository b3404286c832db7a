package redisauth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Introspect reads the model of user name from the first node, as
// pgrole.Admin.Introspect reads a role: its ACL LIST line, cross-checked
// with ACL GETUSER. A user whose rules the model cannot hold exactly is
// ErrUnreproducible.
func (a *Admin) Introspect(ctx context.Context, name string) (*User, error) {
	u, err := readUser(ctx, a.nodes[0], name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, &NodeError{a.nodes[0].Addr, fmt.Errorf("%w: %q", ErrUserNotFound, name)}
	}
	return u, nil
}

// readUser returns nil, nil when the user does not exist on n.
func readUser(ctx context.Context, n *Node, name string) (*User, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	lines, err := n.client.Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		return nil, &NodeError{n.Addr, aclErr("ACL LIST", err)}
	}
	var line string
	for _, l := range lines {
		if strings.HasPrefix(l, "user "+name+" ") {
			line = l
			break
		}
	}
	reply, err := n.client.Do(ctx, "ACL", "GETUSER", name).Result()
	if errors.Is(err, redis.Nil) || (err == nil && reply == nil) {
		if line != "" {
			return nil, &NodeError{n.Addr, fmt.Errorf("%w: ACL LIST lists %q but ACL GETUSER does not", ErrUnreproducible, name)}
		}
		return nil, nil
	}
	if err != nil {
		return nil, &NodeError{n.Addr, aclErr("ACL GETUSER", err)}
	}
	if line == "" {
		return nil, &NodeError{n.Addr, fmt.Errorf("%w: ACL GETUSER knows %q but ACL LIST has no line for it", ErrUnreproducible, name)}
	}
	fromList, err := parseACLLine(line)
	if err != nil {
		return nil, &NodeError{n.Addr, err}
	}
	fromGet, err := fromGetUser(name, reply)
	if err != nil {
		return nil, &NodeError{n.Addr, err}
	}
	if where := sameModel(fromList, fromGet); where != "" {
		return nil, &NodeError{n.Addr, fmt.Errorf("%w: user %q: ACL LIST and ACL GETUSER disagree on its %s (a pattern with spaces, or rules of a newer Redis)", ErrUnreproducible, name, where)}
	}
	return fromList, nil
}

func aclErr(cmd string, err error) error {
	s := err.Error()
	if strings.Contains(s, "NOPERM") || strings.Contains(s, "unknown command") || strings.Contains(s, "ERR unknown") {
		return fmt.Errorf("%w: %s: %v", ErrACLRefused, cmd, err)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// usersOn reads name on every node: addr → model (nil where absent).
func (a *Admin) usersOn(ctx context.Context, name string) (map[string]*User, error) {
	out := make(map[string]*User, len(a.nodes))
	for _, n := range a.nodes {
		u, err := readUser(ctx, n, name)
		if err != nil {
			return nil, err
		}
		out[n.Addr] = u
	}
	return out, nil
}

// Clients counts the connections authenticated as user on every node
// (CLIENT LIST, field user=): addr → count.
func (a *Admin) Clients(ctx context.Context, user string) (map[string]int, error) {
	out := make(map[string]int, len(a.nodes))
	for _, n := range a.nodes {
		s, err := n.client.ClientList(ctx).Result()
		if err != nil {
			return nil, &NodeError{n.Addr, fmt.Errorf("CLIENT LIST: %w", err)}
		}
		c := 0
		for _, line := range strings.Split(s, "\n") {
			for _, f := range strings.Fields(line) {
				if f == "user="+user {
					c++
				}
			}
		}
		out[n.Addr] = c
	}
	return out, nil
}
