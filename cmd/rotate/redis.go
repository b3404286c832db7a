package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/redisauth"
)

func init() {
	register(command{name: "redis", summary: "Redis password rotation over ACLs on every node: plan, apply, verify, drain, retire", run: runRedis})
}

func runRedis(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "redis", args, map[string]command{
		"plan":     {name: "plan", summary: "print the rotation plan for every node (password never shown)", run: redisPlan},
		"apply":    {name: "apply", summary: "add the new password (dual) or create the new user (alternate) on every node, persist, verify", run: redisApply},
		"verify":   {name: "verify", summary: "new credentials log in on every node; rules diff both ways; exit 1 unless clean", run: redisVerify},
		"drain":    {name: "drain", summary: "wait until no client uses the old user (or the --window has passed)", run: redisDrain},
		"retire":   {name: "retire", summary: "remove the old password (dual) or delete the old user (alternate) on every node", run: redisRetire},
		"rollback": {name: "rollback", summary: "undo apply before retire: remove the new password or delete the new user", run: redisRollback},
	})
}

// redisFlags are shared by the redis subcommands.
type redisFlags struct {
	urlFile, user, strategy, newUser, passwordFile string
	incident, asJSON, dryRun, yes                  bool
	nodes                                          int // --nodes: servers that must be discovered
	out                                            outputFlags
}

func (f *redisFlags) register(fs *flag.FlagSet, password bool) {
	fs.StringVar(&f.urlFile, "redis-url-file", "", "file holding the operator's Redis URL, redis://admin:…@host:port (default: $REDIS_URL); the rest of the nodes are discovered")
	fs.StringVar(&f.user, "user", "", "the user in use now (required; \"default\" for requirepass setups)")
	fs.StringVar(&f.strategy, "strategy", "", "dual or alternate (default: alternate, dual for default)")
	fs.StringVar(&f.newUser, "new", "", "alternate: the new user (default: next by alternation, app → app_v2 → app_v3)")
	f.out = addOutputFlags(fs)
	fs.IntVar(&f.nodes, "nodes", 0, "how many servers (primary + replicas, or every Cluster node) must be found; refused otherwise: a replica that is down is not discovered and would keep the old password")
	if password {
		fs.StringVar(&f.passwordFile, "password-file", "", "file holding the new password (default: read stdin)")
	}
}

func (f *redisFlags) usage(env *Env, fs *flag.FlagSet, name string) bool {
	f.asJSON = f.out.json(env)
	if f.user == "" {
		missingFlag(fs, "user")
		return false
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(env.Stderr, "rotate redis %s: unexpected argument: the password is read from stdin or --password-file, never argv\n", name)
		return false
	}
	if f.strategy != "" && f.strategy != string(redisauth.Dual) && f.strategy != string(redisauth.Alternate) {
		fmt.Fprintf(env.Stderr, "rotate redis %s: --strategy %q: use dual or alternate\n", name, f.strategy)
		return false
	}
	return true
}

// strategyOf is the strategy the flags mean (the default depends on the user).
func (f *redisFlags) strategyOf() redisauth.Strategy {
	if f.strategy != "" {
		return redisauth.Strategy(f.strategy)
	}
	if f.user == "default" {
		return redisauth.Dual
	}
	return redisauth.Alternate
}

func connectRedis(ctx context.Context, env *Env, f *redisFlags, name string) (*redisauth.Admin, int) {
	file := f.urlFile
	u := env.getenv("REDIS_URL")
	if file != "" {
		b, err := readFileSecret(file)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate redis %s: --redis-url-file: %v\n", name, err)
			return nil, exitUsage
		}
		u = string(b)
	}
	if u == "" {
		fmt.Fprintf(env.Stderr, "rotate redis %s: no operator URL: set REDIS_URL or pass --redis-url-file\n", name)
		return nil, exitUsage
	}
	adm, err := redisauth.Connect(ctx, u)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate redis %s: %v\n", name, err)
		return nil, exitCheck
	}
	// Discovery sees only the replicas connected now: a replica that is
	// down is missing from the list, and would come back with the old
	// password. --nodes says how many there must be.
	var addrs []string
	for _, n := range adm.Nodes() {
		addrs = append(addrs, n.Addr+" ("+n.Role+")")
	}
	switch {
	case f.nodes > 0 && len(addrs) != f.nodes:
		fmt.Fprintf(env.Stderr, "rotate redis %s: refused (nothing was changed): found %d servers, --nodes says %d: %s; a server that is down or not replicating would keep the old password: bring it back first\n",
			name, len(addrs), f.nodes, strings.Join(addrs, ", "))
		adm.Close()
		return nil, exitCheck
	case f.nodes == 0:
		fmt.Fprintf(env.Stderr, "rotate redis %s: found %d servers: %s (pass --nodes %d to require exactly these: a replica that is down is not discovered)\n",
			name, len(addrs), strings.Join(addrs, ", "), len(addrs))
	}
	return adm, exitOK
}

func redisPassword(env *Env, file, what string) (fingerprint.Secret, error) {
	var b []byte
	var err error
	if file != "" {
		b, err = readFileSecret(file)
	} else {
		b, err = readSecret(env, what+": ", false)
	}
	if err != nil {
		return fingerprint.Secret{}, fmt.Errorf("%s: %w", what, err)
	}
	return fingerprint.NewSecret(b), nil
}

// redisCode maps refusals caused by the input to exit 2, others to 1.
func redisCode(err error) int {
	for _, e := range []error{redisauth.ErrInvalidName, redisauth.ErrBadPlan} {
		if errors.Is(err, e) {
			return exitUsage
		}
	}
	return exitCheck
}

// plan connects, reads the new password and makes the plan.
func (f *redisFlags) plan(ctx context.Context, env *Env, name string) (*redisauth.Admin, *redisauth.Plan, int) {
	pw, err := redisPassword(env, f.passwordFile, "new password")
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate redis %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	adm, code := connectRedis(ctx, env, f, name)
	if adm == nil {
		return nil, nil, code
	}
	// verify checks what apply made: a new user that drifted, or a wrong
	// password, is for Verify to report, not a reason to refuse the plan.
	p, err := adm.Plan(ctx, redisauth.PlanOptions{User: f.user, Strategy: redisauth.Strategy(f.strategy), New: f.newUser, Password: pw, Incident: f.incident, Existing: name == "verify"})
	if err != nil {
		adm.Close()
		fmt.Fprintf(env.Stderr, "rotate redis %s: %v\n", name, err)
		return nil, nil, redisCode(err)
	}
	return adm, p, exitOK
}

type redisPlanJSON struct {
	Command     string   `json:"command"`
	DryRun      bool     `json:"dry_run"`
	Strategy    string   `json:"strategy"`
	Old         string   `json:"old_user"`
	New         string   `json:"new_user"`
	Fingerprint string   `json:"new_password_fingerprint"`
	Rules       string   `json:"old_user_rules"`
	Nodes       []any    `json:"nodes"`
	Steps       []any    `json:"steps"`
	Notes       []string `json:"notes,omitempty"`
}

func planJSON(command string, p *redisauth.Plan) redisPlanJSON {
	j := redisPlanJSON{Command: command, DryRun: true, Strategy: string(p.Strategy), Old: p.Old, New: p.New, Fingerprint: p.Fingerprint(), Rules: p.OldUser.Describe(), Notes: p.Notes}
	for _, n := range p.Nodes {
		j.Nodes = append(j.Nodes, map[string]string{"addr": n.Addr, "role": n.Role, "version": n.Version, "persist": string(n.Persist)})
	}
	for _, s := range p.Steps {
		j.Steps = append(j.Steps, map[string]string{"node": s.Node, "phase": string(s.Phase), "command": s.Command})
	}
	return j
}

// printJSON prints v in the CLI's JSON style (output.go: no \u0026 for &).
func printJSON(env *Env, v any) { writeJSON(env.Stdout, v) }

func redisPlan(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	fs := newFlags(env, "redis plan", "rotate redis plan --user NAME [--strategy dual|alternate] [--new NAME] [flags] < new-password\n\n"+
		"Discovers every node (replicas, Cluster nodes), reads the user's ACL rules on each and prints\n"+
		"the commands apply would send, per node, with password hashes shortened to fingerprints.\n"+
		"Refuses, before anything changes: Redis < 6.0, a node refusing ACL commands, a node that\n"+
		"cannot persist, rules that cannot be reproduced exactly, nodes that disagree.")
	f.register(fs, true)
	fs.BoolVar(&f.incident, "incident", false, "incident mode: retire kills the old user's clients")
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "plan") {
		return exitUsage
	}
	adm, p, code := f.plan(ctx, env, "plan")
	if p == nil {
		return code
	}
	defer adm.Close()
	if f.asJSON {
		printJSON(env, planJSON("redis plan", p))
	} else {
		fmt.Fprint(env.Stdout, p.Render())
	}
	return exitOK
}

func redisApply(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	fs := newFlags(env, "redis apply", "rotate redis apply --user NAME [--strategy dual|alternate] [--new NAME] [--dry-run] [flags] < new-password\n\n"+
		"Runs the create phase on every node (ACL SETUSER with the password's SHA-256 only, then ACL SAVE\n"+
		"or CONFIG REWRITE as the node is configured), then verify. Every step is idempotent: after a\n"+
		"failure, run it again to finish, or rotate redis rollback. Cut over afterwards: write the new\n"+
		"user and password where the services read them.")
	f.register(fs, true)
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan, change nothing")
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "apply") {
		return exitUsage
	}
	adm, p, code := f.plan(ctx, env, "apply")
	if p == nil {
		return code
	}
	defer adm.Close()
	if f.dryRun {
		if f.asJSON {
			printJSON(env, planJSON("redis apply", p))
		} else {
			fmt.Fprint(env.Stdout, p.Render())
		}
		return exitOK
	}
	env.auditTarget("redis user " + p.Old + " -> " + p.New)
	applied, err := adm.Apply(ctx, p)
	if err == nil {
		env.auditFingerprint("password "+p.New, "", p.Fingerprint())
	}
	return reportApplied(env, f.asJSON, "apply", p.Old, p.New, applied, err, func() {
		fmt.Fprintf(env.Stdout, "%s ready on %d node(s) with the new password (fp=%s); cut over, then: rotate redis drain --user %s%s\n",
			p.New, len(p.Nodes), p.Fingerprint(), p.Old, map[bool]string{true: " --window 10m", false: ""}[p.Strategy == redisauth.Dual])
	})
}

func reportApplied(env *Env, asJSON bool, name, oldUser, newUser string, applied []redisauth.Applied, err error, ok func()) int {
	if asJSON {
		if applied == nil {
			applied = []redisauth.Applied{}
		}
		out := map[string]any{"command": "redis " + name, "dry_run": false, "old_user": oldUser, "new_user": newUser, "applied": applied, "ok": err == nil}
		if err != nil {
			out["error"] = err.Error()
		}
		printJSON(env, out)
	} else {
		for _, a := range applied {
			fmt.Fprintf(env.Stdout, "applied: %s\n", a)
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate redis %s: %v\n", name, err)
		return redisCode(err)
	}
	if !asJSON {
		ok()
	}
	return exitOK
}

func redisVerify(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	fs := newFlags(env, "redis verify", "rotate redis verify --user NAME [--strategy dual|alternate] [--new NAME] [flags] < new-password\n\n"+
		"Checks every node: the new user has the new password and logs in with it on a new connection;\n"+
		"alternate: its rules equal the old user's both ways. Exit 1 unless all hold.")
	f.register(fs, true)
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "verify") {
		return exitUsage
	}
	if f.strategyOf() == redisauth.Alternate && f.newUser == "" {
		fmt.Fprintln(env.Stderr, "rotate redis verify: alternate: --new NAME is required (the user apply created)")
		return exitUsage
	}
	adm, p, code := f.plan(ctx, env, "verify")
	if p == nil {
		return code
	}
	defer adm.Close()
	err := adm.Verify(ctx, p)
	var de *redisauth.DiffError
	if f.asJSON {
		out := map[string]any{"command": "redis verify", "ok": err == nil, "nodes": len(p.Nodes), "old_user": p.Old, "new_user": p.New}
		if errors.As(err, &de) {
			var fs []string
			for _, x := range de.Differences {
				fs = append(fs, x.String())
			}
			out["findings"] = fs
		}
		if err != nil {
			out["error"] = err.Error()
		}
		printJSON(env, out)
	} else if errors.As(err, &de) {
		for _, x := range de.Differences {
			fmt.Fprintf(env.Stdout, "%s: %s\n", de.Node, x)
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate redis verify: %v; cutover refused\n", err)
		return exitCheck
	}
	if !f.asJSON {
		fmt.Fprintf(env.Stdout, "verified on %d node(s): %s logs in with the new password; rules identical: cutover allowed\n", len(p.Nodes), p.New)
	}
	return exitOK
}

func redisDrain(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	var timeout, window time.Duration
	fs := newFlags(env, "redis drain", "rotate redis drain --user NAME [--timeout 10m | --window 10m] [--incident --yes] [--json]\n\n"+
		"alternate: waits until CLIENT LIST shows no client of the old user on any node.\n"+
		"dual: Redis cannot say which password a client used: waits --window, printing the counts.\n"+
		"--incident kills the user's clients first (CLIENT KILL USER; needs --yes).")
	fs.StringVar(&f.urlFile, "redis-url-file", "", "file holding the operator's Redis URL (default: $REDIS_URL)")
	fs.StringVar(&f.user, "user", "", "the old user")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long (alternate)")
	fs.DurationVar(&window, "window", 0, "dual: wait this long, then succeed")
	fs.BoolVar(&f.incident, "incident", false, "kill the user's clients on every node")
	fs.BoolVar(&f.yes, "yes", false, "confirm --incident")
	f.out = addOutputFlags(fs) // one document at the end; the counts go to stderr
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the old user's clients per node (the ones --incident would kill); change nothing")
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "drain") {
		return exitUsage
	}
	if f.incident && !f.dryRun && cannotConfirm(env, f.yes) {
		fmt.Fprintf(env.Stderr, "rotate redis drain: --incident kills every connection of %q on every node: add --yes, or --dry-run to see them\n", f.user)
		return exitUsage
	}
	adm, code := connectRedis(ctx, env, &f, "drain")
	if adm == nil {
		return code
	}
	defer adm.Close()
	doc := struct {
		Command        string         `json:"command"`
		DryRun         bool           `json:"dry_run"`
		User           string         `json:"user"`
		Incident       bool           `json:"incident"`
		Clients        int            `json:"clients"`
		PerNode        map[string]int `json:"per_node"`
		Terminated     int            `json:"terminated"`
		ElapsedSeconds float64        `json:"elapsed_seconds"`
		Drained        bool           `json:"drained"`
	}{Command: "redis drain", DryRun: f.dryRun, User: f.user, Incident: f.incident, PerNode: map[string]int{}}
	if f.dryRun || f.incident {
		per, err := adm.Clients(ctx, f.user)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate redis drain: %v\n", err)
			return redisCode(err)
		}
		n := 0
		for _, c := range per {
			n += c
		}
		if f.dryRun {
			doc.Clients, doc.PerNode = n, per
			if f.asJSON {
				printJSON(env, doc)
			} else {
				verb := "would wait for"
				if f.incident {
					verb = "would kill"
				}
				fmt.Fprintf(env.Stdout, "dry run: %s %d client(s) of %s %v; nothing was changed\n", verb, n, f.user, perNode(per))
			}
			return exitOK
		}
		if n > 0 && !confirmIrreversible(env, "redis drain", f.yes, fmt.Sprintf("kills %d connection(s) of %q on every node", n, f.user)) {
			return exitUsage
		}
	}
	env.auditTarget("redis user " + f.user)
	progress := env.Stdout
	if f.asJSON {
		progress = env.Stderr
	}
	err := adm.Drain(ctx, f.user, redisauth.DrainOptions{Timeout: timeout, Window: window, Terminate: f.incident, Progress: func(s redisauth.DrainProgress) {
		doc.Clients, doc.Terminated, doc.ElapsedSeconds = s.Clients, s.Terminated, s.Elapsed.Seconds()
		if s.PerNode != nil {
			doc.PerNode = s.PerNode
		}
		fmt.Fprintf(progress, "%s: %d client(s) of %s %v, %d terminated\n", s.Elapsed.Round(time.Second), s.Clients, s.User, perNode(s.PerNode), s.Terminated)
	}})
	doc.Drained = err == nil
	if f.asJSON {
		printJSON(env, doc)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate redis drain: %v\n", err)
		return redisCode(err)
	}
	return exitOK
}

// perNode lists client counts as node=count, sorted.
func perNode(m map[string]int) []string {
	nodes := make([]string, 0, len(m))
	for n, c := range m {
		nodes = append(nodes, fmt.Sprintf("%s=%d", n, c))
	}
	sort.Strings(nodes)
	return nodes
}

func redisRetire(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	fs := newFlags(env, "redis retire", "rotate redis retire --user NAME --strategy dual|alternate [--new NAME] [--incident] [--dry-run] --yes [< new-password]\n\n"+
		"dual: removes every password of --user except the new one (read from stdin or --password-file)\n"+
		"on every node; for default with requirepass, clears requirepass in the same MULTI/EXEC.\n"+
		"alternate: deletes --user on every node; refused while it has clients (unless --incident, which\n"+
		"kills them) and unless --new exists everywhere with identical rules. Irreversible: needs --yes.")
	f.register(fs, true)
	fs.BoolVar(&f.incident, "incident", false, "alternate: kill the old user's clients instead of refusing")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be sent, change nothing")
	fs.BoolVar(&f.yes, "yes", false, "confirm: the old credentials stop working for good")
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "retire") {
		return exitUsage
	}
	st := f.strategyOf()
	if st == redisauth.Alternate && f.newUser == "" {
		fmt.Fprintln(env.Stderr, "rotate redis retire: alternate: --new NAME is required (the user that replaced --user)")
		return exitUsage
	}
	if !f.dryRun && cannotConfirm(env, f.yes) {
		fmt.Fprintf(env.Stderr, "rotate redis retire: irreversible (the old credentials of %q stop working on every node): add --yes, or --dry-run to review\n", f.user)
		return exitUsage
	}
	o := redisauth.RetireOptions{Strategy: st, User: f.user, New: f.newUser, Incident: f.incident}
	if st == redisauth.Dual {
		pw, err := redisPassword(env, f.passwordFile, "new password (kept)")
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate redis retire: %v\n", err)
			return exitUsage
		}
		o.Password = pw
	}
	adm, code := connectRedis(ctx, env, &f, "retire")
	if adm == nil {
		return code
	}
	defer adm.Close()
	if f.dryRun {
		steps, err := adm.RetireDryRun(ctx, o)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate redis retire: %v\n", err)
			return redisCode(err)
		}
		if f.asJSON {
			js := []any{}
			for _, s := range steps {
				js = append(js, map[string]string{"node": s.Node, "phase": string(s.Phase), "command": s.Command})
			}
			printJSON(env, map[string]any{"command": "redis retire", "dry_run": true, "user": f.user, "new_user": f.newUser, "steps": js})
		} else {
			for _, s := range steps {
				fmt.Fprintf(env.Stdout, "would run: [%s] %s\n", s.Node, s.Command)
			}
			if len(steps) == 0 {
				fmt.Fprintf(env.Stdout, "nothing to do: %s is already retired on every node (dry run: nothing was changed)\n", f.user)
			}
		}
		return exitOK
	}
	if !confirmIrreversible(env, "redis retire", f.yes, fmt.Sprintf("makes the old credentials of %q stop working on every node", f.user)) {
		return exitUsage
	}
	env.auditTarget("redis user " + f.user)
	applied, err := adm.Retire(ctx, o)
	return reportApplied(env, f.asJSON, "retire", f.user, f.newUser, applied, err, func() {
		if st == redisauth.Dual {
			fmt.Fprintf(env.Stdout, "retired: %s keeps only the new password (fp=%s) on every node\n", f.user, o.Password.Fingerprint())
		} else {
			fmt.Fprintf(env.Stdout, "retired: %s deleted on every node; %s stays\n", f.user, f.newUser)
		}
	})
}

func redisRollback(ctx context.Context, env *Env, args []string) int {
	var f redisFlags
	fs := newFlags(env, "redis rollback", "rotate redis rollback --user NAME [--strategy dual|alternate] --new NAME [--dry-run] --yes < new-password\n\n"+
		"Undoes apply before retire, on every node where it is present: dual removes the new password,\n"+
		"alternate deletes the new user (refused while clients use it). Point services back first.\n"+
		"Irreversible for the new credentials: asks on a terminal, needs --yes otherwise.")
	f.register(fs, true)
	fs.BoolVar(&f.yes, "yes", false, "confirm: the new credentials stop working")
	fs.BoolVar(&f.dryRun, "dry-run", false, "say what would be undone on which nodes; change nothing")
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs, "rollback") {
		return exitUsage
	}
	if f.strategyOf() == redisauth.Alternate && f.newUser == "" {
		fmt.Fprintln(env.Stderr, "rotate redis rollback: alternate: --new NAME is required (the user apply created)")
		return exitUsage
	}
	if !f.dryRun && cannotConfirm(env, f.yes) {
		fmt.Fprintln(env.Stderr, "rotate redis rollback: the new credentials stop working on every node: add --yes, or --dry-run to review")
		return exitUsage
	}
	adm, p, code := f.plan(ctx, env, "rollback")
	if p == nil {
		return code
	}
	defer adm.Close()
	what := fmt.Sprintf("removes the new password (fp=%s) of %s", p.Fingerprint(), p.New)
	if p.Strategy == redisauth.Alternate {
		what = "deletes the new user " + p.New
	}
	if f.dryRun {
		if f.asJSON {
			j := planJSON("redis rollback", p)
			j.Steps = []any{} // rollback sends no plan step: it undoes them
			printJSON(env, j)
		} else {
			fmt.Fprintf(env.Stdout, "dry run: would undo apply on %d node(s): %s; %s keeps its old credentials; nothing was changed\n", len(p.Nodes), what, p.Old)
		}
		return exitOK
	}
	if !confirmIrreversible(env, "redis rollback", f.yes, what+" on every node") {
		return exitUsage
	}
	env.auditTarget("redis user " + p.Old + " -> " + p.New + " (rollback)")
	applied, err := adm.Rollback(ctx, p)
	return reportApplied(env, f.asJSON, "rollback", p.Old, p.New, applied, err, func() {
		fmt.Fprintf(env.Stdout, "rolled back: %s keeps its old credentials\n", p.Old)
	})
}
