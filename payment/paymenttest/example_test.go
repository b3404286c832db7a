package paymenttest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/goodgo/rotation/payment/paymenttest"
	"github.com/goodgo/rotation/payment/vnpay"
)

// A consumer's IPN handler test: VNPay's retry signed with the previous
// secret still confirms the order during the rotation window, a repeat is
// answered "already confirmed", and after the window the old secret is
// refused.
func Example() {
	t := &testing.T{} // in a real test: the test function's *testing.T
	vp := paymenttest.NewVNPay(t)
	client, _ := vnpay.New(vp.Config())
	h := client.IPNHandler(func(_ context.Context, n *vnpay.Notification) vnpay.IPNResponse {
		return vnpay.ConfirmSuccess // the consumer marks order n.TxnRef paid here
	})
	send := func(ref string, s paymenttest.Signer) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, vp.IPN(t, paymenttest.VNPayIPN{TxnRef: ref, Amount: 599000, Signer: s}))
		fmt.Println(ref, s, paymenttest.VNPayAnswer(t, rec).RspCode)
	}
	send("42", paymenttest.Previous)
	send("42", paymenttest.Previous)
	vp.Clock.Advance(paymenttest.Window)
	send("43", paymenttest.Previous)
	send("43", paymenttest.Current)
	// Output:
	// 42 previous 00
	// 42 previous 02
	// 43 previous 97
	// 43 current 00
}
