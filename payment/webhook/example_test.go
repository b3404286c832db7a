package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/secretenv"
)

// A rotation of BANK_TRANSFER_WEBHOOK_SECRET: the sender already has the
// new secret as current and the old one as previous, so it signs with
// both; a receiver not yet upgraded (old secret only) and an upgraded one
// both accept the message.
func Example_rotation() {
	oldSecret := "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQtb2xkLXNlY3JldC1vbGQt"
	newSecret := "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3LXNlY3JldC1uZXct"
	env := secretenv.Map(map[string]string{
		"BANK_TRANSFER_WEBHOOK_SECRET":                newSecret,
		"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS":       oldSecret,
		"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL": time.Now().Add(24 * time.Hour).Format(time.RFC3339),
	})
	set, err := webhook.LoadSecrets(env)
	if err != nil {
		fmt.Println(err)
		return
	}
	sender, _ := webhook.NewSigner(set)
	body := []byte(`{"type":"transfer.received","data":{"amount":599000}}`)
	req := httptest.NewRequest("POST", "/webhooks/bank", bytes.NewReader(body))
	if err := sender.SignRequest(req, "msg_2Kd8Lq0x", body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signatures:", strings.Count(req.Header.Get("webhook-signature"), "v1,"))

	oldReceiver, _ := webhook.NewVerifier(payment.SecretSet{Current: fingerprint.NewSecret([]byte(oldSecret))}, webhook.WithoutIdempotency())
	newReceiver, _ := webhook.NewVerifier(set, webhook.WithoutIdempotency())
	for _, v := range []*webhook.Verifier{oldReceiver, newReceiver} {
		m, err := v.Verify(context.Background(), req.Header, body)
		fmt.Println(m.ID, m.Slot, err)
	}
	// Output:
	// signatures: 2
	// msg_2Kd8Lq0x current <nil>
	// msg_2Kd8Lq0x current <nil>
}

func ExampleVerifier_Handler() {
	secret := fingerprint.NewSecret([]byte("bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3LXNlY3JldC1uZXct"))
	// In production a shared store: idemredis.New(rdb, "webhook:") or idempg.New(pool).
	v, _ := webhook.NewVerifier(payment.SecretSet{Current: secret}, webhook.WithIdempotencyStore(payment.NewMemoryStore(nil)))
	h := v.Handler(func(ctx context.Context, m webhook.Message) error {
		fmt.Printf("credit from %s: %s\n", m.ID, m.Body)
		return nil // an error answers 500 and the sender retries
	})

	s, _ := webhook.NewSigner(payment.SecretSet{Current: secret})
	body := []byte(`{"amount":599000}`)
	req := httptest.NewRequest("POST", "/webhooks/bank", bytes.NewReader(body))
	_ = s.SignRequest(req, "msg_1", body)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code)

	// The sender retries (its answer was lost): not processed twice.
	req = httptest.NewRequest("POST", "/webhooks/bank", bytes.NewReader(body))
	_ = s.SignRequest(req, "msg_1", body)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/webhooks/bank", nil))
	fmt.Println(w.Code, w.Header().Get("Allow"))
	// Output:
	// credit from msg_1: {"amount":599000}
	// 200
	// 200 {"success":true,"duplicate":true}
	// 405 POST
}

func ExampleCasso_Handler() {
	key := []byte("casso-key-0123456789abcdef0123456789abcdef")
	c, _ := webhook.NewCasso(payment.SecretSet{Current: fingerprint.NewSecret(key)}, webhook.WithIdempotencyStore(payment.NewMemoryStore(nil)))
	h := c.Handler(func(ctx context.Context, ev webhook.CassoEvent) error {
		fmt.Println(ev.Data.Amount, ev.Data.Description, ev.Slot)
		return nil
	})
	body := `{"error":0,"data":{"id":1,"amount":599000,"description":"Thanh toán đơn 42 & quà"}}`
	sig, _ := webhook.CassoSignature(key, time.Now(), []byte(body)) // what Casso sends
	req := httptest.NewRequest("POST", "/webhooks/casso", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderCassoSignature, sig)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output:
	// 599000 Thanh toán đơn 42 & quà current
	// 200 {"success":true}
}

func ExamplePayOS_Verify() {
	// PayOS's published sample (payos.vn docs, "Kiểm tra dữ liệu với signature").
	key := "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
	p, _ := webhook.NewPayOS(payment.SecretSet{Current: fingerprint.NewSecret([]byte(key))}, webhook.WithoutIdempotency())
	body := `{"code":"00","desc":"success","success":true,"data":{"orderCode":123,"amount":3000,"description":"VQRIO123","accountNumber":"12345678","reference":"TF230204212323","transactionDateTime":"2023-02-04 18:25:00","currency":"VND","paymentLinkId":"124c33293c43417ab7879e14c8d9eb18","code":"00","desc":"Thành công","counterAccountBankId":"","counterAccountBankName":"","counterAccountName":"","counterAccountNumber":"","virtualAccountName":"","virtualAccountNumber":""},"signature":"412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"}`
	ev, err := p.Verify([]byte(body))
	fmt.Println(ev.OrderCode, ev.Amount, ev.Desc, err)
	_, err = p.Verify([]byte(strings.Replace(body, `"amount":3000`, `"amount":30000`, 1)))
	fmt.Println(err)
	// Output:
	// 123 3000 Thành công <nil>
	// payment: signature does not match
}
