package redisauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/redisauth"
)

func TestCredentialSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pw, user, u := filepath.Join(dir, "pw"), filepath.Join(dir, "user"), filepath.Join(dir, "url")
	must(t, os.WriteFile(pw, []byte("s3cr3t-pw\n"), 0o600))
	must(t, os.WriteFile(user, []byte("app_v2\n"), 0o600))
	must(t, os.WriteFile(u, []byte("redis://app_v3:s3cr3t-url@cache.example:6379/0\n"), 0o600))
	if n, p, err := redisauth.PasswordFile(pw, user)(ctx); err != nil || n != "app_v2" || p != "s3cr3t-pw" {
		t.Fatalf("PasswordFile: %q %v", n, err)
	}
	if n, p, err := redisauth.PasswordFile(pw, "")(ctx); err != nil || n != "" || p != "s3cr3t-pw" {
		t.Fatalf("PasswordFile default user: %q %v", n, err)
	}
	if n, p, err := redisauth.URLFile(u)(ctx); err != nil || n != "app_v3" || p != "s3cr3t-url" {
		t.Fatalf("URLFile: %q %v", n, err)
	}
	t.Setenv("RT_REDIS_USER", "app")
	t.Setenv("RT_REDIS_PASSWORD", "s3cr3t-env")
	if n, p, err := redisauth.PasswordEnv("RT_REDIS_PASSWORD", "RT_REDIS_USER")(ctx); err != nil || n != "app" || p != "s3cr3t-env" {
		t.Fatalf("PasswordEnv: %q %v", n, err)
	}
	// Bad content: a clear error that never shows it.
	must(t, os.WriteFile(u, []byte("redis://app:s3cr3t-url@[bad\n"), 0o600))
	must(t, os.WriteFile(user, []byte("bad user s3cr3t\n"), 0o600))
	for name, f := range map[string]redisauth.CredentialsFunc{
		"bad url":   redisauth.URLFile(u),
		"bad user":  redisauth.PasswordFile(pw, user),
		"missing":   redisauth.PasswordFile(filepath.Join(dir, "none"), ""),
		"unset env": redisauth.PasswordEnv("RT_REDIS_UNSET", ""),
	} {
		_, _, err := f(ctx)
		if !errors.Is(err, redisauth.ErrCredentials) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: %v", name, err)
		}
	}
	must(t, os.WriteFile(pw, []byte("\n"), 0o600))
	if _, _, err := redisauth.PasswordFile(pw, "")(ctx); !errors.Is(err, redisauth.ErrCredentials) {
		t.Errorf("empty file: %v", err)
	}
}

// TestCredentialsFollowFile: every new connection of a client and of a
// cluster client reads the file again; open connections keep their user.
func TestCredentialsFollowFile(t *testing.T) {
	ctx := ctxT(t)
	s := server(t, redisserver.Options{})
	c := client(t, s.Addr, "", "")
	must(t, c.ACLSetUser(ctx, "app", "reset", "on", ">"+oldPW, "~*", "+@all").Err())
	must(t, c.ACLSetUser(ctx, "app_v2", "reset", "on", ">"+newPW, "~*", "+@all").Err())
	path := filepath.Join(t.TempDir(), "url")
	must(t, os.WriteFile(path, []byte("redis://app:"+oldPW+"@ignored:1/0"), 0o600))
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, CredentialsProviderContext: redisauth.URLFile(path)})
	defer rdb.Close()
	held := rdb.Conn()
	defer held.Close()
	if who, err := held.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "app" {
		t.Fatalf("before: %q %v", who, err)
	}
	must(t, os.WriteFile(path+".tmp", []byte("redis://app_v2:"+newPW+"@ignored:1/0"), 0o600))
	must(t, os.Rename(path+".tmp", path))
	fresh := rdb.Conn()
	defer fresh.Close()
	if who, err := fresh.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "app_v2" {
		t.Fatalf("new connection: %q %v", who, err)
	}
	if who, err := held.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "app" {
		t.Fatalf("open connection: %q %v", who, err)
	}
}
