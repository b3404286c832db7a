package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/secretenv"
)

// The staged JWT rotation (runbook §3.2, as docs/rotation-procedures.md
// corrects it) performed on a secrets directory (secretsdir.go):
//
//	rotate jwt stage   --dir D                  new keys into *_NEXT
//	rotate jwt fleet   --dir D URL...           every instance verifies them
//	rotate jwt promote --dir D --fleet URL,...  NEXT → current, current → PREVIOUS, *_SINCE = now
//	rotate jwt retire  --dir D                  after the retire time: drop PREVIOUS
//	rotate jwt incident --dir D --yes           §3.3 in one command
//
// Every command prints the fingerprints to record in the ticket and names
// them in its audit record (fingerprints_before / fingerprints_after).

func init() {
	jwtSubs["stage"] = command{name: "stage", summary: "write new keys into JWT_SECRET_NEXT / JWT_REFRESH_SECRET_NEXT in --dir", run: runJWTStage}
	jwtSubs["promote"] = command{name: "promote", summary: "NEXT becomes current, current becomes PREVIOUS (+ _SINCE), after a fleet check", run: runJWTPromote}
	jwtSubs["retire"] = command{name: "retire", summary: "remove the PREVIOUS keys once their retire time has passed", run: runJWTRetire}
	jwtSubs["incident"] = command{name: "incident", summary: "§3.3: new keys, previous dropped, status cache flushed, refresh tokens revoked", run: runJWTIncident}
}

// refreshRevokeAll revokes every refresh token (runbook §3.3 "truncate
// RefreshToken table (or flag revoked)"). It is set where a refresh-token
// store is built in; nil means this build has none, and the incident
// command reports the step as not configured. With dryRun it only counts
// the live tokens.
var refreshRevokeAll func(ctx context.Context, env *Env, dryRun bool) (revoked int64, err error)

// stageFlags are shared by the jwt stage/promote/retire/incident commands.
type stageFlags struct {
	dir          *string
	ring         *string
	stdin        *bool
	adopt        *bool
	dryRun       *bool
	accessTTL    *time.Duration
	refreshTTL   *time.Duration
	retireMargin *time.Duration
	alg          *string
	fs           *flag.FlagSet
}

func addStageFlags(fs *flag.FlagSet, withKeyInput bool) stageFlags {
	f := stageFlags{
		fs:           fs,
		dir:          fs.String("dir", "", "the secrets directory (required; written the kubelet's way: versioned dir, atomic ..data swap, files 0600)"),
		ring:         fs.String("ring", "both", "which ring: access, refresh or both"),
		adopt:        fs.Bool("adopt", false, "convert a directory of plain files to the kubelet layout"),
		dryRun:       fs.Bool("dry-run", false, "say what would change, change nothing"),
		accessTTL:    fs.Duration("access-ttl", jwtkeys.DefaultAccessTTL, "the fleet's access-token TTL (for the retire time)"),
		refreshTTL:   fs.Duration("refresh-ttl", jwtkeys.DefaultRefreshTTL, "the fleet's refresh-token TTL (for the retire time)"),
		retireMargin: fs.Duration("retire-margin", jwtkeys.DefaultRetireMargin, "the fleet's retire margin"),
		alg:          fs.String("alg", "HS256", "the fleet's algorithm: HS256, HS384 or HS512"),
	}
	if withKeyInput {
		f.stdin = fs.Bool("stdin", false, "read the new keys from stdin (one per line: access, then refresh) instead of generating them")
	}
	return f
}

func (f stageFlags) rings() ([]jwtkeys.RingID, error) {
	switch *f.ring {
	case "both":
		return []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh}, nil
	case "access":
		return []jwtkeys.RingID{jwtkeys.Access}, nil
	case "refresh":
		return []jwtkeys.RingID{jwtkeys.Refresh}, nil
	}
	return nil, fmt.Errorf("--ring %q: want access, refresh or both", *f.ring)
}

func (f stageFlags) options(env *Env) jwtkeys.Options {
	return jwtkeys.Options{Algorithm: *f.alg, AccessTTL: *f.accessTTL, RefreshTTL: *f.refreshTTL, RetireMargin: *f.retireMargin, Now: env.now}
}

// openDir checks the flags and reads the directory.
func (f stageFlags) openDir(env *Env, name string) (secretsDir, map[string]string, []jwtkeys.RingID, int) {
	if *f.dir == "" {
		return "", nil, nil, missingFlag(f.fs, "dir")
	}
	rings, err := f.rings()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return "", nil, nil, exitUsage
	}
	d := secretsDir(*f.dir)
	if err := d.check(*f.adopt); err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return "", nil, nil, exitCheck
	}
	vars, err := d.read()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return "", nil, nil, exitCheck
	}
	env.auditTarget("directory " + absPath(*f.dir))
	return d, vars, rings, exitOK
}

// newKeys returns one new secret per ring: generated, or read from stdin.
func newKeys(env *Env, class keygen.Class, labels []string, fromStdin bool) ([]string, error) {
	out := make([]string, len(labels))
	if !fromStdin {
		for i := range labels {
			s, err := keygen.New(class)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		for i, l := range labels {
			b, err := readSecret(env, "new "+l+" key: ", false)
			if err != nil {
				return nil, err
			}
			out[i] = string(b)
		}
		return out, nil
	}
	b, err := io.ReadAll(io.LimitReader(env.Stdin, maxSecretInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretInput {
		return nil, fmt.Errorf("stdin larger than %d bytes", maxSecretInput)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("stdin is empty: want %d keys, one per line (%s), or leave out --stdin to generate them", len(labels), strings.Join(labels, ", "))
	}
	lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	if len(lines) != len(labels) {
		return nil, fmt.Errorf("stdin: want %d keys, one per line (%s), got %d lines", len(labels), strings.Join(labels, ", "), len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return nil, fmt.Errorf("stdin line %d (%s): %w", i+1, labels[i], ErrEmptySecret)
		}
		if strings.TrimSpace(l) != l {
			return nil, fmt.Errorf("stdin line %d (%s): leading or trailing whitespace would become part of the key", i+1, labels[i])
		}
		out[i] = l
	}
	return out, nil
}

// change is one variable changed in the directory.
type change struct {
	Var    string `json:"variable"`
	Before string `json:"fingerprint_before,omitempty"` // "" = absent
	After  string `json:"fingerprint_after,omitempty"`
	// Value is set for non-secret variables (*_SINCE).
	Value string `json:"value,omitempty"`
}

// isSecretVar reports whether a variable holds a secret (everything but the
// *_SINCE times).
func isSecretVar(name string) bool { return !strings.HasSuffix(name, "_SINCE") }

// diffVars lists what changes from old to new among names.
func diffVars(old, new map[string]string, names ...string) []change {
	var out []change
	for _, n := range names {
		o, oOK := old[n]
		v, nOK := new[n]
		if oOK == nOK && o == v {
			continue
		}
		c := change{Var: n}
		if isSecretVar(n) {
			if oOK {
				c.Before = fingerprint.OfString(o)
			}
			if nOK {
				c.After = fingerprint.OfString(v)
			}
		} else if nOK {
			c.Value = v
		}
		out = append(out, c)
	}
	return out
}

func ringVars(rings []jwtkeys.RingID) []string {
	var out []string
	for _, r := range rings {
		out = append(out, jwtkeys.VarName(r, secretenv.SlotNext), jwtkeys.VarName(r, secretenv.SlotCurrent),
			jwtkeys.VarName(r, secretenv.SlotPrevious), jwtkeys.SinceVarName(r))
	}
	return out
}

func copyVars(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stageResult is the JSON of stage, promote and retire.
type stageResult struct {
	Command string    `json:"command"`
	Dir     string    `json:"dir"`
	DryRun  bool      `json:"dry_run"`
	Changes []change  `json:"changes"`
	Slots   []slotRow `json:"slots"`
}

// commit validates the new set with the fleet's keyring settings, writes it
// (unless dry run), records the audit fingerprints and prints the result.
//
// generated names the keys the command generated itself: a dry run shows
// them as "(generated)" and leaves their fingerprints out of its JSON, since
// the real run generates other keys (a throwaway key's fingerprint must not
// reach the ticket).
func commitJWT(env *Env, name string, sf stageFlags, of outputFlags, d secretsDir, old, new map[string]string, rings []jwtkeys.RingID, generated []string) int {
	keys, err := jwtkeys.Open(secretenv.Map(new), sf.options(env))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: the new keys would not load (nothing was changed): %v\n", name, err)
		return exitCheck
	}
	changes := diffVars(old, new, ringVars(rings)...)
	if !*sf.dryRun {
		if err := d.write(new, env.now()); err != nil {
			fmt.Fprintf(env.Stderr, "rotate %s: write %s: %v\n", name, d, err)
			return exitCheck
		}
		for _, c := range changes {
			if isSecretVar(c.Var) {
				env.auditFingerprint(c.Var, c.Before, c.After)
			}
		}
	}
	loc, err := env.zone()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return exitUsage
	}
	rows := slotRows(keys.Slots())
	if *sf.dryRun {
		hideGenerated(generated, of.json(env), changes, rows)
	}
	if of.json(env) {
		writeJSON(env.Stdout, stageResult{Command: name, Dir: string(d), DryRun: *sf.dryRun, Changes: nonNilChanges(changes), Slots: rows})
		return exitOK
	}
	verb := "changed"
	if *sf.dryRun {
		verb = "would change (dry run, nothing written)"
	}
	fmt.Fprintf(env.Stdout, "%s %s:\n", d, verb)
	printChanges(env.Stdout, changes, loc)
	fmt.Fprintln(env.Stdout, ticketHeader(*sf.dryRun, generated))
	for _, r := range rows {
		if r.Fingerprint == "" {
			continue
		}
		line := fmt.Sprintf("  %-8s %-9s %s  %s", r.Ring, r.Slot, r.Fingerprint, r.State)
		if r.RetireAt != nil {
			line += ", retire at " + r.RetireAt.In(loc).Format(timeLayout)
		}
		fmt.Fprintln(env.Stdout, line)
	}
	return exitOK
}

// generatedShown stands, in a dry run's human output, for the fingerprint of
// a key the real run will generate.
const generatedShown = "(generated)"

// hideGenerated replaces the fingerprints of the keys in generated (secrets
// a dry run generated only to validate the result) by generatedShown, or
// by nothing for JSON, in changes and rows.
func hideGenerated(generated []string, asJSON bool, changes []change, rows []slotRow) {
	if len(generated) == 0 {
		return
	}
	sample := make(map[string]bool, len(generated))
	for _, g := range generated {
		sample[fingerprint.OfString(g)] = true
	}
	shown := generatedShown
	if asJSON {
		shown = ""
	}
	for i := range changes {
		if sample[changes[i].After] {
			changes[i].After = shown
		}
	}
	for i := range rows {
		if sample[rows[i].Fingerprint] {
			rows[i].Fingerprint = shown
		}
	}
}

// ticketHeader introduces the fingerprints a command prints: to record, or,
// in a dry run that generated keys, not yet.
func ticketHeader(dryRun bool, generated []string) string {
	if dryRun && len(generated) > 0 {
		return "after the real run (it generates the new keys: record the fingerprints it prints):"
	}
	return "record in the ticket:"
}

func nonNilChanges(c []change) []change {
	if c == nil {
		return []change{}
	}
	return c
}

// printChanges lists changes; a time value (*_SINCE, written as RFC 3339
// UTC) is followed by the same time in loc, the CLI's one zone.
func printChanges(w io.Writer, changes []change, loc *time.Location) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, c := range changes {
		if isSecretVar(c.Var) {
			fmt.Fprintf(w, "  %-36s %s -> %s\n", c.Var, orDash(c.Before), orDash(c.After))
		} else {
			v := orDash(c.Value)
			if t, err := time.Parse(time.RFC3339, c.Value); err == nil && loc != nil {
				v += " (" + t.In(loc).Format(timeLayout) + ")"
			}
			fmt.Fprintf(w, "  %-36s = %s\n", c.Var, v)
		}
	}
}

func runJWTStage(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt stage", "rotate jwt stage --dir DIR [--ring access|refresh|both] [--stdin] [--dry-run]\n\n"+
		"Step 2 of the staged rotation: writes a new key into JWT_SECRET_NEXT and JWT_REFRESH_SECRET_NEXT\n"+
		"(generated, 48 random bytes base64, unless --stdin gives them) and prints their fingerprints.\n"+
		"Instances watching DIR verify with them at once and sign with them only after \"jwt promote\".\n"+
		"Refuses when a ring already has a staged key.")
	sf := addStageFlags(fs, true)
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	d, old, rings, code := sf.openDir(env, "jwt stage")
	if code != exitOK {
		return code
	}
	labels := make([]string, len(rings))
	for i, r := range rings {
		labels[i] = r.String()
		if c := jwtkeys.VarName(r, secretenv.SlotCurrent); old[c] == "" {
			fmt.Fprintf(env.Stderr, "rotate jwt stage: %s is not set in %s: nothing to rotate from (a first key: rotate keygen -o FILE jwt, then --adopt)\n", c, d)
			return exitCheck
		}
		n := jwtkeys.VarName(r, secretenv.SlotNext)
		if old[n] != "" {
			fmt.Fprintf(env.Stderr, "rotate jwt stage: %s is already staged (fp=%s): promote it first, or remove it\n", n, fingerprint.OfString(old[n]))
			return exitCheck
		}
	}
	secrets, err := newKeys(env, keygen.Class("jwt"), labels, *sf.stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt stage: %v\n", err)
		return exitUsage
	}
	new := copyVars(old)
	for i, r := range rings {
		new[jwtkeys.VarName(r, secretenv.SlotNext)] = secrets[i]
	}
	var generated []string
	if !*sf.stdin {
		generated = secrets
	}
	return commitJWT(env, "jwt stage", sf, of, d, old, new, rings, generated)
}

func runJWTPromote(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt promote", "rotate jwt promote --dir DIR (--fleet URL,... | --fleet-file F | --skip-fleet-check) [--ring R] [--dry-run]\n\n"+
		"Step 3 of the staged rotation: JWT_SECRET_NEXT becomes JWT_SECRET, the old JWT_SECRET becomes\n"+
		"JWT_SECRET_PREVIOUS, JWT_SECRET_PREVIOUS_SINCE is set to now (likewise for the refresh ring).\n"+
		"Refuses (exit 1) unless every instance has loaded NEXT (the fleet check of \"jwt fleet\"), and while\n"+
		"a PREVIOUS key still verifies (retire it first, or --incident drops it).")
	sf := addStageFlags(fs, false)
	ff := addFleetFlags(fs, "fleet")
	skip := fs.Bool("skip-fleet-check", false, "promote without asking the instances (a single instance you restart yourself)")
	incident := fs.Bool("incident", false, "drop a PREVIOUS key that still verifies (its tokens are refused at once)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	urls, err := ff.list(nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt promote: %v\n", err)
		return exitUsage
	}
	if len(urls) == 0 && !*skip {
		fmt.Fprintln(env.Stderr, "rotate jwt promote: missing required flag --fleet or --fleet-file (every instance must have loaded NEXT), or --skip-fleet-check")
		return exitUsage
	}
	d, old, rings, code := sf.openDir(env, "jwt promote")
	if code != exitOK {
		return code
	}
	cur, err := jwtkeys.Open(secretenv.Map(old), sf.options(env))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt promote: %s: %v\n", d, err)
		return exitCheck
	}
	loc, err := env.zone()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt promote: %v\n", err)
		return exitUsage
	}
	now := env.now().UTC().Truncate(time.Second)
	new := copyVars(old)
	for _, r := range rings {
		next, curName, prev := jwtkeys.VarName(r, secretenv.SlotNext), jwtkeys.VarName(r, secretenv.SlotCurrent), jwtkeys.VarName(r, secretenv.SlotPrevious)
		if old[next] == "" {
			hint := ""
			if len(rings) > 1 {
				for _, o := range rings {
					if o != r && old[jwtkeys.VarName(o, secretenv.SlotNext)] != "" {
						hint = fmt.Sprintf(", or --ring %s to promote only the staged ring", o)
					}
				}
			}
			fmt.Fprintf(env.Stderr, "rotate jwt promote: %s is not staged (nothing was changed): run \"rotate jwt stage\" first%s\n", next, hint)
			return exitCheck
		}
		for _, s := range cur.Slots() {
			if s.Ring == r && s.Slot == secretenv.SlotPrevious && s.State == jwtkeys.StateVerifying && !*incident {
				fmt.Fprintf(env.Stderr, "rotate jwt promote: %s (fp=%s) still verifies until %s: run \"rotate jwt retire\" then, or --incident to drop it now\n",
					prev, s.Fingerprint, s.RetireAt.In(loc).Format(timeLayout))
				return exitCheck
			}
		}
		new[prev] = old[curName]
		new[curName] = old[next]
		new[jwtkeys.SinceVarName(r)] = now.Format(time.RFC3339)
		delete(new, next)
	}
	if len(urls) > 0 {
		states := fleetCheck(ctx, urls, jwtWant(cur), *ff.timeout)
		var w io.Writer = env.Stdout
		if of.json(env) {
			w = env.Stderr
		}
		fmt.Fprintf(w, "fleet check, expecting %s:\n", describeWant(jwtWant(cur)))
		if lag := printFleet(w, states); len(lag) > 0 {
			fmt.Fprintln(env.Stderr, "rotate jwt promote: refused (nothing was changed): some instances have not loaded NEXT; wait for them or restart them, then retry")
			return exitCheck
		}
	}
	return commitJWT(env, "jwt promote", sf, of, d, old, new, rings, nil)
}

func runJWTRetire(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt retire", "rotate jwt retire --dir DIR [--ring R] [--incident --yes] [--dry-run]\n\n"+
		"Step 5 of the staged rotation: removes JWT_SECRET_PREVIOUS (and _SINCE), likewise for the refresh\n"+
		"ring. Refuses (exit 1) before the retire time (when it left current + the ring's TTL + the margin)\n"+
		"unless --incident, which drops it at once: tokens signed with it are refused (asks on a terminal,\n"+
		"needs --yes otherwise).")
	sf := addStageFlags(fs, false)
	incident := fs.Bool("incident", false, "retire before the retire time")
	yes := fs.Bool("yes", false, "confirm --incident")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	d, old, rings, code := sf.openDir(env, "jwt retire")
	if code != exitOK {
		return code
	}
	cur, err := jwtkeys.Open(secretenv.Map(old), sf.options(env))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt retire: %s: %v\n", d, err)
		return exitCheck
	}
	loc, err := env.zone()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt retire: %v\n", err)
		return exitUsage
	}
	new := copyVars(old)
	early := false
	// With both rings, one already retired (--ring access earlier: its
	// shorter retire time came first) is skipped; nothing in any ring is
	// an error.
	var withPrevious []jwtkeys.RingID
	for _, r := range rings {
		if old[jwtkeys.VarName(r, secretenv.SlotPrevious)] != "" || len(rings) == 1 {
			withPrevious = append(withPrevious, r)
		}
	}
	if len(withPrevious) == 0 {
		fmt.Fprintf(env.Stderr, "rotate jwt retire: neither JWT_SECRET_PREVIOUS nor JWT_REFRESH_SECRET_PREVIOUS is set: nothing to retire\n")
		return exitCheck
	}
	for _, r := range withPrevious {
		prev := jwtkeys.VarName(r, secretenv.SlotPrevious)
		if old[prev] == "" {
			fmt.Fprintf(env.Stderr, "rotate jwt retire: %s is not set: nothing to retire\n", prev)
			return exitCheck
		}
		for _, s := range cur.Slots() {
			if s.Ring != r || s.Slot != secretenv.SlotPrevious || s.State != jwtkeys.StateVerifying {
				continue
			}
			if old[jwtkeys.SinceVarName(r)] == "" && !*incident {
				fmt.Fprintf(env.Stderr, "rotate jwt retire: %s is not set, so the retire time of %s is unknown: set it to the promotion time, or --incident\n",
					jwtkeys.SinceVarName(r), prev)
				return exitCheck
			}
			if !*incident {
				fmt.Fprintf(env.Stderr, "rotate jwt retire: %s (fp=%s) verifies until %s (in %s): retire it then, or --incident\n",
					prev, s.Fingerprint, s.RetireAt.In(loc).Format(timeLayout), s.RetireAt.Sub(env.now()).Round(time.Minute))
				return exitCheck
			}
			early = true
		}
		delete(new, prev)
		delete(new, jwtkeys.SinceVarName(r))
	}
	if early && !*sf.dryRun {
		if code := confirm(env, "jwt retire", "tokens signed with the previous keys will be refused at once", *yes); code != exitOK {
			return code
		}
	}
	return commitJWT(env, "jwt retire", sf, of, d, old, new, rings, nil)
}

// confirm asks on a terminal ("yes" to go on), or requires yes otherwise.
func confirm(env *Env, name, what string, yes bool) int {
	if yes {
		return exitOK
	}
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "rotate %s: %s. Type yes to go on: ", name, what)
		var answer string
		_, _ = fmt.Fscanln(env.Stdin, &answer)
		if answer == "yes" {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "rotate %s: not confirmed, nothing was changed\n", name)
		return exitCheck
	}
	fmt.Fprintf(env.Stderr, "rotate %s: %s: rerun with --yes to confirm (nothing was changed)\n", name, what)
	return exitUsage
}

// incidentStep is one reported step of "jwt incident".
type incidentStep struct {
	Step    string `json:"step"`
	Outcome string `json:"outcome"` // ok, failed, not_configured, skipped (dry run)
	Detail  string `json:"detail"`
}

func runJWTIncident(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt incident", "rotate jwt incident --dir DIR --yes [--prefix P] [--cluster] [--redis-url-file F] [--fleet URL,...] [--dry-run]\n\n"+
		"Incident rotation (runbook §3.3) in one command, each step reported:\n"+
		"  1. new JWT_SECRET and JWT_REFRESH_SECRET (generated, or --stdin), no PREVIOUS, no NEXT: every\n"+
		"     existing token is refused, which is the point;\n"+
		"  2. the fleet picks them up (with --fleet: waits up to --wait until every instance signs with them);\n"+
		"  3. the user-status cache is flushed (REDIS_URL or --redis-url-file; SCAN + UNLINK);\n"+
		"  4. every refresh token is revoked (the refresh-token store).\n"+
		"Irreversible: asks on a terminal, needs --yes otherwise. Exit 1 when a configured step failed.")
	sf := addStageFlags(fs, true)
	yes := fs.Bool("yes", false, "confirm")
	prefix := fs.String("prefix", jwtkeys.DefaultStatusPrefix, "user-status cache prefix to flush")
	cluster := fs.Bool("cluster", false, "REDIS_URL is a Redis Cluster")
	urlFile := fs.String("redis-url-file", "", "file holding the Redis URL (instead of REDIS_URL)")
	ff := addFleetFlags(fs, "fleet")
	wait := fs.Duration("wait", time.Minute, "with --fleet: how long to wait for every instance")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 || *sf.ring != "both" {
		fmt.Fprintln(env.Stderr, "rotate jwt incident: rotates both rings (no --ring)")
		return exitUsage
	}
	urls, err := ff.list(nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt incident: %v\n", err)
		return exitUsage
	}
	d, old, rings, code := sf.openDir(env, "jwt incident")
	if code != exitOK {
		return code
	}
	if !*sf.dryRun {
		if code := confirm(env, "jwt incident", "every session and refresh token will be invalidated", *yes); code != exitOK {
			return code
		}
	}
	secrets, err := newKeys(env, keygen.Class("jwt"), []string{"access", "refresh"}, *sf.stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt incident: %v\n", err)
		return exitUsage
	}
	new := copyVars(old)
	for i, r := range rings {
		new[jwtkeys.VarName(r, secretenv.SlotCurrent)] = secrets[i]
		delete(new, jwtkeys.VarName(r, secretenv.SlotNext))
		delete(new, jwtkeys.VarName(r, secretenv.SlotPrevious))
		delete(new, jwtkeys.SinceVarName(r))
	}
	keys, err := jwtkeys.Open(secretenv.Map(new), sf.options(env))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt incident: the new keys would not load (nothing was changed): %v\n", err)
		return exitCheck
	}
	var steps []incidentStep
	failed := false
	report := func(s incidentStep) {
		steps = append(steps, s)
		if s.Outcome == "failed" {
			failed = true
		}
		if !of.json(env) {
			fmt.Fprintf(env.Stdout, "%-16s %-15s %s\n", s.Step, s.Outcome, s.Detail)
		}
	}
	// 1. Keys.
	changes := diffVars(old, new, ringVars(rings)...)
	if *sf.dryRun && !*sf.stdin {
		hideGenerated(secrets, of.json(env), changes, nil)
	}
	var parts []string
	for _, c := range changes {
		if isSecretVar(c.Var) {
			b, a := c.Before, c.After
			if b == "" {
				b = "-"
			}
			if a == "" {
				a = "-"
			}
			parts = append(parts, c.Var+" "+b+" -> "+a)
		}
	}
	keyDetail := strings.Join(parts, "; ")
	switch {
	case *sf.dryRun:
		report(incidentStep{"keys", "skipped", "dry run: would write " + keyDetail})
	default:
		if err := d.write(new, env.now()); err != nil {
			report(incidentStep{"keys", "failed", err.Error()})
			return finishIncident(env, of, *sf.dryRun, steps, true)
		}
		for _, c := range changes {
			if isSecretVar(c.Var) {
				env.auditFingerprint(c.Var, c.Before, c.After)
			}
		}
		report(incidentStep{"keys", "ok", keyDetail})
	}
	// 2. Fleet.
	switch {
	case len(urls) == 0:
		report(incidentStep{"fleet", "not_configured", "no --fleet: confirm with \"rotate jwt fleet --dir " + string(d) + " URL...\""})
	case *sf.dryRun:
		report(incidentStep{"fleet", "skipped", fmt.Sprintf("dry run: would wait for %d instances", len(urls))})
	default:
		want := jwtWant(keys)
		deadline := time.Now().Add(*wait)
		for {
			states := fleetCheck(ctx, urls, want, *ff.timeout)
			var lag []string
			for _, s := range states {
				if !s.InSync {
					lag = append(lag, s.URL)
				}
			}
			if len(lag) == 0 {
				report(incidentStep{"fleet", "ok", fmt.Sprintf("all %d instances sign with the new keys", len(urls))})
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				report(incidentStep{"fleet", "failed", "lagging after " + wait.String() + ": " + strings.Join(lag, " ")})
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// 3. Status cache.
	redisURL := env.getenv("REDIS_URL")
	if *urlFile != "" {
		b, err := readFileSecret(*urlFile)
		if err != nil {
			report(incidentStep{"status_cache", "failed", "--redis-url-file: " + err.Error()})
		}
		redisURL = string(b)
	}
	switch {
	case redisURL == "" && *urlFile == "":
		report(incidentStep{"status_cache", "not_configured", "REDIS_URL is not set (no user-status cache to flush)"})
	case redisURL == "":
	default:
		rdb, err := newRedisClient(redisURL, *cluster)
		if err != nil {
			report(incidentStep{"status_cache", "failed", err.Error()})
			break
		}
		if *sf.dryRun {
			n, err := countPrefix(ctx, rdb, *prefix, 0)
			rdb.Close()
			if err != nil {
				report(incidentStep{"status_cache", "failed", "count: " + oneLine(err)})
			} else {
				report(incidentStep{"status_cache", "skipped", fmt.Sprintf("dry run: would flush %d keys under %q", n, *prefix)})
			}
			break
		}
		env.auditTarget("redis prefix " + *prefix)
		n, err := jwtkeys.FlushPrefix(ctx, rdb, *prefix, jwtkeys.FlushOptions{})
		rdb.Close()
		if err != nil {
			report(incidentStep{"status_cache", "failed", oneLine(err)})
		} else {
			report(incidentStep{"status_cache", "ok", fmt.Sprintf("flushed %d keys under %q", n, *prefix)})
		}
	}
	// 4. Refresh tokens.
	switch {
	case refreshRevokeAll == nil:
		report(incidentStep{"refresh_tokens", "not_configured", "this build has no refresh-token store: revoke them as the runbook says (§3.3)"})
	default:
		n, err := refreshRevokeAll(ctx, env, *sf.dryRun)
		switch {
		case errors.Is(err, errNoRefreshStore):
			report(incidentStep{"refresh_tokens", "not_configured", "DATABASE_URL is not set: no refresh-token store to revoke in (runbook §3.3)"})
		case err != nil:
			report(incidentStep{"refresh_tokens", "failed", oneLine(err)})
		case *sf.dryRun:
			report(incidentStep{"refresh_tokens", "skipped", fmt.Sprintf("dry run: would revoke %d live refresh tokens", n)})
		default:
			report(incidentStep{"refresh_tokens", "ok", fmt.Sprintf("revoked %d refresh tokens", n)})
		}
	}
	return finishIncident(env, of, *sf.dryRun, steps, failed)
}

func finishIncident(env *Env, of outputFlags, dryRun bool, steps []incidentStep, failed bool) int {
	if of.json(env) {
		writeJSON(env.Stdout, struct {
			Command string         `json:"command"`
			DryRun  bool           `json:"dry_run"`
			OK      bool           `json:"ok"`
			Steps   []incidentStep `json:"steps"`
		}{"jwt incident", dryRun, !failed, steps})
	}
	if failed {
		fmt.Fprintln(env.Stderr, "rotate jwt incident: a step failed (above): finish it by hand")
		return exitCheck
	}
	return exitOK
}

// errNotRedisURL is returned by newRedisClient for a bad URL (which is
// never echoed: it may carry a password).
var errNotRedisURL = errors.New("REDIS_URL is not a valid redis:// URL")

func newRedisClient(url string, cluster bool) (redis.UniversalClient, error) {
	if cluster {
		opt, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, errNotRedisURL
		}
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, errNotRedisURL
	}
	return redis.NewClient(opt), nil
}
