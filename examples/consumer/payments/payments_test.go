package payments_test

import (
	"net/http/httptest"
	"testing"

	"example.com/consumer/payments"

	"github.com/goodgo/rotation/payment/paymenttest"
	"github.com/goodgo/rotation/payment/vnpay"
)

func TestIPNDuringRotation(t *testing.T) {
	vp := paymenttest.NewVNPay(t)
	client, err := vnpay.New(vp.Config())
	if err != nil {
		t.Fatal(err)
	}
	orders := payments.NewOrders(map[string]int64{"42": 599000, "43": 100000})
	h := client.IPNHandler(orders.Confirm)
	send := func(n paymenttest.VNPayIPN) vnpay.IPNResponse {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, vp.IPN(t, n))
		return paymenttest.VNPayAnswer(t, rec)
	}
	for i, c := range []struct {
		n    paymenttest.VNPayIPN
		want vnpay.IPNResponse
	}{
		{paymenttest.VNPayIPN{TxnRef: "42", Amount: 599000, Signer: paymenttest.Previous}, vnpay.ConfirmSuccess},
		{paymenttest.VNPayIPN{TxnRef: "42", Amount: 599000, Signer: paymenttest.Current}, vnpay.OrderAlreadyConfirmed},
		{paymenttest.VNPayIPN{TxnRef: "43", Amount: 1, Signer: paymenttest.Current}, vnpay.InvalidAmount},
		{paymenttest.VNPayIPN{TxnRef: "44", Amount: 1, Signer: paymenttest.Current}, vnpay.OrderNotFound},
		{paymenttest.VNPayIPN{TxnRef: "43", Amount: 100000, Signer: paymenttest.Unknown}, vnpay.InvalidSignature},
	} {
		if got := send(c.n); got != c.want {
			t.Errorf("%d: %+v, want %+v", i, got, c.want)
		}
	}
	if orders.Paid("42") != 1 || orders.Paid("43") != 0 {
		t.Errorf("paid: 42×%d 43×%d", orders.Paid("42"), orders.Paid("43"))
	}
}
