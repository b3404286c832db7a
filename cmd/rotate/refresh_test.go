package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/refreshpg"
)

func TestJWTRevokeRefresh(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx := context.Background()
	if err := refreshpg.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	st := refreshpg.New(db.Pool)
	exp := time.Date(2026, 12, 27, 9, 0, 0, 0, time.UTC) // after runCLI's clock
	for i, sub := range []string{"alice", "alice", "bob", "carol"} {
		if err := st.Record(ctx, jwtkeys.RefreshRecord{ID: sub + string(rune('0'+i)), Subject: sub, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	for _, args := range [][]string{{}, {"--sub", "a", "--all"}, {"--all", "extra"}} {
		if r := runCLI(t, vars, "", append([]string{"jwt", "revoke-refresh"}, args...)...); r.code != exitUsage {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := runCLI(t, nil, "", "jwt", "revoke-refresh", "--all", "--yes"); r.code != exitUsage || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Errorf("no DATABASE_URL: %+v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "revoke-refresh", "--sub", "alice", "--dry-run"); r.code != exitOK || !strings.Contains(r.stdout, "would revoke 2 ") {
		t.Fatalf("dry run: %+v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "revoke-refresh", "--sub", "alice"); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without --yes: %+v", r)
	}
	if n, _ := st.CountLive(ctx, "", exp.Add(-time.Hour)); n != 4 {
		t.Fatalf("dry run / no --yes changed something: %d live", n)
	}
	if r := runCLI(t, vars, "", "jwt", "revoke-refresh", "--sub", "alice", "--yes"); r.code != exitOK || !strings.Contains(r.stdout, "revoked 2 ") {
		t.Fatalf("--sub: %+v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "revoke-refresh", "--all", "--dry-run"); r.code != exitOK || !strings.Contains(r.stdout, "would revoke 2 ") {
		t.Fatalf("dry run all: %+v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "revoke-refresh", "--all", "--yes"); r.code != exitOK || !strings.Contains(r.stdout, "revoked 2 ") {
		t.Fatalf("--all: %+v", r)
	}
	if n, _ := st.CountLive(ctx, "", exp.Add(-time.Hour)); n != 0 {
		t.Fatalf("%d live after --all", n)
	}
	// A user id that matches nothing (a typo during an incident leaves the
	// real user's sessions alive) says so and exits 1, as a flush of a
	// mistyped prefix does, unless --allow-empty (trial #15).
	for _, args := range [][]string{{"--sub", "alcie", "--dry-run"}, {"--sub", "alcie", "--yes"}, {"--all", "--yes"}} {
		r := runCLI(t, vars, "", append([]string{"jwt", "revoke-refresh"}, args...)...)
		if r.code != exitCheck || !strings.Contains(r.stderr, "no live refresh token of") {
			t.Errorf("%v matching nothing: %+v", args, r)
		}
		if r := runCLI(t, vars, "", append([]string{"jwt", "revoke-refresh", "--allow-empty"}, args...)...); r.code != exitOK {
			t.Errorf("%v --allow-empty: %+v", args, r)
		}
	}
}

// The incident command's refresh-token step revokes every token in the
// store of DATABASE_URL (runbook §3.3), and says so.
func TestJWTIncidentRevokesRefreshTokens(t *testing.T) {
	db := testsvc.Postgres(t)
	rd := testsvc.NewRedis(t)
	ctx := context.Background()
	if err := refreshpg.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	st := refreshpg.New(db.Pool)
	exp := time.Date(2026, 12, 27, 9, 0, 0, 0, time.UTC) // after runCLI's clock
	for i, sub := range []string{"alice", "bob", "carol"} {
		if err := st.Record(ctx, jwtkeys.RefreshRecord{ID: sub + string(rune('0'+i)), Subject: sub, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	a, b, ra := newSecret(t, "jwt"), newSecret(t, "jwt"), newSecret(t, "jwt")
	dir := writeDir(t, map[string]string{"JWT_SECRET": b, "JWT_SECRET_PREVIOUS": a, "JWT_SECRET_PREVIOUS_SINCE": "2026-11-27T08:00:00Z", "JWT_REFRESH_SECRET": ra})
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL(), "DATABASE_URL": db.URL}
	rd.Client.Set(ctx, rd.Prefix+"auth:user_status:v1:alice", "active", time.Hour)
	r := runCLI(t, vars, "", "jwt", "incident", "--dir", dir, "--prefix", rd.Prefix+"auth:user_status:v1:", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "refresh_tokens   ok") || !strings.Contains(r.stdout, "revoked 3 refresh tokens") {
		t.Fatalf("incident: %+v", r)
	}
	if n, _ := st.CountLive(ctx, "", exp.Add(-time.Hour)); n != 0 {
		t.Fatalf("%d refresh tokens still live after the incident", n)
	}
}
