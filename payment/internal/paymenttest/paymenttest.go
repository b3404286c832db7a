// Package paymenttest holds test helpers shared by the payment packages.
package paymenttest

import (
	"fmt"
	"sync"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// Recorder is a payment.Observer that records every call as a string:
// "verified <provider> <slot>", "sigfail <provider> <reason>" or
// "reject <provider> <reason>".
type Recorder struct {
	mu     sync.Mutex
	events []string
}

var _ payment.Observer = (*Recorder)(nil)

func (r *Recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

// Verified implements payment.Observer.
func (r *Recorder) Verified(p string, s secretenv.Slot) { r.add("verified %s %s", p, s) }

// SignatureFailed implements payment.Observer.
func (r *Recorder) SignatureFailed(p string, why payment.Reason) { r.add("sigfail %s %s", p, why) }

// IPNRejected implements payment.Observer.
func (r *Recorder) IPNRejected(p string, why payment.Reason) { r.add("reject %s %s", p, why) }

// Events returns the recorded events and clears them.
func (r *Recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}
