package pgrole_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/pgbouncer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func writeDSN(t *testing.T, path, dsn string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestZeroDowntimeThroughPgBouncer rotates base → v2 → v3 under a pgxpool
// load through PgBouncer (SCRAM pass-through, credentials from a file read
// by BeforeConnect) and requires zero failed queries.
func TestZeroDowntimeThroughPgBouncer(t *testing.T) {
	testsvc.RequireScram(t)
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	baseVerifier := verifierFor(t, f.password)
	// The fixture set the role's password; give PgBouncer the identical verifier.
	mustExec(t, testsvc.Admin(t), "ALTER ROLE "+q(f.app)+" PASSWORD "+baseVerifier.SQLLiteral())
	bouncer := testsvc.PgBouncer(t, testsvc.BouncerOptions{
		Users: map[string]string{f.app: string(baseVerifier.Secret().Bytes())},
		Extra: []string{"server_lifetime = 1", "server_idle_timeout = 1"},
	})
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	writeDSN(t, dsnFile, bouncer.URL(f.db.Name, f.app, f.password))

	cfg, err := pgxpool.ParseConfig(bouncer.URL(f.db.Name, "nobody", "none"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BeforeConnect = pgrole.DSNFile(dsnFile)
	cfg.MaxConns = 4
	cfg.MaxConnLifetime = 300 * time.Millisecond
	cfg.MaxConnLifetimeJitter = 100 * time.Millisecond
	cfg.HealthCheckPeriod = 100 * time.Millisecond
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	users := sync.Map{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				var user string
				switch i % 3 {
				case 0:
					err = pool.QueryRow(ctx, "INSERT INTO orders (tenant, amount) VALUES ('a', $1) RETURNING session_user", i).Scan(&user)
				case 1:
					var n int64
					err = pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n)
				default:
					_, err = pool.Exec(ctx, "UPDATE orders SET amount = amount + 1 WHERE id = (SELECT max(id) FROM orders)")
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
					if user != "" {
						users.Store(user, true)
					}
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)

	passwords := []string{f.password, "v2-" + testsvc.Suffix() + testsvc.Suffix(), "v3-" + testsvc.Suffix() + testsvc.Suffix()}
	role := f.app
	var plans []*pgrole.Plan
	for gen := 1; gen <= 2; gen++ {
		pw := passwords[gen]
		p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: role, Verifier: verifierFor(t, pw)})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
		_, err = adm.Rotate(ctx, p, pgrole.Hooks{
			Cutover: func(ctx context.Context, p *pgrole.Plan) error {
				if err := pgbouncer.Update(ctx, bouncer.UserlistPath, bouncer.AdminURL(),
					map[string]fingerprint.Secret{p.New: p.Verifier().Secret()}); err != nil {
					return err
				}
				writeDSN(t, dsnFile, bouncer.URL(f.db.Name, p.New, pw))
				return nil
			},
			Drain: pgrole.DrainOptions{Timeout: 20 * time.Second, Poll: 100 * time.Millisecond},
			BeforeRetire: func(ctx context.Context, p *pgrole.Plan) error {
				return pgbouncer.Update(ctx, bouncer.UserlistPath, bouncer.AdminURL(), nil, p.Old)
			},
		})
		if err != nil {
			t.Fatalf("rotation %d: %v", gen, err)
		}
		role = p.New
		time.Sleep(300 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d queries failed during rotation; first: %v", n, n+ok.Load(), firstErr.Load())
	}
	for _, u := range []string{f.app, f.app + "_v2", f.app + "_v3"} {
		if _, seen := users.Load(u); !seen {
			t.Errorf("no query ran as %s", u)
		}
	}
	t.Logf("%d queries, none failed", ok.Load())

	// Over real SCRAM: the retired passwords are refused, the new one works.
	login := func(user, pw string) error {
		c, err := pgx.Connect(ctx, testsvc.URLAs(testsvc.ScramDatabase, user, pw))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	if login(f.app, f.password) == nil {
		t.Error("the base role's old password still logs in after break-glass")
	}
	if login(f.app, plans[0].BreakGlassPassword().String()) == nil {
		t.Error("a redacted string logged in")
	}
	if err := login(f.app, string(plans[0].BreakGlassPassword().Bytes())); err != nil {
		t.Errorf("break-glass password refused: %v", err)
	}
	if login(f.app+"_v2", passwords[1]) == nil {
		t.Error("the dropped v2 role still logs in")
	}
	if err := login(f.app+"_v3", passwords[2]); err != nil {
		t.Errorf("the new password is refused: %v", err)
	}
	// Through PgBouncer too.
	if c, err := pgx.Connect(ctx, bouncer.URL(f.db.Name, f.app+"_v2", passwords[1])); err == nil {
		c.Close(ctx)
		t.Error("PgBouncer still accepts the retired v2")
	}
}

// With PgBouncer's default server lifetimes the old role's idle server
// connections would outlive any drain; a RECONNECT nudge closes them.
func TestDrainNudgesPgBouncer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	v := verifierFor(t, f.password)
	mustExec(t, testsvc.Admin(t), "ALTER ROLE "+q(f.app)+" PASSWORD "+v.SQLLiteral())
	bouncer := testsvc.PgBouncer(t, testsvc.BouncerOptions{Users: map[string]string{f.app: string(v.Secret().Bytes())}})
	c, err := pgx.Connect(ctx, bouncer.URL(f.db.Name, f.app, f.password))
	if err != nil {
		t.Fatal(err)
	}
	c.Close(ctx) // the client is gone; PgBouncer keeps the server connection
	quick := pgrole.DrainOptions{Timeout: 1500 * time.Millisecond, Poll: 100 * time.Millisecond}
	if err := adm.Drain(ctx, f.app, quick); !errors.Is(err, pgrole.ErrDrainTimeout) {
		t.Fatalf("drain without a nudge: %v (want a timeout: PgBouncer holds a server connection)", err)
	}
	ba, err := pgbouncer.Connect(ctx, bouncer.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Close(ctx)
	nudges := 0
	quick.Timeout = 10 * time.Second
	quick.Nudge = func(ctx context.Context) error { nudges++; return ba.Reconnect(ctx, f.db.Name) }
	if err := adm.Drain(ctx, f.app, quick); err != nil {
		t.Fatalf("drain with RECONNECT: %v", err)
	}
	if nudges == 0 {
		t.Fatal("drain never nudged")
	}
}

// Issue 11 (drain behind PgBouncer): in transaction pooling an idle client
// holds no server connection, so once RECONNECT has closed the role's idle
// server connections pg_stat_activity is empty while the client is still
// connected to PgBouncer as the role: retiring the role now would fail its
// next query. With PgBouncerClients the drain waits for such clients too.
func TestDrainWaitsForPgBouncerClients(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	adm := connectAdmin(t, f.db.Name)
	v := verifierFor(t, f.password)
	mustExec(t, testsvc.Admin(t), "ALTER ROLE "+q(f.app)+" PASSWORD "+v.SQLLiteral())
	bouncer := testsvc.PgBouncer(t, testsvc.BouncerOptions{PoolMode: "transaction", Users: map[string]string{f.app: string(v.Secret().Bytes())}})
	cfg, err := pgx.ParseConfig(bouncer.URL(f.db.Name, f.app, f.password))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	nudge := pgrole.PgBouncerNudge(bouncer.AdminURL(), f.app, time.Second)
	quick := pgrole.DrainOptions{Timeout: 3 * time.Second, Poll: 100 * time.Millisecond, Nudge: nudge}
	if err := adm.Drain(ctx, f.app, quick); err != nil {
		t.Fatalf("drain with RECONNECT only: %v", err)
	}
	// The hazard: pg_stat_activity says drained, the client is still there.
	if n, _, err := adm.Sessions(ctx, f.app); err != nil || n != 0 {
		t.Fatalf("sessions after the nudge: %d (%v)", n, err)
	}
	quick.Pending = pgrole.PgBouncerClients(bouncer.AdminURL())
	err = adm.Drain(ctx, f.app, quick)
	if !errors.Is(err, pgrole.ErrDrainTimeout) || !strings.Contains(err.Error(), "the connection pooler (1 client(s))") {
		t.Fatalf("drain with PgBouncerClients while a client is connected: %v, want a timeout naming the pooler's client", err)
	}
	t.Logf("reported: %v", err)
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the client lost its connection: %v", err)
	}
	c.Close(ctx)
	if err := adm.Drain(ctx, f.app, quick); err != nil {
		t.Fatalf("drain after the client left: %v", err)
	}
}
