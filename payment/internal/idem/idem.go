// Package idem runs an IPN or webhook callback under a claim in a
// payment.IdempotencyStore: claim, call, then complete or release. Every
// provider handler uses it, so they all behave alike on duplicates, on
// concurrent deliveries and on a failing callback.
package idem

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
)

// Outcome says what Run did.
type Outcome int

const (
	// Processed: the callback ran and succeeded; the key is complete.
	Processed Outcome = iota
	// Failed: the callback ran and failed; the key was released so the
	// provider's retry reaches the application again.
	Failed
	// Duplicate: the key was processed before; the callback was not run.
	Duplicate
	// InProgress: another delivery holds the key; the callback was not run.
	InProgress
	// StoreDown: the store failed; the callback was not run (fail closed).
	StoreDown
)

// Guard is the idempotency setting of one handler.
type Guard struct {
	Provider string
	// Store is nil when the application opted out: Run then calls the
	// callback every time.
	Store payment.IdempotencyStore
	// Lease and Keep default to payment.DefaultLease and DefaultKeep.
	Lease, Keep time.Duration
	// FailOpen runs the callback unguarded when the store fails (logged at
	// ERROR) instead of answering StoreDown.
	FailOpen bool
	Log      *slog.Logger
}

func (g *Guard) lease() time.Duration {
	if g.Lease > 0 {
		return g.Lease
	}
	return payment.DefaultLease
}

func (g *Guard) keep() time.Duration {
	if g.Keep > 0 {
		return g.Keep
	}
	return payment.DefaultKeep
}

func (g *Guard) log() *slog.Logger {
	if g.Log != nil {
		return g.Log
	}
	return slog.Default()
}

// Run calls fn at most once per key across every process sharing the
// store: it claims key, runs fn with a context that ends with the lease,
// then completes the key (fn succeeded) or releases it (fn failed). The
// error is fn's (Failed) or the store's (StoreDown).
func (g *Guard) Run(ctx context.Context, key string, fn func(context.Context) error) (Outcome, error) {
	if g.Store == nil {
		if err := fn(ctx); err != nil {
			return Failed, err
		}
		return Processed, nil
	}
	owner := newOwner()
	state, err := g.Store.Claim(ctx, key, owner, g.lease())
	if err != nil {
		err = fmt.Errorf("%w: %w", payment.ErrStoreUnavailable, err)
		if !g.FailOpen {
			g.log().ErrorContext(ctx, "payment: idempotency store failed; answering retry-later (fail closed)", "provider", g.Provider, "key", key, "error", err)
			return StoreDown, err
		}
		g.log().ErrorContext(ctx, "payment: idempotency store failed; processing without duplicate protection (fail open)", "provider", g.Provider, "key", key, "error", err)
		if err := fn(ctx); err != nil {
			return Failed, err
		}
		return Processed, nil
	}
	switch state {
	case payment.ClaimDone:
		return Duplicate, nil
	case payment.ClaimInProgress:
		return InProgress, nil
	}
	cctx, cancel := context.WithTimeout(ctx, g.lease())
	ferr := fn(cctx)
	cancel()
	bg := context.WithoutCancel(ctx)
	if ferr != nil {
		if err := g.Store.Release(bg, key, owner); err != nil {
			g.log().ErrorContext(ctx, "payment: could not release an idempotency claim; the provider's retry is refused until the lease ends",
				"provider", g.Provider, "key", key, "error", err)
		}
		return Failed, ferr
	}
	if err := g.Store.Complete(bg, key, owner, g.keep()); err != nil {
		msg := "payment: could not mark a notification processed; a retry after the lease reaches the application again"
		if errors.Is(err, payment.ErrClaimLost) {
			msg = "payment: the callback outlived its idempotency lease and another delivery took the key over: it may have run twice"
		}
		g.log().ErrorContext(ctx, msg, "provider", g.Provider, "key", key, "error", err)
	}
	return Processed, nil
}

func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Key builds the idempotency key of a notification from the provider name
// and the parts that identify the transaction. Parts made only of
// [A-Za-z0-9._-] are kept readable ("vnpay:DEMO:order-1:14226112"); any
// other part, or a key longer than payment.MaxKeyLen, makes the key
// provider + ":#" + a SHA-256 of the length-prefixed parts, so two
// different part lists never share a key.
func Key(provider string, parts ...string) string {
	n := len(provider)
	readable := true
	for _, p := range parts {
		n += 1 + len(p)
		if !plain(p) {
			readable = false
		}
	}
	if readable && n <= payment.MaxKeyLen {
		var b strings.Builder
		b.Grow(n)
		b.WriteString(provider)
		for _, p := range parts {
			b.WriteByte(':')
			b.WriteString(p)
		}
		return b.String()
	}
	h := sha256.New()
	var l [8]byte
	for _, p := range parts {
		for i := range l {
			l[i] = byte(uint64(len(p)) >> (8 * i))
		}
		h.Write(l[:])
		h.Write([]byte(p))
	}
	return provider + ":#" + hex.EncodeToString(h.Sum(nil)[:20])
}

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
