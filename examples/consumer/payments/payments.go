// Package payments is the consumer's payment callback: VNPay's IPN marks an
// order paid once, whatever VNPay retries.
package payments

import (
	"context"
	"sync"

	"github.com/goodgo/rotation/payment/vnpay"
)

// Orders is the consumer's order book (a database in a real service).
type Orders struct {
	mu     sync.Mutex
	amount map[string]int64 // expected amount by order reference
	paid   map[string]int   // times each order was marked paid
}

// NewOrders returns an order book with the given orders awaiting payment.
func NewOrders(amounts map[string]int64) *Orders {
	return &Orders{amount: amounts, paid: map[string]int{}}
}

// Paid returns how many times ref was marked paid.
func (o *Orders) Paid(ref string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.paid[ref]
}

// Confirm is the IPN callback: it checks the order and its amount and marks
// it paid.
func (o *Orders) Confirm(_ context.Context, n *vnpay.Notification) vnpay.IPNResponse {
	o.mu.Lock()
	defer o.mu.Unlock()
	want, ok := o.amount[n.TxnRef]
	switch {
	case !ok:
		return vnpay.OrderNotFound
	case n.Amount != want:
		return vnpay.InvalidAmount
	case !n.Paid():
		return vnpay.ConfirmSuccess // a failed payment: acknowledged, order stays open
	}
	o.paid[n.TxnRef]++
	return vnpay.ConfirmSuccess
}
