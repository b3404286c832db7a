package payment

import "errors"

// Ambiguous notifications. PayOS and MoMo sign "k1=v1&k2=v2…" strings, so a
// value that itself contains "&<key>=" (a payer's transfer memo such as
// "a&b=c", or a URL with a query) makes the signed string readable as
// another set of fields: a crafted memo can make one payment's signature
// fit another order's. ZaloPay signs its data string byte for byte, but
// data that repeats a key up to case ("amount" and "Amount") reads as two
// amounts to two JSON readers. Such a notification is never trusted as
// signed, and never dropped either: a handler given a query client
// confirms it through the provider's own query API before the application
// sees it; without one, it hands it to the application marked unconfirmed
// (the event's Unconfirmed field), and the application must check the
// order with the provider before delivering anything. (VNPay's signed
// string percent-encodes every value and Casso's and Standard Webhooks'
// are the body itself or its canonical JSON, so they cannot be read two
// ways; see each package.)

// ErrAmbiguous: the signature verified, but over content that reads as
// more than one set of fields (a value containing "&<key>=", a key
// repeated up to case); the fields are not authenticated.
var ErrAmbiguous = errors.New("payment: the signed content reads more than one way; the fields are not authenticated")

// ErrAmbiguousMismatch: the provider's query API contradicts an ambiguous
// notification: it reports another amount, order or transaction. Its
// Reason is ReasonAmbiguousMismatch and its outcome AmbiguousMismatch; a
// notification delivered without a query is marked Unconfirmed instead
// (outcome AmbiguousUnconfirmed), which this error never means.
var ErrAmbiguousMismatch = errors.New("payment: the provider's query API contradicts the notification")

// Reasons for ambiguous notifications.
const (
	// ReasonAmbiguousMismatch: the provider's query API contradicts an
	// ambiguous notification; it is refused.
	ReasonAmbiguousMismatch Reason = "ambiguous_mismatch"
	// ReasonAmbiguousQueryFailed: the query API could not be reached; the
	// notification is answered "retry later".
	ReasonAmbiguousQueryFailed Reason = "ambiguous_query_failed"
)

// Outcomes of an ambiguous notification, as AmbiguityObserver reports
// them.
const (
	AmbiguousConfirmed   = "confirmed"    // the query API confirmed it; delivered
	AmbiguousUnconfirmed = "unconfirmed"  // no query client; delivered marked unconfirmed
	AmbiguousMismatch    = "mismatch"     // the query API contradicts it; refused
	AmbiguousQueryFailed = "query_failed" // the query API failed; answered retry later
)

// AmbiguityObserver is an Observer that also counts ambiguous
// notifications. Handlers report to it when their Observer implements it
// (paymentprom's does: payment_ambiguous_total{provider,outcome}).
type AmbiguityObserver interface {
	Observer
	Ambiguous(provider, outcome string)
}

// ReportAmbiguous tells o about an ambiguous notification if it listens.
func ReportAmbiguous(o Observer, provider, outcome string) {
	if a, ok := o.(AmbiguityObserver); ok {
		a.Ambiguous(provider, outcome)
	}
}
