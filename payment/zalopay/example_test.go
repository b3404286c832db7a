package zalopay_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
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
	cfg.NoIdempotency = true // this client only signs requests; a callback handler needs cfg.Idempotency
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

// A successful callback during a key2 rotation: ZaloPay signs with the new
// key2, or, for a retry queued before the switch, with the old one until
// PreviousUntil; both are answered return_code 1. A repeat of a processed
// callback is answered return_code 2 without the callback.
func ExampleClient_CallbackHandler_rotation() {
	now := time.UnixMilli(1704067260000)
	key := func(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }
	const oldKey2, newKey2 = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz", "NEWkey2NEWkey2NEWkey2NEWkey2NEWk"
	c, _ := zalopay.New(zalopay.Config{Idempotency: payment.NewMemoryStore(nil), AppID: 2553,
		Key1: payment.SecretSet{Current: key("PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL")},
		Key2: payment.SecretSet{Current: key(newKey2), Previous: key(oldKey2), PreviousUntil: zalopay.UntilAfterRotation(now.Add(-time.Hour))},
		Now:  func() time.Time { return now },
	})
	h := c.CallbackHandler(func(ctx context.Context, cb *zalopay.Callback) error {
		fmt.Println(cb.Order.AppTransID, cb.Order.Amount, "verified with", cb.Slot)
		return nil
	})
	data := `{"app_id":2553,"app_trans_id":"240101_123456","app_time":1704067200000,"app_user":"user123","amount":50000,` +
		`"embed_data":"{}","item":"[]","zp_trans_id":240101000000175,"server_time":1704067250000,"channel":38,` +
		`"merchant_user_id":"","user_fee_amount":0,"discount_amount":0}`
	for i, k2 := range []string{newKey2, oldKey2, oldKey2} {
		if i == 1 { // another order, paid before the switch
			data = strings.NewReplacer("240101_123456", "240101_123457", "240101000000175", "240101000000176").Replace(data)
		}
		m := hmac.New(sha256.New, []byte(k2))
		m.Write([]byte(data))
		d, _ := json.Marshal(data)
		body := fmt.Sprintf(`{"data":%s,"mac":"%s","type":1}`, d, hex.EncodeToString(m.Sum(nil)))
		rr := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/callback/zalopay", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rr, r)
		fmt.Print(rr.Body.String())
	}
	// Output:
	// 240101_123456 50000 verified with current
	// {"return_code":1,"return_message":"success"}
	// 240101_123457 50000 verified with previous
	// {"return_code":1,"return_message":"success"}
	// {"return_code":2,"return_message":"already processed"}
}
