package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
)

// TestFlushSessionsDryRunAndEmpty: the count comes first (dry run, or the
// refusal without --yes), a prefix that matches nothing says so and exits 1
// unless --allow-empty, and glob characters in the prefix match literally.
func TestFlushSessionsDryRunAndEmpty(t *testing.T) {
	rd := testsvc.NewRedis(t)
	ctx := context.Background()
	prefix := rd.Prefix + "auth:user_status:v1:"
	for i := 0; i < 7; i++ {
		rd.Client.Set(ctx, prefix+strconv.Itoa(i), "active", time.Hour)
	}
	rd.Client.Set(ctx, rd.Prefix+"auth:user_statusX", "keep", time.Hour)
	vars := map[string]string{"REDIS_URL": testsvc.RedisURL()}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix, "--dry-run"); r.code != 0 || r.stdout != "would delete 7 keys under \""+prefix+"\" (dry run: nothing deleted)\n" {
		t.Fatalf("dry run: %v", r)
	}
	r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix, "--dry-run", "-o", "json")
	var res struct {
		Matched int64 `json:"matched"`
		DryRun  bool  `json:"dry_run"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Matched != 7 || !res.DryRun {
		t.Fatalf("dry run JSON: %v %v", err, r)
	}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix); r.code != exitUsage || !strings.Contains(r.stderr, "this deletes 7 keys") || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without --yes: %v", r)
	}
	if n, _ := rd.Client.Exists(ctx, prefix+"0").Result(); n != 1 {
		t.Fatal("deleted without --yes")
	}
	typo := rd.Prefix + "auth:user_stat*s:v2:"
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", typo, "--yes"); r.code != exitCheck || !strings.Contains(r.stderr, "no key was deleted") || r.stdout != "" {
		t.Fatalf("mistyped prefix: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", typo, "--dry-run"); r.code != exitCheck || !strings.Contains(r.stderr, "no key matches") {
		t.Fatalf("mistyped prefix, dry run: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", typo, "--yes", "--allow-empty"); r.code != 0 {
		t.Fatalf("--allow-empty: %v", r)
	}
	if r := runCLI(t, vars, "", "jwt", "flush-sessions", "--prefix", prefix, "--yes"); r.code != 0 || !strings.HasPrefix(r.stdout, "flushed 7 keys") {
		t.Fatalf("flush: %v", r)
	}
	if n, _ := rd.Client.Exists(ctx, rd.Prefix+"auth:user_statusX").Result(); n != 1 {
		t.Fatal("a key outside the prefix was deleted")
	}
}
