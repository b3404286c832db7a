package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "jwt", summary: "JWT keyrings: status, inspect a token, sign a smoke token, flush sessions", run: runJWT})
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
	dir, alg *string
}

func addKeyringFlags(fs *flag.FlagSet) keyringFlags {
	return keyringFlags{
		dir: fs.String("dir", "", "read JWT_SECRET* files from this directory (a mounted secret) instead of the environment"),
		alg: fs.String("alg", "HS256", "pinned algorithm: HS256, HS384 or HS512"),
	}
}

func (k keyringFlags) open(env *Env) (*jwtkeys.Keys, error) {
	src := env.Vars
	if *k.dir != "" {
		src = secretenv.Dir(*k.dir)
	}
	return jwtkeys.Open(src, jwtkeys.Options{Algorithm: *k.alg, Now: env.now})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runJWTStatus(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt status", "rotate jwt status [--dir DIR] [--json]\n\n"+
		"Loads and validates JWT_SECRET, JWT_SECRET_PREVIOUS, JWT_SECRET_NEXT and the JWT_REFRESH_SECRET\n"+
		"trio (plus *_PREVIOUS_SINCE) and lists every slot. Exit 1 when the configuration is invalid.")
	kf := addKeyringFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	keys, err := kf.open(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt status: %v\n", err)
		return exitCheck
	}
	st := keys.Status()
	if *asJSON {
		type row struct {
			Ring, Slot, Var, State, Fingerprint string
			Since, RetireAt                     *time.Time `json:",omitempty"`
		}
		rows := make([]row, 0, len(st))
		for _, s := range st {
			r := row{Ring: s.Ring.String(), Slot: s.Slot.String(), Var: s.Var, State: string(s.State), Fingerprint: s.Fingerprint}
			if !s.Since.IsZero() {
				r.Since = &s.Since
			}
			if !s.RetireAt.IsZero() {
				r.RetireAt = &s.RetireAt
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return exitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RING\tSLOT\tVARIABLE\tSTATE\tFINGERPRINT\tSINCE\tRETIRE AT")
	var notes []string
	for _, s := range st {
		fp := s.Fingerprint
		if fp == "" {
			fp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Ring, s.Slot, s.Var, s.State, fp, fmtTime(s.Since), fmtTime(s.RetireAt))
		switch {
		case s.State == jwtkeys.StateRetired:
			notes = append(notes, fmt.Sprintf("%s is retired (tokens signed with it are refused): remove it.", s.Var))
		case s.State == jwtkeys.StateVerifying:
			notes = append(notes, fmt.Sprintf("%s verifies until %s; set %s at promotion so a restart keeps that time.",
				s.Var, fmtTime(s.RetireAt), jwtkeys.SinceVarName(s.Ring)))
		}
	}
	_ = tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(env.Stdout, n)
	}
	return exitOK
}

func runJWTInspect(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt inspect", "rotate jwt inspect [--dir DIR] < token\n\n"+
		"Reads one token on stdin and prints its kid, the ring and slot that verify it, its claims\n"+
		"and expiry, or exactly why it is refused. Exit 0 when it verifies, 1 when not.")
	kf := addKeyringFlags(fs)
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
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt inspect: read token: %v\n", err)
		return exitUsage
	}
	tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(raw)), "Bearer "))
	in := keys.Keyring().Inspect(tok)
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
			fmt.Fprintf(w, "expires:  %s (in %s)\n", fmtTime(in.ExpiresAt), d)
		} else {
			fmt.Fprintf(w, "expires:  %s (%s ago)\n", fmtTime(in.ExpiresAt), -d)
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
	fs := newFlags(env, "jwt sign", "rotate jwt sign --sub SUBJECT [--refresh] [--dir DIR]\n\n"+
		"Mints a smoke-test token with the current key (stdout) and prints its kid and expiry on stderr.")
	kf := addKeyringFlags(fs)
	sub := fs.String("sub", "", "subject (user id) of the token")
	refresh := fs.Bool("refresh", false, "mint a refresh token instead of an access token")
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
	fmt.Fprintln(env.Stdout, tok)
	fmt.Fprintf(env.Stderr, "%s token, kid %s, expires %s\n", ring, keys.Keyring().CurrentKid(ring), fmtTime(exp))
	return exitOK
}

func runJWTFlush(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt flush-sessions", "rotate jwt flush-sessions [--prefix P] [--cluster] [--redis-url-file F] --yes\n\n"+
		"Deletes every Redis key under the user-status prefix (incident rotation, runbook §3.3) with\n"+
		"SCAN + UNLINK, never KEYS; on every master with --cluster. Redis comes from REDIS_URL\n"+
		"or --redis-url-file.\n"+
		"Refuses to run without --yes.")
	prefix := fs.String("prefix", jwtkeys.DefaultStatusPrefix, "key prefix to delete")
	yes := fs.Bool("yes", false, "confirm the deletion")
	cluster := fs.Bool("cluster", false, "REDIS_URL is a Redis Cluster (redis://host:port?addr=host2:port2...)")
	count := fs.Int64("count", 0, "SCAN COUNT hint (default 10000)")
	urlFile := fs.String("redis-url-file", "", "file holding the Redis URL (instead of REDIS_URL)")
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
	if !*yes {
		fmt.Fprintf(env.Stderr, "rotate jwt flush-sessions: would delete every key under %q; rerun with --yes to confirm\n", *prefix)
		return exitUsage
	}
	var rdb redis.UniversalClient
	if *cluster {
		opt, err := redis.ParseClusterURL(url)
		if err != nil {
			fmt.Fprintln(env.Stderr, "rotate jwt flush-sessions: REDIS_URL is not a valid cluster URL")
			return exitUsage
		}
		rdb = redis.NewClusterClient(opt)
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			fmt.Fprintln(env.Stderr, "rotate jwt flush-sessions: REDIS_URL is not a valid redis:// URL")
			return exitUsage
		}
		rdb = redis.NewClient(opt)
	}
	defer rdb.Close()
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
	fmt.Fprintf(env.Stdout, "flushed %d keys under %q in %s (%.0f keys/s)\n", n, *prefix, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return exitOK
}
