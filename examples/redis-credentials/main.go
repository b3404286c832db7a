// Command redis-credentials is a small service wired to follow a Redis
// password rotation (rotate redis …) without a restart: every new
// connection of its go-redis pool, and every pub/sub subscription, reads the
// user and password from a mounted secret directory through
// redisauth.PasswordFile. Connections recycle (ConnMaxLifetime, PoolFIFO so
// every one of them is reused and so recycled), so "rotate redis drain" sees
// the old user's connections go; the subscriber moves to a new subscription
// as soon as the user changes, before it closes the old one, so no message
// is lost.
//
//	REDIS_ADDR=127.0.0.1:6379 REDIS_SECRETS_DIR=/run/secrets/redis go run ./examples/redis-credentials
//
// Settings (environment): REDIS_ADDR (comma-separated: several addresses,
// or REDIS_CLUSTER=1, make a Cluster client), REDIS_SECRETS_DIR (holding
// "password" and, optionally, "username"), REDIS_CHANNEL (default "events").
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/redisauth"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir := os.Getenv("REDIS_SECRETS_DIR")
	if dir == "" {
		log.Error("set REDIS_SECRETS_DIR")
		os.Exit(2)
	}
	creds := credentials(dir)
	rdb := newClient(strings.Split(os.Getenv("REDIS_ADDR"), ","), os.Getenv("REDIS_CLUSTER") == "1", creds, time.Minute)
	defer rdb.Close()
	channel := os.Getenv("REDIS_CHANNEL")
	if channel == "" {
		channel = "events"
	}
	go func() {
		err := follow(ctx, rdb, creds, channel, func(m *redis.Message) { log.Info("message", "channel", m.Channel, "len", len(m.Payload)) })
		if err != nil && ctx.Err() == nil {
			log.Error("subscriber", "err", err)
		}
	}()
	for ctx.Err() == nil {
		if err := rdb.Incr(ctx, "redis-credentials:ticks").Err(); err != nil && ctx.Err() == nil {
			log.Error("INCR", "err", err)
		}
		time.Sleep(time.Second)
	}
}

// credentials reads "password" and, when present, "username" from dir (a
// Kubernetes secret volume swaps both at once).
func credentials(dir string) redisauth.CredentialsFunc {
	user := filepath.Join(dir, "username")
	if _, err := os.Stat(user); err != nil {
		user = ""
	}
	return redisauth.PasswordFile(filepath.Join(dir, "password"), user)
}

// newClient returns a client (or a Cluster client) whose every new
// connection asks creds, and whose connections all recycle within lifetime.
func newClient(addrs []string, cluster bool, creds redisauth.CredentialsFunc, lifetime time.Duration) redis.UniversalClient {
	if cluster || len(addrs) > 1 {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, CredentialsProviderContext: creds,
			ConnMaxLifetime: lifetime, PoolFIFO: true})
	}
	return redis.NewClient(&redis.Options{Addr: addrs[0], CredentialsProviderContext: creds,
		ConnMaxLifetime: lifetime, PoolFIFO: true})
}

// follow subscribes to channel and hands every message to handle until ctx
// ends. When the user creds returns changes (alternating users), it opens a
// subscription as the new user, waits until it is confirmed, then closes
// the old one: make before break, so the old user's connection goes away
// and nothing published meanwhile is missed (a message may come twice).
func follow(ctx context.Context, rdb redis.UniversalClient, creds redisauth.CredentialsFunc, channel string, handle func(*redis.Message)) error {
	user, _, err := creds(ctx)
	if err != nil {
		return err
	}
	ps := rdb.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return err
	}
	defer func() { ps.Close() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-ch:
			handle(m)
		case <-tick.C:
			u, _, err := creds(ctx)
			if err != nil || u == user {
				continue
			}
			next := rdb.Subscribe(ctx, channel)
			if _, err := next.Receive(ctx); err != nil {
				next.Close()
				continue // try again at the next tick
			}
			old := ps
			ps, user, ch = next, u, next.Channel()
			// Both subscriptions receive for a moment; then the old one
			// goes (its in-flight messages handled first).
			oldCh, until := old.Channel(), time.After(200*time.Millisecond)
			for drained := false; !drained; {
				select {
				case m := <-oldCh:
					handle(m)
				case m := <-ch:
					handle(m)
				case <-until:
					drained = true
				}
			}
			old.Close()
		}
	}
}
