package vnpay_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/secretenv"
)

func Example() {
	// In production: vnpay.LoadConfig(secretenv.Env()).
	cfg, err := vnpay.LoadConfig(secretenv.Map(map[string]string{
		"VNPAY_TMN_CODE":    "DEMOV210",
		"VNPAY_HASH_SECRET": "DEMOSECRETKEY0123456789ABCDEFGHI",
	}))
	if err != nil {
		panic(err)
	}
	cfg.Now = func() time.Time { return time.Date(2021, 8, 1, 8, 33, 33, 0, time.UTC) }
	cfg.NoIdempotency = true // this client only signs URLs; an IPN handler needs cfg.Idempotency
	c, err := vnpay.New(cfg)
	if err != nil {
		panic(err)
	}
	u, _ := c.PaymentURL(vnpay.SandboxURL, vnpay.PaymentRequest{
		Amount: 18060, TxnRef: "5", OrderInfo: "Thanh toan don hang :5",
		ReturnURL: "https://domainmerchant.vn/ReturnUrl", IPAddr: "127.0.0.1",
	})
	fmt.Println(u[strings.Index(u, "vnp_SecureHash="):][:30] + "...")
	// Output: vnp_SecureHash=b2ead0860b72d2b...
}

func ExampleClient_IPNHandler() {
	c, _ := vnpay.New(vnpay.Config{Idempotency: payment.NewMemoryStore(nil), TmnCode: "DEMOV210", HashSecret: mustSet("DEMOSECRETKEY0123456789ABCDEFGHI")})
	h := c.IPNHandler(func(ctx context.Context, n *vnpay.Notification) vnpay.IPNResponse {
		// Look the order up by n.TxnRef; compare n.Amount; record n.Paid().
		return vnpay.ConfirmSuccess
	})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/ipn/vnpay?vnp_Amount=100&vnp_SecureHash=00", nil))
	fmt.Print(rr.Code, " ", rr.Body.String())
	// Output: 200 {"RspCode":"97","Message":"Invalid signature"}
}

// A successful IPN during a rotation: VNPay signs with the current secret,
// or, for a retry queued before the switch, with the previous one until
// PreviousUntil; both are confirmed and the slot says which verified. A
// repeat of a processed IPN is answered RspCode 02 without the callback.
func ExampleClient_IPNHandler_rotation() {
	now := time.Date(2021, 8, 1, 8, 35, 0, 0, time.UTC)
	set := payment.SecretSet{
		Current:       fingerprint.NewSecret([]byte("NEWSECRETKEY0123456789ABCDEFGHIJ")),
		Previous:      fingerprint.NewSecret([]byte("DEMOSECRETKEY0123456789ABCDEFGHI")),
		PreviousUntil: vnpay.UntilAfterRotation(now.Add(-time.Hour)),
	}
	c, _ := vnpay.New(vnpay.Config{Idempotency: payment.NewMemoryStore(nil), TmnCode: "DEMOV210", HashSecret: set, Now: func() time.Time { return now }})
	h := c.IPNHandler(func(ctx context.Context, n *vnpay.Notification) vnpay.IPNResponse {
		fmt.Println("order", n.TxnRef, "paid", n.Paid(), "verified with", n.Slot)
		return vnpay.ConfirmSuccess
	})
	ipn := map[string]string{
		"vnp_Amount": "1806000", "vnp_BankCode": "NCB", "vnp_OrderInfo": "Thanh toan don hang :5",
		"vnp_PayDate": "20210801153500", "vnp_ResponseCode": "00", "vnp_TmnCode": "DEMOV210",
		"vnp_TransactionNo": "14422574", "vnp_TransactionStatus": "00", "vnp_TxnRef": "5",
	}
	old, _ := c.Previous() // a client signing with the previous secret plays VNPay's queued retry
	for _, step := range []struct {
		signer      *vnpay.Client
		txnRef, txn string
	}{{c, "5", "14422574"}, {old, "6", "14422575"}, {old, "6", "14422575"}} {
		ipn["vnp_TxnRef"], ipn["vnp_TransactionNo"] = step.txnRef, step.txn
		q, _ := step.signer.SignParams(ipn)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/ipn/vnpay?"+q, nil))
		fmt.Print(rr.Body.String())
	}
	// Output:
	// order 5 paid true verified with current
	// {"RspCode":"00","Message":"Confirm Success"}
	// order 6 paid true verified with previous
	// {"RspCode":"00","Message":"Confirm Success"}
	// {"RspCode":"02","Message":"Order already confirmed"}
}

func mustSet(secret string) (s payment.SecretSet) {
	s.Current = fingerprint.NewSecret([]byte(secret))
	return s
}
