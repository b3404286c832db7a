package momo_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/secretenv"
)

func Example() {
	// In production: momo.LoadConfig(secretenv.Env()). These are MoMo's
	// public sandbox keys.
	cfg, err := momo.LoadConfig(secretenv.Map(map[string]string{
		"MOMO_PARTNER_CODE": "MOMO",
		"MOMO_ACCESS_KEY":   "F8BBA842ECF85",
		"MOMO_SECRET_KEY":   "K951B6PE1waDMi640xX08PD3vg6EkVlz",
	}))
	if err != nil {
		panic(err)
	}
	cfg.NoIdempotency = true // this client only signs requests; an IPN handler needs cfg.Idempotency
	c, err := momo.New(cfg)
	if err != nil {
		panic(err)
	}
	req := momo.CreateRequest{RequestID: "MOMO1700000000000", OrderID: "MOMO1700000000000", Amount: 50000,
		OrderInfo: "pay with MoMo", RedirectURL: "https://momo.vn/return", IPNURL: "https://callback.url/notify"}
	if err := c.SignCreate(&req); err != nil {
		panic(err)
	}
	fmt.Println(req.Signature) // POST req as JSON to momo.SandboxCreateURL

	h := c.IPNHandler(func(ctx context.Context, n *momo.Notification) error {
		// Match n.OrderID and n.Amount with the order, record n.Paid().
		return nil
	})
	rr := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/ipn/momo", strings.NewReader(`{"partnerCode":"MOMO","signature":"00"}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rr, r)
	fmt.Println(rr.Code)
	// Output:
	// 4378bb95714712f6be833da81f743910a01e5ba6279bfe596b8a08e891259424
	// 400
}

// A successful IPN during a secret-key rotation: MoMo signs with the new
// key, or, for a retry queued before the switch, with the old one until
// PreviousUntil; both are answered 204 (MoMo's "received"). A repeat of
// a processed IPN is answered 204 too, without the callback.
func ExampleClient_IPNHandler_rotation() {
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	key := func(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }
	c, _ := momo.New(momo.Config{Idempotency: payment.NewMemoryStore(nil), PartnerCode: "MOMO",
		AccessKey: payment.SecretSet{Current: key("F8BBA842ECF85")},
		SecretKey: payment.SecretSet{Current: key("NEWsecretNEWsecretNEWsecret01234"), Previous: key("K951B6PE1waDMi640xX08PD3vg6EkVlz"),
			PreviousUntil: momo.UntilAfterRotation(now.Add(-time.Hour))},
		Now: func() time.Time { return now },
	})
	h := c.IPNHandler(func(ctx context.Context, n *momo.Notification) error {
		fmt.Println(n.OrderID, n.Amount, "paid", n.Paid(), "verified with", n.Slot)
		return nil
	})
	old, _ := c.Previous() // plays MoMo's queued retry, signed with the old key
	for i, signer := range []*momo.Client{c, old, old} {
		order := fmt.Sprint("ORD-", min(i+1, 2))
		body, _ := signer.SignIPN(&momo.Notification{PartnerCode: "MOMO", OrderID: order, RequestID: "REQ-" + order, Amount: 150000,
			OrderInfo: "Thanh toan don hang " + order, OrderType: "momo_wallet", TransID: 4088878653 + int64(min(i, 1)), ResultCode: 0,
			Message: "Successful.", PayType: "qr", ResponseTime: 1721720663942})
		rr := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/ipn/momo", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rr, r)
		fmt.Println(rr.Code)
	}
	// Output:
	// ORD-1 150000 paid true verified with current
	// 204
	// ORD-2 150000 paid true verified with previous
	// 204
	// 204
}
