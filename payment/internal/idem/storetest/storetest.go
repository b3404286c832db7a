// Package storetest checks that a payment.IdempotencyStore keeps its
// contract; every backend's tests run it against the real server.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
)

// Run checks store. Keys are made unique with prefix.
func Run(t *testing.T, store payment.IdempotencyStore, prefix string) {
	ctx := context.Background()
	key := func(name string) string { return prefix + name }
	claim := func(t *testing.T, k, owner string, lease time.Duration, want payment.ClaimState) {
		t.Helper()
		got, err := store.Claim(ctx, k, owner, lease)
		if err != nil || got != want {
			t.Fatalf("Claim(%s, %s) = %v, %v; want %v", k, owner, got, err, want)
		}
	}

	t.Run("claim_complete_done", func(t *testing.T) {
		k := key("a")
		claim(t, k, "o1", time.Minute, payment.ClaimNew)
		claim(t, k, "o2", time.Minute, payment.ClaimInProgress)
		if err := store.Complete(ctx, k, "o1", time.Hour); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		claim(t, k, "o3", time.Minute, payment.ClaimDone)
		if err := store.Complete(ctx, k, "o3", time.Hour); !errors.Is(err, payment.ErrClaimLost) {
			t.Fatalf("Complete of a done key by another owner = %v, want ErrClaimLost", err)
		}
		if err := store.Release(ctx, k, "o3"); err != nil {
			t.Fatal(err)
		}
		claim(t, k, "o4", time.Minute, payment.ClaimDone)
	})

	t.Run("release_frees_only_for_owner", func(t *testing.T) {
		k := key("b")
		claim(t, k, "o1", time.Minute, payment.ClaimNew)
		if err := store.Release(ctx, k, "intruder"); err != nil {
			t.Fatal(err)
		}
		claim(t, k, "o2", time.Minute, payment.ClaimInProgress)
		if err := store.Release(ctx, k, "o1"); err != nil {
			t.Fatal(err)
		}
		claim(t, k, "o2", time.Minute, payment.ClaimNew)
	})

	t.Run("lapsed_lease", func(t *testing.T) {
		k := key("c")
		claim(t, k, "o1", 150*time.Millisecond, payment.ClaimNew)
		time.Sleep(300 * time.Millisecond)
		// Untaken: the late owner may still complete.
		if err := store.Complete(ctx, k, "o1", time.Hour); err != nil {
			t.Fatalf("Complete after an untaken lapse: %v", err)
		}
		claim(t, k, "o2", time.Minute, payment.ClaimDone)

		k = key("d")
		claim(t, k, "o1", 150*time.Millisecond, payment.ClaimNew)
		time.Sleep(300 * time.Millisecond)
		claim(t, k, "o2", time.Minute, payment.ClaimNew) // the retry takes over
		if err := store.Complete(ctx, k, "o1", time.Hour); !errors.Is(err, payment.ErrClaimLost) {
			t.Fatalf("Complete by the lapsed owner = %v, want ErrClaimLost", err)
		}
		if err := store.Release(ctx, k, "o1"); err != nil {
			t.Fatal(err)
		}
		claim(t, k, "o3", time.Minute, payment.ClaimInProgress) // o1 freed nothing
		if err := store.Complete(ctx, k, "o2", time.Hour); err != nil {
			t.Fatal(err)
		}
		claim(t, k, "o3", time.Minute, payment.ClaimDone)
	})

	t.Run("done_expires_after_keep", func(t *testing.T) {
		k := key("e")
		claim(t, k, "o1", time.Minute, payment.ClaimNew)
		if err := store.Complete(ctx, k, "o1", 150*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		claim(t, k, "o2", time.Minute, payment.ClaimNew)
	})

	t.Run("concurrent_claims_one_winner", func(t *testing.T) {
		k := key("f")
		const n = 32
		var wg sync.WaitGroup
		states := make([]payment.ClaimState, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				states[i], errs[i] = store.Claim(ctx, k, fmt.Sprint("o", i), time.Minute)
			}()
		}
		wg.Wait()
		won := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("claim %d: %v", i, errs[i])
			}
			if states[i] == payment.ClaimNew {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent claims won, want exactly 1", won)
		}
	})

	t.Run("bad_durations", func(t *testing.T) {
		if _, err := store.Claim(ctx, key("g"), "o1", 0); err == nil {
			t.Fatal("Claim with a zero lease succeeded")
		}
	})
}
