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
func revokeAllRefresh(ctx context.Context, env *Env) (int64, error) {
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
	n, err := refreshpg.New(pool).RevokeAll(ctx)
	if err != nil {
		return 0, fmt.Errorf("revoke in %s: %w", refreshpg.Table, err)
	}
	env.auditTarget("refresh tokens of every user")
	return n, nil
}

func runJWTRevokeRefresh(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt revoke-refresh", "rotate jwt revoke-refresh (--sub ID | --all) [--dry-run | --yes]\n\n"+
		"Revokes refresh tokens in the jwtkeys/refreshpg store (table "+refreshpg.Table+") so that\n"+
		"none of them can mint a new access token (incident rotation, runbook §3.3). The\n"+
		"database comes from DATABASE_URL. --dry-run counts the live tokens that would be\n"+
		"revoked; anything else needs --yes. Access tokens already issued stay valid until\n"+
		"they expire (15 min): rotate JWT_SECRET or flush the status cache for those.")
	sub := fs.String("sub", "", "revoke every refresh token of this user (the sub claim)")
	all := fs.Bool("all", false, "revoke every refresh token of every user")
	dry := fs.Bool("dry-run", false, "count what would be revoked; change nothing")
	yes := fs.Bool("yes", false, "confirm the revocation")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 || (*sub == "") == !*all {
		fmt.Fprintln(env.Stderr, "rotate jwt revoke-refresh: give exactly one of --sub ID or --all")
		return exitUsage
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
	if *dry {
		fmt.Fprintf(env.Stdout, "would revoke %d live refresh tokens of %s (dry run: nothing changed)\n", live, who)
		return exitOK
	}
	if !*yes {
		fmt.Fprintf(env.Stderr, "rotate jwt revoke-refresh: would revoke %d live refresh tokens of %s; rerun with --yes to confirm\n", live, who)
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
	fmt.Fprintf(env.Stdout, "revoked %d refresh tokens of %s\n", n, who)
	return exitOK
}
