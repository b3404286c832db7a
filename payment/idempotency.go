package payment

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Idempotency: every provider re-sends a notification until it gets the
// answer it wants, and sometimes sends it twice at once. The IPN and
// webhook handlers (vnpay, momo, zalopay, webhook) therefore run the
// application's callback under a claim in an IdempotencyStore, keyed on the
// provider's transaction id:
//
//   - Claim takes the key for one delivery (an owner token) for a lease.
//     Exactly one of concurrent duplicates gets ClaimNew and reaches the
//     callback; the others get ClaimInProgress and are answered "retry
//     later" in the provider's terms.
//   - Complete, after the callback succeeded, marks the key processed for
//     a keep period: later deliveries get ClaimDone and the provider's
//     "already processed" answer (VNPay RspCode 02, ZaloPay return_code 2,
//     MoMo 204, webhooks 200) without calling the callback.
//   - Release, after the callback failed, forgets the key so that the
//     provider's retry reaches the application again. A process that dies
//     between Claim and Complete leaves a claim that lapses after its
//     lease, with the same effect.
//
// The callback runs with a context that ends with the lease, so a claim is
// never taken over while its callback still runs (as long as the callback
// honours its context). Backends: payment/idemredis (SET NX PX) and
// payment/idempg (a unique insert; the table ships as a migration);
// NewMemoryStore for a single process and for tests.

// ClaimState is an IdempotencyStore's answer to a claim.
type ClaimState int

const (
	// ClaimNew: the key was free (never seen, released, or its earlier
	// claim lapsed); it is now claimed by the caller.
	ClaimNew ClaimState = iota
	// ClaimInProgress: another delivery holds the key and is processing.
	ClaimInProgress
	// ClaimDone: a delivery with this key was processed.
	ClaimDone
)

// String returns "new", "in_progress" or "done".
func (s ClaimState) String() string {
	switch s {
	case ClaimNew:
		return "new"
	case ClaimInProgress:
		return "in_progress"
	case ClaimDone:
		return "done"
	}
	return "unknown"
}

// IdempotencyStore remembers which notifications are being processed and
// which were processed. Implementations are safe for concurrent use and
// atomic across processes sharing the store. Keys are at most MaxKeyLen
// bytes of printable text built by the handlers ("vnpay:<tmn>:<txnref>:…");
// owner is a random token naming one delivery.
type IdempotencyStore interface {
	// Claim takes key for owner for lease if the key is free, and returns
	// ClaimNew; otherwise it returns the key's state and changes nothing.
	Claim(ctx context.Context, key, owner string, lease time.Duration) (ClaimState, error)
	// Complete marks key processed for keep, if owner still holds it or
	// nobody does (its lease lapsed untaken). If another delivery holds
	// or completed the key it returns ErrClaimLost and changes nothing.
	Complete(ctx context.Context, key, owner string, keep time.Duration) error
	// Release frees key if owner holds it; otherwise it does nothing.
	Release(ctx context.Context, key, owner string) error
}

// MaxKeyLen caps idempotency keys; handlers hash longer ones.
const MaxKeyLen = 200

// Defaults for the idempotency claims the handlers take.
const (
	// DefaultLease is how long a claim lasts while the callback runs (and
	// the callback's context deadline). Providers wait 15–30 s for an
	// answer, so a callback that needs longer is answered "retry" anyway.
	DefaultLease = 2 * time.Minute
	// DefaultKeep is how long a processed key is remembered: well beyond
	// every provider's retry window (VNPay and MoMo 24 h, ZaloPay 48 h,
	// Casso 24 h).
	DefaultKeep = 30 * 24 * time.Hour
)

var (
	// ErrNoIdempotencyStore: a handler-bearing constructor was given neither
	// an IdempotencyStore nor the explicit opt-out.
	ErrNoIdempotencyStore = errors.New("payment: no idempotency store: provider retries would reach the application twice; set one (payment/idemredis, payment/idempg) or opt out explicitly")
	// ErrStoreUnavailable: the idempotency store failed; the notification
	// is answered "retry later" (fail closed), never processed unguarded.
	ErrStoreUnavailable = errors.New("payment: idempotency store unavailable")
	// ErrClaimLost: Complete found the key held by another delivery (the
	// lease lapsed while the callback ran and a retry took it over).
	ErrClaimLost = errors.New("payment: idempotency claim lost to another delivery")
)

// Reasons for answers given without calling the application.
const (
	// ReasonAlreadyProcessed: a duplicate of a processed notification,
	// answered with the provider's "already processed" response.
	ReasonAlreadyProcessed Reason = "already_processed"
	// ReasonInProgress: a duplicate arriving while the first delivery is
	// processed, answered "retry later".
	ReasonInProgress Reason = "in_progress"
	// ReasonStoreUnavailable: the idempotency store failed.
	ReasonStoreUnavailable Reason = "replay_store_unavailable"
)

// MemoryStore is an IdempotencyStore in process memory. It protects a
// single process only: several replicas behind a load balancer need a
// shared store (idemredis, idempg). It is meant for tests, examples and
// single-instance deployments.
type MemoryStore struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]memClaim
}

type memClaim struct {
	owner string // "" once done
	until time.Time
}

// NewMemoryStore returns an empty MemoryStore. now is its clock; nil means
// time.Now.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, keys: make(map[string]memClaim)}
}

// Claim implements IdempotencyStore.
func (m *MemoryStore) Claim(_ context.Context, key, owner string, lease time.Duration) (ClaimState, error) {
	if lease <= 0 || owner == "" {
		return 0, errors.New("payment: MemoryStore.Claim needs a positive lease and an owner")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if c, ok := m.keys[key]; ok && now.Before(c.until) {
		if c.owner == "" {
			return ClaimDone, nil
		}
		return ClaimInProgress, nil
	}
	m.keys[key] = memClaim{owner: owner, until: now.Add(lease)}
	return ClaimNew, nil
}

// Complete implements IdempotencyStore.
func (m *MemoryStore) Complete(_ context.Context, key, owner string, keep time.Duration) error {
	if keep <= 0 {
		return errors.New("payment: MemoryStore.Complete needs a positive keep")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if c, ok := m.keys[key]; ok && now.Before(c.until) && (c.owner != owner || owner == "") {
		return ErrClaimLost
	}
	m.keys[key] = memClaim{until: now.Add(keep)}
	return nil
}

// Release implements IdempotencyStore.
func (m *MemoryStore) Release(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.keys[key]; ok && c.owner == owner && owner != "" {
		delete(m.keys, key)
	}
	return nil
}
