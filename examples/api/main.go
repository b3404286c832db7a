// Command api is a small service wired the way a real one would use this
// library: JWT middleware with staged keyrings, refresh, hot reload from a
// mounted secrets directory, the Redis user-status cache, payment IPN
// endpoints that survive a secret rotation, the bank-transfer webhook,
// /health/ready and Prometheus metrics.
//
//	SECRETS_DIR=/run/secrets REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/api
//
// Settings (environment): SECRETS_DIR (read secrets from files there and
// reload on change; default: the environment, reloaded on SIGHUP), REDIS_URL
// (optional: enables the user-status cache), JWT_ACCESS_TTL, JWT_REFRESH_TTL,
// JWT_LEEWAY, JWT_RETIRE_MARGIN (Go durations; defaults 15m, 720h, 30s, 24h;
// shorten them only for a rotation drill), DATABASE_URL (optional: the
// refresh-token store; default in memory, one instance only), LISTEN_ADDR
// (default 127.0.0.1:8080), FLEET_ADDR (optional: an internal address serving
// the loaded key fingerprints at /keys for "rotate jwt fleet"). Payment endpoints are enabled for each provider whose
// secrets are configured.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	cfg.Log = log
	app, err := newApp(ctx, cfg)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer app.Close()
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	srv := &http.Server{Addr: addr, Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if fleetAddr := os.Getenv("FLEET_ADDR"); fleetAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /keys", app.FleetHandler())
		fleet := &http.Server{Addr: fleetAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			<-ctx.Done()
			_ = fleet.Close()
		}()
		go func() {
			log.Info("fleet endpoint listening", "addr", fleetAddr, "path", "/keys")
			if err := fleet.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("fleet endpoint", "err", err)
				stop()
			}
		}()
	}
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// configFromEnv reads the settings from the environment (getenv).
func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{SecretsDir: getenv("SECRETS_DIR"), RedisURL: getenv("REDIS_URL"), DatabaseURL: getenv("DATABASE_URL")}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"JWT_ACCESS_TTL", &cfg.AccessTTL}, {"JWT_REFRESH_TTL", &cfg.RefreshTTL}, {"JWT_LEEWAY", &cfg.Leeway}, {"JWT_RETIRE_MARGIN", &cfg.RetireMargin}} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return config{}, fmt.Errorf("%s: not a positive duration such as 15m, 720h or 30s", d.name)
		}
		*d.dst = t
	}
	return cfg, nil
}
