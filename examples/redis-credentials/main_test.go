package main

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/redisauth"
)

// TestFollowsRotation wires the example to a private Redis, rotates app →
// app_v2 with redisauth while it publishes and subscribes, and checks the
// subscriber moved to app_v2, the old user drained, and nothing failed.
func TestFollowsRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := redisserver.Start(t.TempDir(), redisserver.Options{})
	if err == redisserver.ErrNoServer && !testsvc.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	const oldPW, newPW = "old-password-0123456789abcdef", "new-password-0123456789abcdef"
	admin := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer admin.Close()
	if err := admin.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(user, pw string) { // atomic, like a secret volume swap
		tmp := filepath.Join(dir, "tmp")
		_ = os.RemoveAll(tmp)
		_ = os.Mkdir(tmp, 0o700)
		_ = os.WriteFile(filepath.Join(tmp, "username"), []byte(user), 0o600)
		_ = os.WriteFile(filepath.Join(tmp, "password"), []byte(pw), 0o600)
		_ = os.RemoveAll(filepath.Join(dir, "cur"))
		if err := os.Rename(tmp, filepath.Join(dir, "cur")); err != nil {
			t.Fatal(err)
		}
	}
	write("app", oldPW)
	creds := credentials(filepath.Join(dir, "cur"))
	rdb := newClient([]string{s.Addr}, false, creds, time.Second)
	defer rdb.Close()
	var got, fails atomic.Int64
	fctx, fstop := context.WithCancel(ctx)
	defer fstop()
	go func() { _ = follow(fctx, rdb, creds, "ev", func(*redis.Message) { got.Add(1) }) }()
	go func() {
		for fctx.Err() == nil {
			if err := rdb.Publish(fctx, "ev", "x").Err(); err != nil && fctx.Err() == nil {
				fails.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)

	adm, err := redisauth.ConnectOptions(ctx, &redis.Options{Addr: s.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: fingerprint.NewSecret([]byte(newPW))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	write("app_v2", newPW)
	if err := adm.Drain(ctx, "app", redisauth.DrainOptions{Timeout: 90 * time.Second, Poll: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Retire(ctx, plan.RetireOptions()); err != nil {
		t.Fatal(err)
	}
	n := got.Load()
	time.Sleep(300 * time.Millisecond)
	fstop()
	if fails.Load() != 0 || got.Load() <= n {
		t.Fatalf("failed publishes %d; messages %d then %d", fails.Load(), n, got.Load())
	}
}
