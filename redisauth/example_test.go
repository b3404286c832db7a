package redisauth_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/redisauth"
)

// The whole rotation of a named user with the alternate strategy.
func Example() {
	ctx := context.Background()
	adm, err := redisauth.Connect(ctx, "redis://ops:from-a-file@10.0.0.5:6379/0") // replicas or Cluster nodes are discovered
	if err != nil {
		return
	}
	defer adm.Close()
	newPassword := fingerprint.NewSecret([]byte("from rotate keygen redis"))
	plan, err := adm.Plan(ctx, redisauth.PlanOptions{User: "app", Password: newPassword})
	if err != nil {
		return
	}
	fmt.Print(plan.Render()) // for review: hashes shortened to fingerprints
	if _, err := adm.Apply(ctx, plan); err != nil {
		return // run again to finish, or adm.Rollback(ctx, plan)
	}
	// Cut over: write plan.New and the password where services read them.
	if err := adm.Drain(ctx, plan.Old, redisauth.DrainOptions{Timeout: 10 * time.Minute}); err != nil {
		return
	}
	_, _ = adm.Retire(ctx, plan.RetireOptions())
}

// A service whose every new connection reads the mounted secret.
func ExampleNextUserName() {
	taken := map[string]bool{"app": true, "app_v2": true}
	exists := func(n string) bool { return taken[n] }
	base, _ := redisauth.SplitUserName("app_v2")
	next, _ := redisauth.NextUserName(base, "app_v2", exists)
	fmt.Println(next)
	delete(taken, "app_v2") // app_v2 retired (deleted) after the move to app_v3
	next, _ = redisauth.NextUserName(base, "app_v3", exists)
	fmt.Println(next)
	// Output:
	// app_v3
	// app_v2
}

func ExamplePasswordFile() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                       "10.0.0.5:6379",
		CredentialsProviderContext: redisauth.PasswordFile("/run/secrets/redis/password", "/run/secrets/redis/username"),
		ConnMaxLifetime:            5 * time.Minute, // every connection recycles…
		PoolFIFO:                   true,            // …including the idle ones
	})
	defer rdb.Close()
}

func ExampleDiff() {
	old := &redisauth.User{Name: "app", On: true, Root: redisauth.Selector{Keys: []string{"~app:*"}, Channels: []string{"&*"}, Commands: "+@all"}}
	nu := &redisauth.User{Name: "app_v2", On: true, Root: redisauth.Selector{Keys: []string{"~app:*", "~other:*"}, Channels: []string{"&*"}, Commands: "+@all"}}
	for _, f := range redisauth.Diff(old, nu) {
		fmt.Println(f)
	}
	// Output: new user has extra key pattern ~other:*
}

func ExampleHash() {
	fmt.Println(redisauth.Hash([]byte("password"))[:16])
	fmt.Println(fingerprint.OfString("password"))
	// Output:
	// 5e884898da280471
	// 5e884898da280471
}
