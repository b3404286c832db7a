package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/jwtkeys/refreshpg"
)

func init() {
	refreshRevokeAll = revokeAllRefresh
	jwtSubs["revoke-refresh"] = command{name: "revoke-refresh", summary: "revoke refresh tokens in the PostgreSQL store: one user (--sub) or everyone (--all, §3.3)", run: runJWTRevokeRefresh}
}

// errNoRefreshStore: DATABASE_URL is not set, so there is no refresh-token
// store to revoke in.
var errNoRefreshStore = errors.New("DATABASE_URL is not set: no refresh-token store")

// revokeAllRefresh is the incident command's refresh-token step: every
// refresh token in the jwtkeys/refreshpg store of DATABASE_URL is revoked.
// With dryRun it changes nothing and counts the live tokens it would revoke.
func revokeAllRefresh(ctx context.Context, env *Env, dryRun bool) (int64, error) {
	dsn := env.getenv("DATABASE_URL")
	if dsn == "" {
		return 0, errNoRefreshStore
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return 0, errors.New("DATABASE_URL is not a valid Postgres DSN")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if dryRun {
		n, err := refreshpg.New(pool).CountLive(ctx, "", env.now())
		if err != nil {
			return 0, fmt.Errorf("count in %s: %w", refreshpg.Table, err)
		}
		return n, nil
	}
	n, err := refreshpg.New(pool).RevokeAll(ctx)
	if err != nil {
		return 0, fmt.Errorf("revoke in %s: %w", refreshpg.Table, err)
	}
	env.auditTarget("refresh tokens of every user")
	return n, nil
}

func runJWTRevokeRefresh(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt revoke-refresh", "rotate jwt revoke-refresh (--sub ID | --all) [--dry-run | --yes] [--json]\n\n"+
		"Revokes refresh tokens in the jwtkeys/refreshpg store (table "+refreshpg.Table+") so that\n"+
		"none of them can mint a new access token (incident rotation, runbook §3.3). The\n"+
		"database comes from DATABASE_URL. --dry-run counts the live tokens that would be\n"+
		"revoked; otherwise it asks on a terminal and needs --yes elsewhere. No live token matching (a mistyped\n"+
		"--sub, the wrong database) exits 1 unless --allow-empty. Access tokens already issued stay valid until\n"+
		"they expire (15 min): rotate JWT_SECRET or flush the status cache for those.")
	sub := fs.String("sub", "", "revoke every refresh token of this user (the sub claim)")
	all := fs.Bool("all", false, "revoke every refresh token of every user")
	dry := fs.Bool("dry-run", false, "count what would be revoked; change nothing")
	yes := fs.Bool("yes", false, "confirm the revocation")
	allowEmpty := fs.Bool("allow-empty", false, "exit 0 when no live refresh token matches")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	if *sub == "" && !*all {
		fmt.Fprintf(fs.Output(), "rotate jwt revoke-refresh: missing required flag --sub ID or --all\n\n")
		fs.Usage()
		return exitUsage
	}
	if *sub != "" && *all {
		fmt.Fprintln(env.Stderr, "rotate jwt revoke-refresh: give one of --sub ID or --all, not both")
		return exitUsage
	}
	asJSON := of.json(env)
	type revokeJSON struct {
		Command string `json:"command"`
		DryRun  bool   `json:"dry_run"`
		Subject string `json:"subject,omitempty"`
		All     bool   `json:"all"`
		Live    int64  `json:"live"` // live refresh tokens before the revocation
		Revoked int64  `json:"revoked"`
	}
	dsn := env.getenv("DATABASE_URL")
	if dsn == "" {
		fmt.Fprintln(env.Stderr, "rotate jwt revoke-refresh: DATABASE_URL is not set")
		return exitUsage
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		fmt.Fprintln(env.Stderr, "rotate jwt revoke-refresh: DATABASE_URL is not a valid Postgres DSN")
		return exitUsage
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt revoke-refresh: connect: %v\n", err)
		return exitCheck
	}
	defer pool.Close()
	store := refreshpg.New(pool)
	who := "every user"
	if *sub != "" {
		who = fmt.Sprintf("user %q", *sub)
	}
	live, err := store.CountLive(ctx, *sub, env.now())
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt revoke-refresh: count: %v (is the %s table migrated?)\n", err, refreshpg.Table)
		return exitCheck
	}
	doc := revokeJSON{Command: "jwt revoke-refresh", DryRun: *dry, Subject: *sub, All: *all, Live: live}
	empty := func() int {
		if live > 0 || *allowEmpty {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "rotate jwt revoke-refresh: no live refresh token of %s: is the user id (or DATABASE_URL) right? (--allow-empty if this is expected)\n", who)
		return exitCheck
	}
	if *dry {
		if asJSON {
			writeJSON(env.Stdout, doc)
		} else {
			fmt.Fprintf(env.Stdout, "would revoke %d live refresh tokens of %s (dry run: nothing changed)\n", live, who)
		}
		return empty()
	}
	if live == 0 && !*allowEmpty {
		if asJSON {
			writeJSON(env.Stdout, doc)
		}
		return empty()
	}
	if !confirmIrreversible(env, "jwt revoke-refresh", *yes, fmt.Sprintf("revokes %d live refresh tokens of %s (their sessions must log in again)", live, who)) {
		return exitUsage
	}
	env.auditTarget("refresh tokens of " + who)
	var n int64
	if *all {
		n, err = store.RevokeAll(ctx)
	} else {
		n, err = store.RevokeSubject(ctx, *sub)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt revoke-refresh: %v\n", err)
		return exitCheck
	}
	if asJSON {
		doc.Revoked = n
		writeJSON(env.Stdout, doc)
	} else {
		fmt.Fprintf(env.Stdout, "revoked %d refresh tokens of %s\n", n, who)
	}
	return exitOK
}
