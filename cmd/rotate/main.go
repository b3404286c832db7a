// Command rotate is the on-call engineer's entry point for secret rotation:
// key generation and fingerprints, environment checks against the runbook's
// inventory, JWT keyring status and token inspection, field-key census and
// re-encryption, Postgres role rotation with PgBouncer, payment smoke tests,
// the rotation checklist, and the rotation drill.
//
// Run "rotate help" for the list of commands and "rotate <command> --help"
// for one. Exit codes: 0 ok, 1 a check failed, 2 bad usage. Secrets are read
// from the environment, files or stdin, never from the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/secretenv"
)

// quietRedis drops go-redis's own log lines (connection retries), which
// would bypass the redactor; every failure also comes back as an error that
// the command prints through it.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Vars: secretenv.Env(),
	})
	stop()
	os.Exit(code)
}
