// Package paymentprom exports the payment observer calls as Prometheus
// metrics, with the runbook's names:
//
//	payment_signature_failure_total{provider}            signatures refused
//	payment_ipn_reject_total{provider}                   IPNs/callbacks answered with a refusal
//	payment_signature_verified_total{provider,slot}      signatures accepted, by key slot
//	payment_signature_failure_reason_total{provider,reason}
//	payment_ipn_reject_reason_total{provider,reason}
//
// payment_signature_verified_total{slot="previous"} falling to zero tells
// when the previous secret can be dropped; a rise of
// payment_signature_failure_reason_total{reason="retired_key"} after a
// rotation tells the window closed too early.
//
//	obs, err := paymentprom.New(prometheus.DefaultRegisterer)
//	c, err := vnpay.New(vnpay.Config{..., Observer: obs})
package paymentprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// Observer is a payment.Observer that counts in Prometheus. It is safe for
// concurrent use.
type Observer struct {
	sigFail, ipnReject        *prometheus.CounterVec
	verified                  *prometheus.CounterVec
	sigFailReason, ipnWhyFail *prometheus.CounterVec
	ambiguous                 *prometheus.CounterVec
}

var _ payment.AmbiguityObserver = (*Observer)(nil)

// New creates the counters and registers them with reg. When one cannot be
// registered (a name already taken), none stays registered, so the caller
// can fix the conflict and call New again.
func New(reg prometheus.Registerer) (*Observer, error) {
	o := &Observer{
		sigFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_signature_failure_total",
			Help: "Payment provider signatures (IPN, return URL, API response, webhook) that failed verification.",
		}, []string{"provider"}),
		ipnReject: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_ipn_reject_total",
			Help: "IPNs and callbacks answered with a refusal.",
		}, []string{"provider"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_signature_verified_total",
			Help: "Payment provider signatures accepted, by the secret slot (current or previous) that verified them.",
		}, []string{"provider", "slot"}),
		sigFailReason: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_signature_failure_reason_total",
			Help: "Payment signature failures by reason (bad_signature, retired_key, malformed, ...).",
		}, []string{"provider", "reason"}),
		ipnWhyFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_ipn_reject_reason_total",
			Help: "IPN and callback refusals by reason (bad_signature, method, content_type, body_too_large, ...).",
		}, []string{"provider", "reason"}),
		ambiguous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_ambiguous_total",
			Help: "Validly signed but ambiguous notifications (a value containing \"&<key>=\"), by outcome: confirmed, unconfirmed, mismatch, query_failed.",
		}, []string{"provider", "outcome"}),
	}
	cs := []prometheus.Collector{o.sigFail, o.ipnReject, o.verified, o.sigFailReason, o.ipnWhyFail, o.ambiguous}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return o, nil
}

// Verified implements payment.Observer.
func (o *Observer) Verified(provider string, slot secretenv.Slot) {
	o.verified.WithLabelValues(provider, string(slot)).Inc()
}

// SignatureFailed implements payment.Observer.
func (o *Observer) SignatureFailed(provider string, reason payment.Reason) {
	o.sigFail.WithLabelValues(provider).Inc()
	o.sigFailReason.WithLabelValues(provider, string(reason)).Inc()
}

// IPNRejected implements payment.Observer.
func (o *Observer) IPNRejected(provider string, reason payment.Reason) {
	o.ipnReject.WithLabelValues(provider).Inc()
	o.ipnWhyFail.WithLabelValues(provider, string(reason)).Inc()
}

// Ambiguous implements payment.AmbiguityObserver.
func (o *Observer) Ambiguous(provider, outcome string) {
	o.ambiguous.WithLabelValues(provider, outcome).Inc()
}
