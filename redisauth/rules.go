package redisauth

import (
	"fmt"
	"slices"
	"strings"
)

// User is the model of one ACL user as the server describes it (ACL LIST,
// cross-checked with ACL GETUSER): what is needed to create another user
// with exactly the same rules.
type User struct {
	Name string
	// On is false for a disabled user ("off").
	On bool
	// NoPass: any password is accepted.
	NoPass bool
	// Sanitize is "", "sanitize-payload" or "skip-sanitize-payload".
	Sanitize string
	// Passwords are the SHA-256 hex hashes the server stores, in its order.
	Passwords []string
	// Root is the user's root permissions; Selectors are its additional
	// selectors (Redis 7), each a complete set of its own.
	Root      Selector
	Selectors []Selector
}

// Selector is a set of permissions: key patterns with their access prefix
// ("~p", "%R~p", "%W~p", "%RW~p"), channel patterns ("&p") and the command
// rules exactly as the server describes them ("-@all +@read -get").
type Selector struct {
	Keys     []string
	Channels []string
	Commands string
}

// Rules returns the ACL SETUSER rules that, after "reset", give a user the
// same flags and permissions as u, without its passwords.
func (u *User) Rules() []string {
	r := []string{"off"}
	if u.On {
		r[0] = "on"
	}
	if u.NoPass {
		r = append(r, "nopass")
	}
	if u.Sanitize != "" {
		r = append(r, u.Sanitize)
	}
	r = append(r, u.Root.rules()...)
	for _, s := range u.Selectors {
		r = append(r, "("+strings.Join(s.rules(), " ")+")")
	}
	return r
}

func (s Selector) rules() []string {
	r := append([]string(nil), s.Keys...)
	if !slices.Equal(s.Channels, []string{"&*"}) {
		r = append(r, "resetchannels")
	}
	r = append(r, s.Channels...)
	return append(r, strings.Fields(s.Commands)...)
}

// Describe returns the user as ACL LIST prints it, with passwords shown as
// fingerprints ("#<first 16 hex>…"): the hash is not the password, but an
// unsalted hash of a weak password can be guessed, so it is never printed
// whole.
func (u *User) Describe() string { return u.describe(true) }

// describe returns the ACL LIST line, with hashes shortened if short.
func (u *User) describe(short bool) string {
	parts := []string{"user", u.Name}
	r := u.Rules()
	parts = append(parts, r[0])
	i := 1
	for ; i < len(r) && (r[i] == "nopass" || strings.HasSuffix(r[i], "sanitize-payload")); i++ {
		parts = append(parts, r[i])
	}
	for _, h := range u.Passwords {
		if short {
			h = shortHash(h) + "…"
		}
		parts = append(parts, "#"+h)
	}
	return strings.Join(append(parts, r[i:]...), " ")
}

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// parseACLLine parses one line of ACL LIST ("user NAME on #… ~* &* +@all
// (~x +get)"). It refuses a token it does not understand and a pattern that
// could not be told apart from its neighbours, rather than guess.
func parseACLLine(line string) (*User, error) {
	toks, err := splitACL(line)
	if err != nil {
		return nil, err
	}
	if len(toks) < 3 || toks[0] != "user" {
		return nil, fmt.Errorf("%w: ACL LIST line does not start with \"user NAME\"", ErrUnreproducible)
	}
	if err := ValidateName(toks[1]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreproducible, err)
	}
	u := &User{Name: toks[1]}
	root := toks[2:]
	var sel []string
	for len(root) > 0 && strings.HasPrefix(root[len(root)-1], "(") {
		sel = append([]string{root[len(root)-1]}, sel...)
		root = root[:len(root)-1]
	}
	var rest []string
	for _, t := range root {
		switch {
		case t == "on":
			u.On = true
		case t == "off":
			u.On = false
		case t == "nopass":
			u.NoPass = true
		case t == "sanitize-payload" || t == "skip-sanitize-payload":
			u.Sanitize = t
		case strings.HasPrefix(t, "#"):
			if !isHash(t[1:]) {
				return nil, fmt.Errorf("%w: user %q: password hash of unexpected form", ErrUnreproducible, u.Name)
			}
			u.Passwords = append(u.Passwords, t[1:])
		case strings.HasPrefix(t, "("):
			return nil, fmt.Errorf("%w: user %q: selector before root rules", ErrUnreproducible, u.Name)
		default:
			rest = append(rest, t)
		}
	}
	if u.Root, err = parseSelector(u.Name, rest); err != nil {
		return nil, err
	}
	for _, s := range sel {
		inner := strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
		p, err := parseSelector(u.Name, strings.Fields(inner))
		if err != nil {
			return nil, err
		}
		u.Selectors = append(u.Selectors, p)
	}
	return u, nil
}

// splitACL splits an ACL LIST line on spaces, keeping "( … )" selectors as
// one token.
func splitACL(line string) ([]string, error) {
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 || c == 0x7f) && c != ' ' {
			return nil, fmt.Errorf("%w: ACL LIST line has a control character", ErrUnreproducible)
		}
	}
	var toks []string
	f := strings.Split(line, " ")
	for i := 0; i < len(f); i++ {
		t := f[i]
		if t == "" {
			return nil, fmt.Errorf("%w: ACL LIST line has an empty rule (a pattern with spaces?)", ErrUnreproducible)
		}
		if strings.HasPrefix(t, "(") {
			j := i
			for !strings.HasSuffix(f[j], ")") {
				j++
				if j == len(f) {
					return nil, fmt.Errorf("%w: unterminated selector in ACL LIST line", ErrUnreproducible)
				}
			}
			t = strings.Join(f[i:j+1], " ")
			if strings.Count(t, "(") != 1 || strings.Count(t, ")") != 1 {
				return nil, fmt.Errorf("%w: a pattern contains a parenthesis, which cannot be told apart from a selector", ErrUnreproducible)
			}
			i = j
		}
		toks = append(toks, t)
	}
	return toks, nil
}

func parseSelector(user string, toks []string) (Selector, error) {
	var s Selector
	channels := []string{"&*"} // until "resetchannels"
	var cmds []string
	for _, t := range toks {
		switch {
		case t == "resetchannels":
			channels = nil
		case strings.HasPrefix(t, "&"):
			channels = append(channels, t)
		case strings.HasPrefix(t, "~"), strings.HasPrefix(t, "%"):
			if strings.HasPrefix(t, "%") {
				i := strings.IndexByte(t, '~')
				if i < 0 || (t[1:i] != "R" && t[1:i] != "W" && t[1:i] != "RW") {
					return s, fmt.Errorf("%w: user %q: key rule %q not understood", ErrUnreproducible, user, truncate(t, 40))
				}
			}
			s.Keys = append(s.Keys, t)
		case strings.HasPrefix(t, "+"), strings.HasPrefix(t, "-"):
			cmds = append(cmds, t)
		default:
			return s, fmt.Errorf("%w: user %q: rule %q not understood", ErrUnreproducible, user, truncate(t, 40))
		}
		if strings.ContainsAny(t, "()") {
			return s, fmt.Errorf("%w: user %q: rule %q contains a parenthesis", ErrUnreproducible, user, truncate(t, 40))
		}
	}
	if len(channels) == 2 && channels[0] == "&*" {
		// "&*" given explicitly after the default: one "&*".
		channels = channels[:1]
	}
	s.Channels, s.Commands = channels, strings.Join(cmds, " ")
	return s, nil
}

func isHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// fromGetUser builds the model from an ACL GETUSER reply (a map in RESP3, a
// flat list in RESP2), for Redis 6.0 to 7.x: 6.x lists "allkeys" and
// "allchannels" as flags and keys and channels as arrays; 7.x gives them as
// strings and adds selectors.
func fromGetUser(name string, reply any) (*User, error) {
	m, err := replyMap(reply)
	if err != nil {
		return nil, fmt.Errorf("%w: ACL GETUSER %q: %v", ErrUnreproducible, name, err)
	}
	u := &User{Name: name}
	for _, f := range strList(m["flags"]) {
		switch f {
		case "on":
			u.On = true
		case "off":
		case "nopass":
			u.NoPass = true
		case "sanitize-payload", "skip-sanitize-payload":
			u.Sanitize = f
		case "allkeys", "allchannels", "allcommands":
		default:
			return nil, fmt.Errorf("%w: user %q: flag %q not understood", ErrUnreproducible, name, truncate(f, 40))
		}
	}
	u.Passwords = strList(m["passwords"])
	u.Root = getUserSelector(m, strList(m["flags"]))
	if sl, ok := m["selectors"].([]any); ok {
		for _, s := range sl {
			sm, err := replyMap(s)
			if err != nil {
				return nil, fmt.Errorf("%w: ACL GETUSER %q selector: %v", ErrUnreproducible, name, err)
			}
			u.Selectors = append(u.Selectors, getUserSelector(sm, nil))
		}
	}
	return u, nil
}

func getUserSelector(m map[string]any, flags []string) Selector {
	var s Selector
	s.Commands, _ = m["commands"].(string)
	s.Keys = strList(m["keys"])
	s.Channels = strList(m["channels"])
	if slices.Contains(flags, "allkeys") && len(s.Keys) == 0 {
		s.Keys = []string{"~*"}
	}
	if slices.Contains(flags, "allchannels") && len(s.Channels) == 0 {
		s.Channels = []string{"&*"}
	}
	if len(s.Keys) > 0 && !strings.HasPrefix(s.Keys[0], "~") && !strings.HasPrefix(s.Keys[0], "%") {
		// Redis 6 lists bare patterns.
		for i, k := range s.Keys {
			s.Keys[i] = "~" + k
		}
	}
	if len(s.Channels) > 0 && !strings.HasPrefix(s.Channels[0], "&") {
		for i, c := range s.Channels {
			s.Channels[i] = "&" + c
		}
	}
	return s
}

func replyMap(v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			ks, _ := k.(string)
			m[ks] = x
		}
		return m, nil
	case map[string]any:
		return t, nil
	case []any:
		if len(t)%2 != 0 {
			return nil, fmt.Errorf("odd-length reply")
		}
		m := make(map[string]any, len(t)/2)
		for i := 0; i < len(t); i += 2 {
			ks, _ := t[i].(string)
			m[ks] = t[i+1]
		}
		return m, nil
	}
	return nil, fmt.Errorf("unexpected reply type %T", v)
}

// strList reads a reply that is a list of strings, or one space-separated
// string.
func strList(v any) []string {
	switch t := v.(type) {
	case string:
		return strings.Fields(t)
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}

// sameModel reports where two models of one user disagree ("" if nowhere).
func sameModel(a, b *User) string {
	switch {
	case a.On != b.On || a.NoPass != b.NoPass || a.Sanitize != b.Sanitize:
		return "flags"
	case !slices.Equal(a.Passwords, b.Passwords):
		return "passwords"
	case !a.Root.equal(b.Root):
		return "root permissions"
	case len(a.Selectors) != len(b.Selectors):
		return "selectors"
	}
	for i := range a.Selectors {
		if !a.Selectors[i].equal(b.Selectors[i]) {
			return fmt.Sprintf("selector %d", i+1)
		}
	}
	return ""
}

func (s Selector) equal(o Selector) bool {
	return slices.Equal(s.Keys, o.Keys) && slices.Equal(s.Channels, o.Channels) && s.Commands == o.Commands
}

// Difference is one difference between the rules of two users.
type Difference struct {
	// Side is "old" when the old user has something the new lacks, "new"
	// when the new user has something the old lacks.
	Side string
	What string // "flag on", "key ~cache:*", "commands -@all +get", "selector (…)"
}

func (f Difference) String() string {
	if f.Side == "old" {
		return "new user lacks " + f.What
	}
	return "new user has extra " + f.What
}

// Diff compares the rules (not the names or passwords) of old and new both
// ways. An empty result means the new user can do exactly what the old
// could: the gate for cutover in the alternate strategy. The one
// equivalence it applies: no sanitize flag and "sanitize-payload" are the
// same (Redis skips RESTORE payload sanitization only for
// "skip-sanitize-payload"; "reset" and loading users from a config file
// add "sanitize-payload" by themselves).
func Diff(old, new *User) []Difference {
	var fs []Difference
	both := func(what string, a, b []string) {
		for _, x := range a {
			if !slices.Contains(b, x) {
				fs = append(fs, Difference{"old", what + " " + x})
			}
		}
		for _, x := range b {
			if !slices.Contains(a, x) {
				fs = append(fs, Difference{"new", what + " " + x})
			}
		}
	}
	flags := func(u *User) []string {
		r := []string{"off"}
		if u.On {
			r[0] = "on"
		}
		if u.NoPass {
			r = append(r, "nopass")
		}
		if u.Sanitize == "skip-sanitize-payload" {
			r = append(r, u.Sanitize)
		}
		return r
	}
	both("flag", flags(old), flags(new))
	both("key pattern", old.Root.Keys, new.Root.Keys)
	both("channel pattern", old.Root.Channels, new.Root.Channels)
	if old.Root.Commands != new.Root.Commands {
		fs = append(fs, Difference{"old", "commands " + old.Root.Commands}, Difference{"new", "commands " + new.Root.Commands})
	}
	sel := func(u *User) []string {
		var r []string
		for _, s := range u.Selectors {
			r = append(r, "("+strings.Join(s.rules(), " ")+")")
		}
		return r
	}
	both("selector", sel(old), sel(new))
	return fs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
