package testsvc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/bouncer"
)

// BouncerOptions configures PgBouncer.
type BouncerOptions struct {
	// PoolMode is "session" (default) or "transaction". pgx's default
	// statement cache needs session mode on PgBouncer 1.18.
	PoolMode string
	// Users are the userlist.txt entries to start with: role name → SCRAM
	// verifier (or plain password). The admin user is added on its own.
	Users map[string]string
	// Extra lines for the [pgbouncer] section, e.g. "server_lifetime = 5".
	Extra []string
}

// Bouncer is a PgBouncer started for one test and stopped when it ends. Any
// database name is forwarded to the same name on the DATABASE_URL server,
// without a user= setting, so SCRAM pass-through works with the verifiers in
// userlist.txt. Its fields and methods are those of bouncer.Process: Dir,
// ConfigPath, UserlistPath, LogPath, Host, Port, AdminUser, AdminPassword,
// URL, AdminURL, Admin, Log.
type Bouncer struct {
	*bouncer.Process
}

// PgBouncer starts a PgBouncer for t with client auth scram-sha-256. It
// refuses to run as root, so as root it is started as the postgres user
// (runuser -u postgres -- pgbouncer -d). Missing pgbouncer skips the test, or
// fails it under CI.
func PgBouncer(t testing.TB, opt BouncerOptions) *Bouncer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := bouncer.Start(ctx, bouncer.Config{Server: DatabaseURL(), PoolMode: opt.PoolMode, Users: opt.Users, Extra: opt.Extra})
	if errors.Is(err, bouncer.ErrNotInstalled) {
		unavailable(t, "PgBouncer", "install it: apt-get install -y pgbouncer, or run ./scripts/test.sh", err)
	}
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", p.Log())
		}
		p.Stop()
	})
	return &Bouncer{p}
}

// Userlist renders userlist.txt lines ("name" "secret") for users, sorted by
// name. Double quotes in values are doubled, as PgBouncer expects.
func Userlist(users map[string]string) string { return bouncer.Userlist(users) }
