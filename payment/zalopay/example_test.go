package zalopay_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/goodgo/rotation/payment/zalopay"
	"github.com/goodgo/rotation/secretenv"
)

func Example() {
	// In production: zalopay.LoadConfig(secretenv.Env()). These are the
	// public sandbox keys of app 2553.
	cfg, err := zalopay.LoadConfig(secretenv.Map(map[string]string{
		"ZALOPAY_APP_ID": "2553",
		"ZALOPAY_KEY1":   "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL",
		"ZALOPAY_KEY2":   "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz",
	}))
	if err != nil {
		panic(err)
	}
	c, err := zalopay.New(cfg)
	if err != nil {
		panic(err)
	}
	o := zalopay.Order{AppTransID: "240101_123456", AppUser: "user123", Amount: 50000, AppTime: 1704067200000,
		EmbedData: `{"redirecturl":"https://example.vn/ré?a=1&b=~*"}`,
		Item:      `[{"itemid":"knb","itemname":"kim nguyên bảo","itemprice":198400,"itemquantity":1}]`}
	if err := c.SignOrder(&o); err != nil {
		panic(err)
	}
	fmt.Println(o.Mac) // POST o as JSON to zalopay.SandboxCreateURL

	h := c.CallbackHandler(func(ctx context.Context, cb *zalopay.Callback) error {
		// Match cb.Order.AppTransID and cb.Order.Amount, mark the order paid.
		return nil
	})
	rr := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/callback/zalopay", strings.NewReader(`{"data":"{}","mac":"00","type":1}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rr, r)
	fmt.Print(rr.Body.String())
	// Output:
	// 8c7331dc8eb45b5ef1fa0814245954ca859a3c0f32bd1c7fa5df6c838ecbc069
	// {"return_code":-1,"return_message":"mac not equal"}
}
