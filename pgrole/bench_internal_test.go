package pgrole

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
)

// BenchmarkMirror20kRelations measures, on a database with N relations
// (PGROLE_BENCH_RELATIONS, default 20000) each granted to the role: Plan
// (introspection and plan building), the mirror grant phase as it runs now
// (short transactions under lock_timeout, an ACCESS SHARE lock before each
// relation's GRANT) and, side by side, the former executor's shape: every
// GRANT in one transaction (Admin.run, which now sets a lock_timeout too;
// without contention that changes nothing).
func BenchmarkMirror20kRelations(b *testing.B) {
	ctx := context.Background()
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("PGROLE_BENCH_RELATIONS")); err == nil && v > 0 {
		n = v
	}
	db := testsvc.Postgres(b)
	app := testsvc.RoleName(b, "bench")
	admin := testsvc.Admin(b)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+ident(app)+" LOGIN"); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "CREATE SCHEMA s; GRANT USAGE ON SCHEMA s TO "+ident(app)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 500 {
		sql := fmt.Sprintf(`DO $$BEGIN FOR i IN %d..%d LOOP
			EXECUTE format('CREATE TABLE s.t%%s (x int)', i);
			EXECUTE format('GRANT SELECT, INSERT ON s.t%%s TO %s', i);
		END LOOP; END$$`, i, min(i+499, n-1), ident(app))
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	adm, err := Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer adm.Close(ctx)
	v, err := scram.New(fingerprint.NewSecret([]byte("bench-password")), scram.Options{Iterations: 1})
	if err != nil {
		b.Fatal(err)
	}
	plan := func(tb testing.TB) *Plan {
		p, err := adm.Plan(ctx, PlanOptions{Role: app, Strategy: Mirror, Verifier: v})
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}
	b.Run("plan", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			plan(b)
		}
	})
	grant := func(b *testing.B, run func(p *Plan) error) {
		var verify time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			p := plan(b)
			if _, err := adm.ApplyPhase(ctx, p, PhaseCreate); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := run(p); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := time.Now()
			if ms, err := adm.Diff(ctx, p.Old, p.New); err != nil || len(ms) > 0 {
				b.Fatalf("diff after the grant phase: %d finding(s), %v", len(ms), err)
			}
			verify += time.Since(st)
			if _, err := adm.conn.Exec(ctx, "DROP OWNED BY "+ident(p.New)+"; DROP ROLE "+ident(p.New)); err != nil {
				b.Fatal(err)
			}
			// The rotation is over (rolled back by hand): its record too,
			// or the next iteration's plan is refused as unfinished.
			if err := adm.finishRotation(ctx, p.Old, nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(len(plan(b).Phase(PhaseGrant).Steps)), "statements")
		// The verify phase (Diff, both ways), untimed above.
		b.ReportMetric(verify.Seconds()/float64(b.N), "verify-s/op")
	}
	b.Run("grant/short-transactions", func(b *testing.B) {
		grant(b, func(p *Plan) error { _, err := adm.ApplyPhase(ctx, p, PhaseGrant); return err })
	})
	b.Run("grant/short-transactions-without-access-share-locks", func(b *testing.B) {
		adm.super = false // what a non-superuser operator gets
		defer func() { adm.super = true }()
		grant(b, func(p *Plan) error { _, err := adm.ApplyPhase(ctx, p, PhaseGrant); return err })
	})
	b.Run("grant/baseline-one-transaction", func(b *testing.B) {
		grant(b, func(p *Plan) error { _, err := adm.run(ctx, PhaseGrant, p.Phase(PhaseGrant).Steps); return err })
	})
}
