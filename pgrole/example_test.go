package pgrole_test

import (
	"context"
	"fmt"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5/pgxpool"
)

func ExampleNextLoginName() {
	taken := map[string]bool{"app": true, "app_v2": true}
	exists := func(n string) bool { return taken[n] }
	next, _ := pgrole.NextLoginName("app", "app_v2", exists)
	fmt.Println(next)
	delete(taken, "app_v2") // app_v2 retired (dropped) after the move to app_v3
	next, _ = pgrole.NextLoginName("app", "app_v3", exists)
	fmt.Println(next)
	// Output:
	// app_v3
	// app_v2
}

func ExampleBuildPlan() {
	v, _ := scram.New(fingerprint.NewSecret([]byte("new password")), scram.Options{Rand: detRand(1)})
	old := &pgrole.Role{Name: "app", ServerVersion: 150004, Attributes: pgrole.Attributes{Login: true, Inherit: true, ConnLimit: -1},
		Settings: []pgrole.Setting{{Name: "statement_timeout", Value: "5s"}}}
	p, err := pgrole.BuildPlan(old, "goodgo", pgrole.PlanOptions{Role: "app", Verifier: v, Rand: detRand(2)},
		func(n string) bool { return n == "app" })
	if err != nil {
		panic(err)
	}
	for _, s := range p.Phase(pgrole.PhaseGrant).Steps {
		fmt.Println(s.SQL)
	}
	fmt.Println(p.Retire, p.Phase(pgrole.PhaseRetire).Steps[0].SQL[:len(`ALTER ROLE "app" PASSWORD '[redacted`)])
	// Output:
	// GRANT "app" TO "app_v2"
	// ALTER ROLE "app_v2" SET role TO 'app'
	// ALTER ROLE "app_v2" SET statement_timeout TO '5s'
	// break-glass ALTER ROLE "app" PASSWORD '[redacted
}

// Example_rotate is the drill: rotate a live role while applications use
// a pool whose BeforeConnect hook reads the DSN file.
func Example_rotate() {
	ctx := context.Background()
	adm, err := pgrole.Connect(ctx, "postgres://postgres@127.0.0.1:5432/goodgo")
	if err != nil {
		return
	}
	defer adm.Close(ctx)
	v, _ := scram.New(fingerprint.NewSecret([]byte("new password")), scram.Options{})
	plan, err := adm.Plan(ctx, pgrole.PlanOptions{Role: "goodgo_app", Verifier: v})
	if err != nil {
		return
	}
	fmt.Print(plan.Render())
	_, _ = adm.Rotate(ctx, plan, pgrole.Hooks{
		Cutover: func(ctx context.Context, p *pgrole.Plan) error {
			// pgbouncer.Update(ctx, userlist, adminDSN, {p.New: p.Verifier().Secret()}),
			// then atomically rewrite the DSN file the pools read.
			return nil
		},
		Drain: pgrole.DrainOptions{Timeout: 10 * time.Minute},
	})

	// In each application:
	cfg, _ := pgxpool.ParseConfig("postgres://placeholder@pgbouncer:6432/goodgo")
	cfg.BeforeConnect = pgrole.DSNFile("/etc/goodgo/db/dsn")
	cfg.MaxConnLifetime = 5 * time.Minute
	_, _ = pgxpool.NewWithConfig(ctx, cfg)
}
