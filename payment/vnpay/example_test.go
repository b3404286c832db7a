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
	c, _ := vnpay.New(vnpay.Config{TmnCode: "DEMOV210", HashSecret: mustSet("DEMOSECRETKEY0123456789ABCDEFGHI")})
	h := c.IPNHandler(func(ctx context.Context, n *vnpay.Notification) vnpay.IPNResponse {
		// Look the order up by n.TxnRef; compare n.Amount; record n.Paid().
		return vnpay.ConfirmSuccess
	})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/ipn/vnpay?vnp_Amount=100&vnp_SecureHash=00", nil))
	fmt.Print(rr.Code, " ", rr.Body.String())
	// Output: 200 {"RspCode":"97","Message":"Invalid signature"}
}

func mustSet(secret string) (s payment.SecretSet) {
	s.Current = fingerprint.NewSecret([]byte(secret))
	return s
}
