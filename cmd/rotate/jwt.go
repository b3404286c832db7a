package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "jwt", summary: "JWT keyrings: stage, fleet, promote, retire, incident; status, inspect, sign, flush sessions", run: runJWT})
}

var jwtSubs = map[string]command{
	"status":         {name: "status", summary: "list both rings' slots: fingerprint, state, since, retire time", run: runJWTStatus},
	"inspect":        {name: "inspect", summary: "read a token on stdin: kid, verifying slot, claims, expiry or why it fails", run: runJWTInspect},
	"sign":           {name: "sign", summary: "mint a smoke-test token with the current key", run: runJWTSign},
	"flush-sessions": {name: "flush-sessions", summary: "delete the user-status cache keys (incident rotation, §3.3)", run: runJWTFlush},
}

func runJWT(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "jwt", args, jwtSubs)
}

// keyringFlags are the flags shared by the keyring subcommands.
type keyringFlags struct {
	dir, alg                            *string
	accessTTL, refreshTTL, retireMargin *time.Duration
}

func addKeyringFlags(fs *flag.FlagSet) keyringFlags {
	return keyringFlags{
		dir: fs.String("dir", "", "read JWT_SECRET* files from this directory (a mounted secret) instead of the environment"),
		alg: fs.String("alg", "HS256", "pinned algorithm: HS256, HS384 or HS512"),
		// The fleet's lifetimes: the previous slot's retire time (status,
		// inspect) is the fleet's, not the defaults', when they differ.
		accessTTL:    fs.Duration("access-ttl", jwtkeys.DefaultAccessTTL, "the fleet's access-token TTL (for the retire time)"),
		refreshTTL:   fs.Duration("refresh-ttl", jwtkeys.DefaultRefreshTTL, "the fleet's refresh-token TTL (for the retire time)"),
		retireMargin: fs.Duration("retire-margin", jwtkeys.DefaultRetireMargin, "the fleet's retire margin"),
	}
}

func (k keyringFlags) source(env *Env) secretenv.Source {
	if *k.dir != "" {
		return secretenv.Dir(*k.dir)
	}
	return env.Vars
}

func (k keyringFlags) open(env *Env) (*jwtkeys.LiveKeyring, error) {
	return jwtkeys.Open(k.source(env), jwtkeys.Options{Algorithm: *k.alg, AccessTTL: *k.accessTTL, RefreshTTL: *k.refreshTTL, RetireMargin: *k.retireMargin, Now: env.now})
}

// fmtTime prints t for people in the CLI's one zone (--tz / ROTATE_TZ),
// with the zone's abbreviation; "-" for no time.
func (e *Env) fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc, err := e.zone()
	if err != nil {
		loc = time.UTC // the zone was checked when the command started
	}
	return t.In(loc).Format(timeLayout)
}

func runJWTStatus(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt status", "rotate jwt status [--dir DIR] [--access-ttl D --refresh-ttl D --retire-margin D] [--json | -o json]\n\n"+
		"Loads and validates JWT_SECRET, JWT_SECRET_PREVIOUS, JWT_SECRET_NEXT and the JWT_REFRESH_SECRET\n"+
		"trio (plus *_PREVIOUS_SINCE) and lists every slot: the previous key's SINCE (when it left current)\n"+
		"and RETIRE AT. Times are in --tz / ROTATE_TZ. Exit 1 when the configuration is invalid.")
	kf := addKeyringFlags(fs)
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	if _, err := env.zone(); err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt status: %v\n", err)
		return exitUsage
	}
	keys, err := kf.open(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt status: %v\n", err)
		return exitCheck
	}
	src := kf.source(env)
	sinceSet := func(r jwtkeys.RingID) bool {
		v, ok, _ := src.Lookup(jwtkeys.SinceVarName(r))
		return ok && v != ""
	}
	st := keys.Slots()
	if of.json(env) {
		writeJSON(env.Stdout, slotRows(st))
		return exitOK
	}
	loc, _ := env.zone()
	fmt.Fprintf(env.Stdout, "times in %s\n", zoneLabel(loc, env.now()))
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RING\tSLOT\tVARIABLE\tSTATE\tFINGERPRINT\tSINCE\tRETIRE AT")
	var notes []string
	for _, s := range st {
		fp := s.Fingerprint
		if fp == "" {
			fp = "-"
		}
		since := "-"
		if s.Slot == secretenv.SlotPrevious && s.Fingerprint != "" {
			since = env.fmtTime(s.Since)
			if !sinceSet(s.Ring) {
				since += " (load time)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Ring, s.Slot, s.Var, s.State, fp, since, env.fmtTime(s.RetireAt))
		switch {
		case s.State == jwtkeys.StateRetired:
			notes = append(notes, fmt.Sprintf("%s is retired (tokens signed with it are refused): remove it (rotate jwt retire).", s.Var))
		case s.State == jwtkeys.StateVerifying && !sinceSet(s.Ring):
			notes = append(notes, fmt.Sprintf("%s verifies until %s, counted from this load: %s is not set, so every restart moves it later; set it to the promotion time.",
				s.Var, env.fmtTime(s.RetireAt), jwtkeys.SinceVarName(s.Ring)))
		case s.State == jwtkeys.StateVerifying:
			notes = append(notes, fmt.Sprintf("%s verifies until %s (%s).", s.Var, env.fmtTime(s.RetireAt), jwtkeys.SinceVarName(s.Ring)))
		}
	}
	_ = tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(env.Stdout, n)
	}
	return exitOK
}

func runJWTInspect(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt inspect", "rotate jwt inspect [--dir DIR] [--json | -o json] < token\n\n"+
		"Reads one token on stdin and prints its kid, the ring and slot that verify it, its claims\n"+
		"and expiry, or exactly why it is refused. Exit 0 when it verifies, 1 when not.")
	kf := addKeyringFlags(fs)
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	keys, err := kf.open(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt inspect: %v\n", err)
		return exitCheck
	}
	raw, err := readSecret(env, "token: ", false)
	if errors.Is(err, ErrEmptySecret) {
		fmt.Fprintln(env.Stderr, "rotate jwt inspect: empty input: pipe the token on stdin")
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt inspect: read token: %v\n", err)
		return exitUsage
	}
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(raw)), "Bearer "))
	in := keys.Keyring().Inspect(tok)
	if of.json(env) {
		type inspection struct {
			Alg       string         `json:"alg,omitempty"`
			Kid       string         `json:"kid,omitempty"`
			Verified  bool           `json:"verified"`
			Ring      string         `json:"ring,omitempty"`
			Slot      string         `json:"slot,omitempty"`
			Legacy    bool           `json:"legacy"`
			Refusal   string         `json:"refusal,omitempty"`
			ExpiresAt *time.Time     `json:"expires_at,omitempty"`
			Claims    map[string]any `json:"claims,omitempty"` // unverified when verified is false
		}
		out := inspection{Alg: in.Alg, Kid: in.Kid, Verified: in.Verified, Legacy: in.Legacy, ExpiresAt: utcPtr(in.ExpiresAt), Claims: in.Claims}
		if in.Verified {
			out.Ring, out.Slot = in.Ring.String(), in.Slot.String()
		} else if in.Err != nil {
			out.Refusal = in.Err.Error()
		}
		writeJSON(env.Stdout, out)
		if !in.Verified {
			return exitCheck
		}
		return exitOK
	}
	w := env.Stdout
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	kid := orDash(in.Kid)
	if in.Kid == "" {
		kid = "- (none: legacy token)"
	}
	fmt.Fprintf(w, "alg:      %s\nkid:      %s\n", orDash(in.Alg), kid)
	if in.Verified {
		how := in.Slot.String() + " key"
		if in.Legacy {
			how += ", legacy token without kid"
		}
		fmt.Fprintf(w, "verified: yes, %s ring, %s\n", in.Ring, how)
	} else {
		fmt.Fprintf(w, "verified: no: %v\n", in.Err)
	}
	if !in.ExpiresAt.IsZero() {
		d := in.ExpiresAt.Sub(env.now()).Round(time.Second)
		if d > 0 {
			fmt.Fprintf(w, "expires:  %s (in %s)\n", env.fmtTime(in.ExpiresAt), d)
		} else {
			fmt.Fprintf(w, "expires:  %s (%s ago)\n", env.fmtTime(in.ExpiresAt), -d)
		}
	} else {
		fmt.Fprintln(w, "expires:  - (no exp claim)")
	}
	if in.Claims != nil {
		b, _ := json.MarshalIndent(in.Claims, "          ", "  ")
		label := "claims:  "
		if !in.Verified {
			label = "claims (unverified):"
		}
		fmt.Fprintf(w, "%s %s\n", label, b)
	}
	if !in.Verified {
		return exitCheck
	}
	return exitOK
}

func runJWTSign(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt sign", "rotate jwt sign --sub SUBJECT [--refresh] [--dir DIR] [--json]\n\n"+
		"Mints a smoke-test token with the current key (stdout) and prints its kid and expiry on stderr.\n"+
		"With --json, one document on stdout: token, ring, kid, subject, expires_at.")
	kf := addKeyringFlags(fs)
	sub := fs.String("sub", "", "subject (user id) of the token (required)")
	refresh := fs.Bool("refresh", false, "mint a refresh token instead of an access token")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	if *sub == "" {
		return missingFlag(fs, "sub")
	}
	keys, err := kf.open(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt sign: %v\n", err)
		return exitCheck
	}
	svc, err := jwtkeys.NewService[jwtkeys.Claims](keys)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt sign: %v\n", err)
		return exitCheck
	}
	p, err := svc.Issue(*sub, jwtkeys.Claims{})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt sign: %v\n", err)
		return exitCheck
	}
	tok, ring, exp := p.Access, jwtkeys.Access, p.AccessExpiresAt
	if *refresh {
		tok, ring, exp = p.Refresh, jwtkeys.Refresh, p.RefreshExpiresAt
	}
	kid := keys.Keyring().CurrentKid(ring)
	if of.json(env) {
		writeJSON(env.Stdout, struct {
			Token     string     `json:"token"`
			Ring      string     `json:"ring"`
			Kid       string     `json:"kid"`
			Subject   string     `json:"subject"`
			ExpiresAt *time.Time `json:"expires_at"`
		}{tok, ring.String(), kid, *sub, utcPtr(exp)})
		return exitOK
	}
	fmt.Fprintln(env.Stdout, tok)
	fmt.Fprintf(env.Stderr, "%s token, kid %s, expires %s\n", ring, kid, env.fmtTime(exp))
	return exitOK
}

func runJWTFlush(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt flush-sessions", "rotate jwt flush-sessions [--prefix P] [--cluster] [--redis-url-file F] (--dry-run | --yes) [--allow-empty]\n\n"+
		"Deletes every Redis key under the user-status prefix (incident rotation, runbook §3.3) with\n"+
		"SCAN + UNLINK, never KEYS; on every master with --cluster. Redis comes from REDIS_URL\n"+
		"or --redis-url-file.\n"+
		"--dry-run counts the keys it would delete. Without --yes it counts them and asks on a terminal,\n"+
		"or refuses (exit 2) otherwise. A prefix that matches no key (mistyped?) is an error (exit 1)\n"+
		"unless --allow-empty.")
	prefix := fs.String("prefix", jwtkeys.DefaultStatusPrefix, "key prefix to delete")
	yes := fs.Bool("yes", false, "confirm the deletion")
	dryRun := fs.Bool("dry-run", false, "count the keys that would be deleted, delete nothing")
	allowEmpty := fs.Bool("allow-empty", false, "a prefix that matches no key is not an error")
	cluster := fs.Bool("cluster", false, "REDIS_URL is a Redis Cluster (redis://host:port?addr=host2:port2...)")
	count := fs.Int64("count", 0, "SCAN COUNT hint (default 5000)")
	urlFile := fs.String("redis-url-file", "", "file holding the Redis URL (instead of REDIS_URL)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	if *prefix == "" {
		fmt.Fprintln(env.Stderr, "rotate jwt flush-sessions: --prefix is empty: it would match every key")
		return exitUsage
	}
	url := env.getenv("REDIS_URL")
	if *urlFile != "" {
		b, err := readFileSecret(*urlFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: --redis-url-file: %v\n", err)
			return exitUsage
		}
		url = string(b)
	}
	if url == "" {
		fmt.Fprintln(env.Stderr, "rotate jwt flush-sessions: REDIS_URL is not set (or give --redis-url-file)")
		return exitUsage
	}
	rdb, err := newRedisClient(url, *cluster)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: %v\n", err)
		return exitUsage
	}
	defer rdb.Close()
	type result struct {
		Command string  `json:"command"`
		Prefix  string  `json:"prefix"`
		DryRun  bool    `json:"dry_run"`
		Matched int64   `json:"matched"`
		Deleted int64   `json:"deleted"`
		Seconds float64 `json:"seconds"`
	}
	empty := func(n int64, what string) int {
		if n > 0 || *allowEmpty {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: no key %s under %q: is the prefix right? (--allow-empty if this is expected)\n", what, *prefix)
		return exitCheck
	}
	if *dryRun || !*yes {
		n, err := countPrefix(ctx, rdb, *prefix, *count)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: count: %s\n", oneLine(err))
			return exitCheck
		}
		if *dryRun {
			if of.json(env) {
				writeJSON(env.Stdout, result{Command: "jwt flush-sessions", Prefix: *prefix, DryRun: true, Matched: n})
			} else {
				fmt.Fprintf(env.Stdout, "would delete %d keys under %q (dry run: nothing deleted)\n", n, *prefix)
			}
			return empty(n, "matches")
		}
		if n == 0 {
			return empty(n, "matches")
		}
		if code := confirm(env, "jwt flush-sessions", fmt.Sprintf("this deletes %d keys under %q", n, *prefix), false); code != exitOK {
			return code
		}
	}
	env.auditTarget("redis prefix " + *prefix)
	start := time.Now()
	n, err := jwtkeys.FlushPrefix(ctx, rdb, *prefix, jwtkeys.FlushOptions{Count: *count})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: %v\n", err)
		if errors.Is(err, jwtkeys.ErrEmptyPrefix) {
			return exitUsage
		}
		return exitCheck
	}
	el := time.Since(start)
	if of.json(env) {
		writeJSON(env.Stdout, result{Command: "jwt flush-sessions", Prefix: *prefix, Matched: n, Deleted: n, Seconds: el.Seconds()})
	} else if n > 0 {
		fmt.Fprintf(env.Stdout, "flushed %d keys under %q in %s (%.0f keys/s)\n", n, *prefix, el.Round(time.Millisecond), float64(n)/el.Seconds())
	}
	return empty(n, "was deleted")
}

// countPrefix counts the keys under prefix with SCAN MATCH (every master
// of a cluster), never KEYS.
func countPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string, count int64) (int64, error) {
	if count <= 0 {
		count = 10000
	}
	match := globEscape(prefix) + "*"
	scan := func(ctx context.Context, c redis.Cmdable) (int64, error) {
		var n int64
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, count).Result()
			if err != nil {
				return n, err
			}
			n += int64(len(keys))
			if cursor = next; cursor == 0 {
				return n, nil
			}
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n, err := scan(ctx, c)
			total.Add(n)
			return err
		})
		return total.Load(), err
	}
	return scan(ctx, rdb)
}

// globEscape escapes Redis glob characters so prefix matches literally.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
