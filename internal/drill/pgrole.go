package drill

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/bouncer"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/pgbouncer"
	"github.com/goodgo/rotation/pgrole/scram"
)

// pgCreds is a generated login: role, password and its verifier.
type pgCreds struct {
	role     string
	password fingerprint.Secret
	verifier scram.Verifier
}

func newCreds(role string) (pgCreds, error) {
	pw, err := keygen.New(keygen.DB)
	if err != nil {
		return pgCreds{}, err
	}
	s := fingerprint.NewSecret([]byte(pw))
	v, err := scram.New(s, scram.Options{})
	return pgCreds{role, s, v}, err
}

// pgRoleRotation rotates a real login role twice (base → v2 → v3, the
// alternate strategy) under a live pgx pool whose connections read their
// credentials from a file (pgrole.DSNFile), through PgBouncer when installed,
// then exercises a rollback (v3 → v4 undone before retire).
func pgRoleRotation(ctx context.Context, o *Options, p *Phase) error {
	if o.DatabaseURL == "" {
		return skip(p, "no Postgres: set DATABASE_URL or --database-url-file")
	}
	dsn, drop, err := scratchDB(ctx, o.DatabaseURL)
	var u errUnreachable
	if errors.As(err, &u) {
		return absent(p, o.DatabaseConfigured, u, "Postgres (DATABASE_URL)")
	}
	if err != nil {
		return err
	}
	suffix, err := keygen.New(keygen.DB)
	if err != nil {
		return err
	}
	base := "drill_app_" + strings.ToLower(suffix[:8])
	defer func() {
		drop()
		if c, err := pgx.Connect(context.Background(), o.DatabaseURL); err == nil {
			for _, r := range []string{base + "_v4", base + "_v3", base + "_v2", base} {
				_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
			}
			c.Close(context.Background())
		}
	}()
	dbURL, _ := url.Parse(dsn)
	dbName := strings.TrimPrefix(dbURL.Path, "/")

	admin, err := pgrole.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	cur, err := newCreds(base)
	if err != nil {
		return err
	}
	setup, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	for _, sql := range []string{
		"CREATE ROLE " + pgx.Identifier{base}.Sanitize() + " LOGIN PASSWORD " + cur.verifier.SQLLiteral(),
		"GRANT CONNECT ON DATABASE " + pgx.Identifier{dbName}.Sanitize() + " TO " + pgx.Identifier{base}.Sanitize(),
		"CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL, n int NOT NULL DEFAULT 0)",
		"GRANT SELECT, INSERT, UPDATE ON orders TO " + pgx.Identifier{base}.Sanitize(),
		"GRANT USAGE ON SEQUENCE orders_id_seq TO " + pgx.Identifier{base}.Sanitize(),
	} {
		if _, err := setup.Exec(ctx, sql); err != nil {
			setup.Close(ctx)
			return fmt.Errorf("fixture: %w", err)
		}
	}
	setup.Close(ctx)
	p.FP(base+" password (initial)", cur.password.Fingerprint())

	// PgBouncer in front, when installed.
	target := dsn
	var pb *bouncer.Process
	pb, err = bouncer.Start(ctx, bouncer.Config{Server: o.DatabaseURL, Users: map[string]string{base: string(cur.verifier.Secret().Bytes())},
		Extra: []string{"server_lifetime = 1", "server_idle_timeout = 1"}})
	switch {
	case errors.Is(err, bouncer.ErrNotInstalled):
		p.Fact("PgBouncer not installed: the pool connects to Postgres directly")
	case err != nil:
		return err
	default:
		defer pb.Stop()
		target = pb.URL(dbName, "placeholder", "placeholder")
		p.Fact("PgBouncer %s in front of Postgres (auth scram-sha-256, userlist kept in step)", pb.Addr())
	}
	dir, err := os.MkdirTemp("", "rotation-drill-creds-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	credFile := filepath.Join(dir, "dsn")
	writeCreds := func(c pgCreds) error {
		u, _ := url.Parse(target)
		u.User = url.UserPassword(c.role, string(c.password.Bytes()))
		tmp := credFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(u.String()), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, credFile)
	}
	if err := writeCreds(cur); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(target)
	if err != nil {
		return err
	}
	cfg.BeforeConnect = pgrole.DSNFile(credFile)
	cfg.MaxConns = 6
	cfg.MaxConnLifetime = 300 * time.Millisecond
	cfg.MaxConnLifetimeJitter = 100 * time.Millisecond
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	// The application: workers inserting, reading and updating.
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var queries, failed atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; lctx.Err() == nil; i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = pool.Exec(lctx, `INSERT INTO orders (note) VALUES ($1)`, fmt.Sprintf("w%d-%d", w, i))
				case 1:
					var n int
					err = pool.QueryRow(lctx, `SELECT count(*) FROM orders`).Scan(&n)
				case 2:
					_, err = pool.Exec(lctx, `UPDATE orders SET n = n + 1 WHERE id = (SELECT max(id) FROM orders)`)
				}
				if lctx.Err() != nil {
					return
				}
				queries.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, redactURLs(err.Error()))
				}
				time.Sleep(time.Millisecond)
			}
		}(w)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
			wg.Wait()
		}
	}
	defer stop()
	p.Event("Postgres: live pool (4 workers) on %s, credentials read from a file on every new connection", base)
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return err
	}

	userlist := func(edit func(*pgbouncer.Userlist) error) error {
		if pb == nil {
			return nil
		}
		ul, err := pgbouncer.ReadUserlist(pb.UserlistPath)
		if err != nil {
			return err
		}
		if err := edit(ul); err != nil {
			return err
		}
		if err := pgbouncer.WriteUserlist(pb.UserlistPath, ul); err != nil {
			return err
		}
		a, err := pgbouncer.Connect(ctx, pb.AdminURL())
		if err != nil {
			return err
		}
		defer a.Close(ctx)
		if err := a.Reload(ctx); err != nil {
			return err
		}
		return a.Reconnect(ctx, dbName)
	}

	retired := []pgCreds{}
	for gen := 2; gen <= 3; gen++ {
		next, err := newCreds(fmt.Sprintf("%s_v%d", base, gen))
		if err != nil {
			return err
		}
		plan, err := admin.Plan(ctx, pgrole.PlanOptions{Role: cur.role, Stable: base, Verifier: next.verifier})
		if err != nil {
			return fmt.Errorf("plan %s: %w", cur.role, err)
		}
		if plan.New != next.role {
			return fmt.Errorf("plan names %s, expected %s", plan.New, next.role)
		}
		if r := plan.Render(); strings.Contains(r, string(next.password.Bytes())) || strings.Contains(r, string(next.verifier.Secret().Bytes())) {
			return errors.New("the printed plan contains password material")
		}
		p.FP(next.role+" password", next.password.Fingerprint())
		started := time.Now()
		old := cur
		_, err = admin.Rotate(ctx, plan, pgrole.Hooks{
			Cutover: func(ctx context.Context, _ *pgrole.Plan) error {
				if err := userlist(func(u *pgbouncer.Userlist) error { return u.Set(next.role, next.verifier.Secret()) }); err != nil {
					return fmt.Errorf("pgbouncer: %w", err)
				}
				return writeCreds(next)
			},
			Drain: pgrole.DrainOptions{Timeout: 30 * time.Second, Poll: 100 * time.Millisecond},
			BeforeRetire: func(ctx context.Context, _ *pgrole.Plan) error {
				return userlist(func(u *pgbouncer.Userlist) error { u.Delete(old.role); return nil })
			},
		})
		if err != nil {
			return fmt.Errorf("rotate %s → %s: %w", old.role, next.role, err)
		}
		p.Event("Postgres: %s → %s rotated (plan, create, grant, verify, cutover, drain, retire %s) in %s", old.role, next.role, plan.Retire, time.Since(started).Round(time.Millisecond))
		retired = append(retired, old)
		cur = next
	}
	if err := pause(ctx, 300*time.Millisecond); err != nil {
		return err
	}
	stop()
	p.Fact("Live pool: %d queries, %d failed during two rotations (%s → %s_v2 → %s_v3)", queries.Load(), failed.Load(), base, base, base)
	if failed.Load() > 0 {
		return fmt.Errorf("%d queries failed during the rotations (first: %v)", failed.Load(), firstErr.Load())
	}

	// Retired passwords are refused; the current one works.
	login := func(c pgCreds) error {
		u, _ := url.Parse(target)
		u.User = url.UserPassword(c.role, string(c.password.Bytes()))
		cc, err := pgx.Connect(ctx, u.String())
		if err == nil {
			cc.Close(ctx)
		}
		return err
	}
	if err := login(cur); err != nil {
		return fmt.Errorf("the current role %s cannot log in: %s", cur.role, redactURLs(err.Error()))
	}
	if pb != nil {
		for _, r := range retired {
			if login(r) == nil {
				return fmt.Errorf("retired credentials of %s still log in through PgBouncer", r.role)
			}
		}
		p.Fact("Through PgBouncer (SCRAM): %s logs in; the retired passwords of %s and %s_v2 are refused", cur.role, base, base)
	}

	// Rollback (§5.7): start the next rotation, undo it before retire.
	next, err := newCreds(base + "_v4")
	if err != nil {
		return err
	}
	plan, err := admin.Plan(ctx, pgrole.PlanOptions{Role: cur.role, Stable: base, Verifier: next.verifier})
	if err != nil {
		return err
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := admin.ApplyPhase(ctx, plan, ph); err != nil {
			return fmt.Errorf("rollback exercise, %s: %w", ph, err)
		}
	}
	if err := admin.Drain(ctx, plan.New, pgrole.DrainOptions{Timeout: 10 * time.Second}); err != nil {
		return fmt.Errorf("rollback: drain %s: %w", plan.New, err)
	}
	if _, err := admin.Rollback(ctx, plan); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := login(cur); err != nil {
		return fmt.Errorf("after rollback %s cannot log in", cur.role)
	}
	p.Rollback = fmt.Sprintf("%s → %s created and verified, then rolled back before retire; %s kept working", cur.role, next.role, cur.role)
	p.Event("Postgres: rollback exercised (%s)", p.Rollback)
	p.Learn("Database password rotated twice under a live pool with zero failed queries: shadow login roles take turns, privileges stay on the stable role, and pods pick up the new credentials from a file as their connections recycle.")
	return nil
}
