package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
)

const (
	jwtA  = "cli-test-access-secret-A-0123456789abcdef"
	jwtB  = "cli-test-access-secret-B-0123456789abcdef"
	jwtRA = "cli-test-refresh-secret-A-0123456789abcdef"
)

var jwtVars = map[string]string{
	"JWT_SECRET": jwtB, "JWT_SECRET_PREVIOUS": jwtA, "JWT_SECRET_PREVIOUS_SINCE": "2026-11-27T08:00:00Z",
	"JWT_REFRESH_SECRET": jwtRA, "ROTATE_TZ": "UTC",
}

func TestJWTStatusErrors(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		args []string
		code int
		err  string
	}{
		{"missing", map[string]string{"JWT_SECRET": jwtA}, nil, exitCheck, "JWT_REFRESH_SECRET: required but not set"},
		{"short", map[string]string{"JWT_SECRET": "shortsecret", "JWT_REFRESH_SECRET": jwtRA}, nil, exitCheck, "JWT_SECRET (fp=" + fingerprint.OfString("shortsecret") + "): too short"},
		{"duplicate", map[string]string{"JWT_SECRET": jwtA, "JWT_REFRESH_SECRET": jwtA}, nil, exitCheck, "same secret in two places"},
		{"bad flag", jwtVars, []string{"--nope"}, exitUsage, "flag provided but not defined"},
		{"bad alg", jwtVars, []string{"--alg", "none"}, exitCheck, "use HS256, HS384 or HS512"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.vars, "", append([]string{"jwt", "status"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.err) {
				t.Fatalf("%+v, want exit %d and %q", r, c.code, c.err)
			}
			assertNoSecret(t, r, "shortsecret", jwtA, jwtRA)
		})
	}
}

func TestJWTSignInspect(t *testing.T) {
	r := runCLI(t, jwtVars, "", "jwt", "sign", "--sub", "smoke-user")
	if r.code != exitOK || !strings.Contains(r.stderr, "access token, kid "+fingerprint.OfString(jwtB)) {
		t.Fatalf("sign: %+v", r)
	}
	tok := strings.TrimSpace(r.stdout)
	in := runCLI(t, jwtVars, tok+"\n", "jwt", "inspect")
	wantHead := "alg:      HS256\nkid:      " + fingerprint.OfString(jwtB) + "\nverified: yes, access ring, current key\nexpires:  2026-11-27 09:15 UTC (in 15m0s)\n"
	if in.code != exitOK || !strings.HasPrefix(in.stdout, wantHead) || !strings.Contains(in.stdout, `"sub": "smoke-user"`) {
		t.Fatalf("inspect:\n%s\nwant prefix:\n%s", in.stdout, wantHead)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	legacyPrev := mustSign(t, jwtA, nil, jwt.MapClaims{"sub": "u", "exp": now.Add(time.Hour).Unix()})
	expiredBad := mustSign(t, "wrong-key-wrong-key-wrong-key-wrong-key", map[string]any{"kid": fingerprint.OfString(jwtB)},
		jwt.MapClaims{"sub": "u", "exp": now.Add(-time.Hour).Unix(), "token_use": "access"})
	refresh := runCLI(t, jwtVars, "", "jwt", "sign", "--sub", "u", "--refresh")
	cases := []struct {
		name, tok string
		code      int
		want      string
	}{
		{"legacy on previous", legacyPrev, exitOK, "verified: yes, access ring, previous key, legacy token without kid"},
		{"refresh token", strings.TrimSpace(refresh.stdout), exitOK, "verified: yes, refresh ring, current key"},
		{"expired with bad signature", expiredBad, exitCheck, "verified: no: access token refused (bad_signature) kid=" + fingerprint.OfString(jwtB) + ": the token signature is invalid\nexpires:  2026-11-27 08:00 UTC (1h0m0s ago)"},
		{"unknown kid", mustSign(t, jwtA, map[string]any{"kid": "0000000000000000"}, jwt.MapClaims{"exp": now.Unix() + 60}), exitCheck, "(unknown_kid)"},
		{"garbage", "not-a-token", exitCheck, "verified: no: access token refused (malformed)"},
		{"bearer prefix", "Bearer " + tok, exitOK, "verified: yes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, jwtVars, c.tok, "jwt", "inspect")
			if r.code != c.code || !strings.Contains(r.stdout, c.want) {
				t.Fatalf("exit %d, stdout:\n%s\nwant %q", r.code, r.stdout, c.want)
			}
			assertNoSecret(t, r, jwtA, jwtB, jwtRA)
		})
	}
	if r := runCLI(t, jwtVars, "", "jwt", "sign"); r.code != exitUsage {
		t.Errorf("sign without --sub: %+v", r)
	}
	if r := runCLI(t, jwtVars, "", "jwt", "inspect"); r.code != exitUsage {
		t.Errorf("inspect without input: %+v", r)
	}
}

func mustSign(t *testing.T, key string, hdr map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	for k, v := range hdr {
		tk.Header[k] = v
	}
	s, err := tk.SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTFlushSessions(t *testing.T) {
	rd := testsvc.NewRedis(t)
	ctx := context.Background()
	prefix := rd.Prefix + "auth:user_status:v1:"
	for i := 0; i < 500; i++ {
		rd.Client.Set(ctx, fmt.Sprintf("%s%d", prefix, i), "active", time.Hour)
	}
	rd.Client.Set(ctx, rd.Prefix+"keep", "1", time.Hour)
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL()}

	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without --yes: %+v", r)
	}
	if n := rd.Client.Exists(ctx, prefix+"1").Val(); n != 1 {
		t.Fatal("deleted without confirmation")
	}
	if r := runCLI(t, nil, "", "jwt", "flush-sessions", "--yes"); r.code != exitUsage || !strings.Contains(r.stderr, "REDIS_URL") {
		t.Fatalf("without REDIS_URL: %+v", r)
	}
	r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix, "--yes")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, fmt.Sprintf("flushed 500 keys under %q", prefix)) {
		t.Fatalf("flush: %+v", r)
	}
	if rd.Client.Exists(ctx, rd.Prefix+"keep").Val() != 1 {
		t.Fatal("flush deleted a key outside the prefix")
	}
	// The URL may come from a file instead of the environment.
	urlFile := filepath.Join(t.TempDir(), "redis-url")
	if err := os.WriteFile(urlFile, []byte(testsvc.RedisURL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rd.Client.Set(ctx, prefix+"again", "active", time.Hour)
	r = runCLI(t, nil, "", "jwt", "flush-sessions", "--prefix", prefix, "--redis-url-file", urlFile, "--yes")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, fmt.Sprintf("flushed 1 keys under %q", prefix)) {
		t.Fatalf("flush with --redis-url-file: %+v", r)
	}
	bad := map[string]string{"REDIS_URL": "redis://:hunter2-password@127.0.0.1:1/0"}
	r = runCLI(t, bad, "", "jwt", "flush-sessions", "--yes")
	if r.code != exitCheck || strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("unreachable Redis: %+v", r)
	}
}

func TestJWTStatusDir(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"JWT_SECRET": jwtB, "JWT_SECRET_NEXT": jwtA, "JWT_REFRESH_SECRET": jwtRA} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, nil, "", "jwt", "status", "--dir", dir)
	rows := map[string][]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 7 {
			rows[f[2]] = f
		}
	}
	if r.code != exitOK || rows["JWT_SECRET_NEXT"][3] != "staged" || rows["JWT_SECRET_NEXT"][4] != fingerprint.OfString(jwtA) ||
		rows["JWT_SECRET"][3] != "signing" || rows["JWT_SECRET"][4] != fingerprint.OfString(jwtB) {
		t.Fatalf("--dir: %+v", r)
	}
}

func TestJWTFlushSessionsCluster(t *testing.T) {
	rc := testsvc.NewRedisCluster(t)
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		rc.Client.Set(ctx, fmt.Sprintf("auth:user_status:v1:%d", i), "active", time.Hour)
	}
	rc.Client.Set(ctx, "keep", "1", time.Hour)
	url := "redis://" + rc.Addrs[0] + "?addr=" + rc.Addrs[1] + "&addr=" + rc.Addrs[2]
	r := runCLI(t, map[string]string{"REDIS_URL": url}, "", "jwt", "flush-sessions", "--cluster", "--yes")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, `flushed 300 keys under "auth:user_status:v1:"`) {
		t.Fatalf("cluster flush: %+v", r)
	}
	if rc.Client.Exists(ctx, "keep").Val() != 1 {
		t.Fatal("cluster flush deleted another key")
	}
}

// TestJWTStatusDirBadSinceRedacted: a secret pasted into the
// JWT_SECRET_PREVIOUS_SINCE file is never printed by `rotate jwt status --dir`.
func TestJWTStatusDirBadSinceRedacted(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"JWT_SECRET": jwtB, "JWT_SECRET_PREVIOUS": jwtA, "JWT_SECRET_PREVIOUS_SINCE": jwtRA + "x", "JWT_REFRESH_SECRET": jwtRA} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, nil, "", "jwt", "status", "--dir", dir)
	if r.code != exitCheck || !strings.Contains(r.stderr, "JWT_SECRET_PREVIOUS_SINCE") || !strings.Contains(r.stderr, fingerprint.OfString(jwtRA+"x")) {
		t.Fatalf("%+v", r)
	}
	assertNoSecret(t, r, jwtRA+"x", jwtA, jwtB)
}
