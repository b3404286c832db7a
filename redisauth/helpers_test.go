package redisauth_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/redisserver"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/redisauth"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// server starts a private redis-server for t (never the shared REDIS_URL
// one, whose default user and config belong to everyone).
func server(t *testing.T, o redisserver.Options) *redisserver.Server {
	t.Helper()
	s, err := redisserver.Start(t.TempDir(), o)
	if errors.Is(err, redisserver.ErrNoServer) {
		if testsvc.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func client(t *testing.T, addr, user, password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	return c
}

func connect(t *testing.T, addr, user, password string) *redisauth.Admin {
	t.Helper()
	adm, err := redisauth.ConnectOptions(ctxT(t), &redis.Options{Addr: addr, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	return adm
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func secret(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitUp(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not up", addr)
}
