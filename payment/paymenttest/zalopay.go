package paymenttest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/zalopay"
)

// ZaloPay is a ZaloPay app mid-rotation of its key2 (which signs callbacks).
type ZaloPay struct {
	AppID int
	Key1  payment.SecretSet
	Keys  Keys // key2
	Clock *Clock
	Store *payment.MemoryStore
}

// NewZaloPay returns an app with generated keys.
func NewZaloPay(t testing.TB) *ZaloPay {
	t.Helper()
	clk := newClock()
	return &ZaloPay{AppID: 2553, Key1: payment.SecretSet{Current: randomSecret(t)}, Keys: newKeys(t), Clock: clk, Store: payment.NewMemoryStore(clk.Now)}
}

// Config is the configuration a service holds mid-rotation.
func (z *ZaloPay) Config() zalopay.Config {
	return zalopay.Config{AppID: z.AppID, Key1: z.Key1, Key2: z.Keys.Set(), Now: z.Clock.Now, Idempotency: z.Store}
}

// ZaloPayCallback describes an order callback; zero fields get defaults.
type ZaloPayCallback struct {
	AppTransID string // default zalopay.AppTransID(now, "1")
	Amount     int64
	ZPTransID  int64 // default derived from AppTransID
	AppUser    string
	Signer     Signer
}

// Callback returns the POST request ZaloPay sends to the callback URL for a
// paid order (type 1).
func (z *ZaloPay) Callback(t testing.TB, c ZaloPayCallback) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/callback/zalopay", bytes.NewReader(z.Body(t, c)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// Body returns the signed callback body.
func (z *ZaloPay) Body(t testing.TB, c ZaloPayCallback) []byte {
	t.Helper()
	now := z.Clock.Now()
	if c.AppTransID == "" {
		c.AppTransID = zalopay.AppTransID(now, "1")
	}
	if c.ZPTransID == 0 {
		c.ZPTransID = int64(fnv(c.AppTransID))%900000000 + 100000000
	}
	if c.AppUser == "" {
		c.AppUser = "user-1"
	}
	data, err := json.Marshal(zalopay.OrderData{
		AppID: z.AppID, AppTransID: c.AppTransID, AppTime: now.Add(-time.Minute).UnixMilli(), AppUser: c.AppUser,
		Amount: c.Amount, EmbedData: "{}", Item: "[]", ZPTransID: c.ZPTransID, ServerTime: now.UnixMilli(), Channel: 38,
	})
	if err != nil {
		t.Fatalf("paymenttest: zalopay: %v", err)
	}
	cl, err := zalopay.New(zalopay.Config{AppID: z.AppID, Key1: z.Key1, Key2: z.Keys.only(c.Signer), NoIdempotency: true})
	if err != nil {
		t.Fatalf("paymenttest: zalopay: %v", err)
	}
	body, err := cl.SignCallback(string(data), zalopay.TypeOrder)
	if err != nil {
		t.Fatalf("paymenttest: zalopay sign: %v", err)
	}
	return body
}

// ZaloPayAnswer decodes the handler's answer (compare it with
// zalopay.CallbackOK, CallbackAlreadyProcessed, CallbackInvalid …, which are
// whole CallbackResponse values).
func ZaloPayAnswer(t testing.TB, rec *httptest.ResponseRecorder) zalopay.CallbackResponse {
	t.Helper()
	var r zalopay.CallbackResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("paymenttest: ZaloPay answer is not JSON: %v: %q", err, rec.Body)
	}
	return r
}
