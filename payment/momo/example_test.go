package momo_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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
