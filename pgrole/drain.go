package pgrole

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goodgo/rotation/pgrole/pgbouncer"
)

// Sessions returns how many client backends of role are connected, and in
// which databases: what Drain waits for and incident mode terminates.
func (a *Admin) Sessions(ctx context.Context, role string) (int, []string, error) {
	if err := ValidateName(role); err != nil {
		return 0, nil, err
	}
	if _, err := a.roleOID(ctx, role); err != nil {
		return 0, nil, err
	}
	return a.sessions(ctx, role)
}

// PgBouncerNudge returns a DrainOptions.Nudge for draining role behind
// PgBouncer, through the admin console at adminDSN: it sends RECONNECT for
// each database where PgBouncer holds a server connection of role not yet
// marked to close (every such database: one would leave the role's server
// connections in the others), then WAIT_CLOSE there for at most waitClose
// (default 5 s), after which the drain checks pg_stat_activity again.
// Without it, PgBouncer's idle server connections of the old role live
// until server_idle_timeout (600 s by default), as long as Drain's default
// timeout.
//
// A database where a server login is in progress (SHOW POOLS sv_login) is
// left for the next nudge: PgBouncer (1.18) closes a logging-in server
// connection on RECONNECT ("connect string changed"), counts that as a
// failed login and refuses that pool's new clients for server_login_retry,
// and the logins in progress are the new role's. Each nudge opens its own
// admin connection: a WAIT_CLOSE cut short by its deadline loses it.
func PgBouncerNudge(adminDSN, role string, waitClose time.Duration) func(context.Context) error {
	if waitClose <= 0 {
		waitClose = 5 * time.Second
	}
	return func(ctx context.Context) error {
		b, err := pgbouncer.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer b.Close(context.Background())
		dbs, err := b.ReconnectNeeded(ctx, role)
		if err != nil {
			return err
		}
		for _, db := range dbs {
			if err := b.Reconnect(ctx, db); err != nil {
				return err
			}
		}
		wctx, cancel := context.WithTimeout(ctx, waitClose)
		defer cancel()
		for _, db := range dbs {
			if err := b.WaitClose(wctx, db); err != nil {
				if errors.Is(wctx.Err(), context.DeadlineExceeded) {
					// Clients still hold server connections of the role:
					// pg_stat_activity (checked next) shows them.
					break
				}
				return err
			}
		}
		return nil
	}
}

// PgBouncerClients returns a DrainOptions.Pending for a drain behind
// PgBouncer: the client connections of the role on the admin console at
// adminDSN (SHOW CLIENTS), which pg_stat_activity does not show when they
// hold no server connection (transaction pooling, or waiting for a server
// login). Retiring the role while they remain would fail their next query.
func PgBouncerClients(adminDSN string) func(ctx context.Context, role string) (int, error) {
	return func(ctx context.Context, role string) (int, error) {
		b, err := pgbouncer.Connect(ctx, adminDSN)
		if err != nil {
			return 0, err
		}
		defer b.Close(context.Background())
		return b.Clients(ctx, role)
	}
}

// drainAdvice is the next step named by a drain that timed out.
func drainAdvice(role string, nudged bool) string {
	if nudged {
		return fmt.Sprintf("PgBouncer was told to RECONNECT every database, so these are clients still connected as %q: "+
			"list them with SHOW CLIENTS on the PgBouncer admin console (or pg_stat_activity.client_addr), repoint them at the new role's DSN, "+
			"or end them with incident mode (--incident)", role)
	}
	return fmt.Sprintf("behind PgBouncer, idle server connections of %q live until server_idle_timeout (600 s by default): drain with --pgbouncer "+
		"(RECONNECT + WAIT_CLOSE); otherwise find the clients in pg_stat_activity (client_addr, application_name) and repoint them, "+
		"or end them with incident mode (--incident)", role)
}
