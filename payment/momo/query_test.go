package momo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

// momoAPI implements MoMo's POST /v2/gateway/api/query as documented
// (developers.momo.vn/v3/docs/payment/api/payment-api/query): the request
// is signed HMAC-SHA256(secretKey,
// "accessKey=…&orderId=…&partnerCode=…&requestId=…"); an unsigned request
// gets resultCode 20 like MoMo's "bad signature" answer.
type momoAPI struct {
	orders map[string]QueryResult
	down   atomic.Bool
	calls  atomic.Int32
}

func (a *momoAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	if a.down.Load() {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	var req QueryRequest
	if r.Method != http.MethodPost || r.URL.Path != "/v2/gateway/api/query" || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	m := hmac.New(sha256.New, []byte(sandboxSecret))
	m.Write([]byte("accessKey=" + sandboxAccess + "&orderId=" + req.OrderID + "&partnerCode=" + req.PartnerCode + "&requestId=" + req.RequestID))
	w.Header().Set("Content-Type", "application/json")
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(req.Signature)) {
		_ = json.NewEncoder(w).Encode(map[string]any{"partnerCode": req.PartnerCode, "requestId": req.RequestID, "orderId": req.OrderID, "resultCode": 20, "message": "Bad request: signature"})
		return
	}
	res, ok := a.orders[req.OrderID]
	if !ok {
		res = QueryResult{ResultCode: 42, Message: "Order not found"}
	}
	res.PartnerCode, res.RequestID, res.OrderID = req.PartnerCode, req.RequestID, req.OrderID
	_ = json.NewEncoder(w).Encode(res)
}

func TestAmbiguousIPNConfirmedThroughQuery(t *testing.T) {
	amb := typical()
	amb.OrderInfo = "Thanh toán&orderType=momo_wallet"
	api := &momoAPI{orders: map[string]QueryResult{amb.OrderID: {Amount: amb.Amount, TransID: amb.TransID, ResultCode: 0, PayType: "qr"},
		"ORD-3": {Amount: amb.Amount, TransID: amb.TransID + 3, ResultCode: 0}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	key := func(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }
	newClient := func(apiURL string, obs payment.Observer) *Client {
		c, err := New(Config{PartnerCode: amb.PartnerCode, AccessKey: payment.SecretSet{Current: key(sandboxAccess)}, SecretKey: payment.SecretSet{Current: key(sandboxSecret)},
			Idempotency: payment.NewMemoryStore(nil), APIURL: apiURL, HTTPClient: srv.Client(), Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var got []*Notification
	post := func(h http.Handler, n *Notification) int {
		r := httptest.NewRequest(http.MethodPost, "/ipn", strings.NewReader(string(signIPN(sandboxAccess, sandboxSecret, n))))
		r.Header.Set("Content-Type", "application/json")
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		return rr.Code
	}
	handler := func(c *Client) http.Handler {
		got = nil
		return c.IPNHandler(func(_ context.Context, n *Notification) error { got = append(got, n); return nil })
	}

	rec := &ambRecorder{}
	h := handler(newClient(srv.URL, rec))
	if code := post(h, amb); code != 204 || len(got) != 1 || got[0].Unconfirmed {
		t.Fatalf("confirmed: %d, %+v", code, got)
	}
	if code := post(h, amb); code != 204 || len(got) != 1 { // MoMo's retry
		t.Fatalf("retry of a confirmed IPN: %d, %d events", code, len(got))
	}
	other := *amb
	other.Amount = 99000 // signed, ambiguous, and MoMo says otherwise
	other.OrderInfo = "x&amount=1"
	if code := post(h, &other); code != 400 || len(got) != 1 {
		t.Fatalf("contradicted: %d, %d events", code, len(got))
	}
	api.down.Store(true)
	third := *amb
	third.OrderID, third.TransID, third.OrderInfo = "ORD-3", amb.TransID+3, "y&amount=2"
	if code := post(h, &third); code != 503 || len(got) != 1 {
		t.Fatalf("query API down: %d, %d events", code, len(got))
	}
	api.down.Store(false)
	if code := post(h, &third); code != 204 || len(got) != 2 || got[1].Unconfirmed {
		t.Fatalf("MoMo's retry once the API answers: %d, %+v", code, got)
	}
	if strings.Join(rec.amb, ",") != "momo/confirmed,momo/confirmed,momo/mismatch,momo/query_failed,momo/confirmed" {
		t.Fatalf("outcomes %v", rec.amb)
	}
	if strings.Join(rec.Events(), ",") != "verified momo current,verified momo current,reject momo already_processed,verified momo current,reject momo ambiguous_mismatch,verified momo current,reject momo ambiguous_query_failed,verified momo current" {
		t.Fatalf("observer %v", rec.Events())
	}

	// No API URL: handed on marked unconfirmed.
	rec = &ambRecorder{}
	h = handler(newClient("", rec))
	if code := post(h, amb); code != 204 || len(got) != 1 || !got[0].Unconfirmed {
		t.Fatalf("unconfirmed: %d, %+v", code, got)
	}
	if strings.Join(rec.amb, ",") != "momo/unconfirmed" {
		t.Fatalf("outcomes %v", rec.amb)
	}
}

func TestQuerySignsTheRequest(t *testing.T) {
	api := &momoAPI{orders: map[string]QueryResult{"ORD-9": {Amount: 5, TransID: 7}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	key := func(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }
	c, _ := New(Config{PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: key(sandboxAccess)}, SecretKey: payment.SecretSet{Current: key(sandboxSecret)},
		NoIdempotency: true, APIURL: srv.URL + "/"})
	q, err := c.Query(context.Background(), "ORD-9")
	if err != nil || q.Amount != 5 || q.TransID != 7 || q.ResultCode != 0 {
		t.Fatalf("Query = %+v, %v", q, err)
	}
	wrong, _ := New(Config{PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: key(sandboxAccess)}, SecretKey: payment.SecretSet{Current: key("WRONGsecretWRONGsecretWRONGsecre")},
		NoIdempotency: true, APIURL: srv.URL})
	if q, err := wrong.Query(context.Background(), "ORD-9"); err != nil || q.ResultCode != 20 {
		t.Fatalf("badly signed query: %+v, %v", q, err)
	}
	if _, err := c.Confirm(context.Background(), &Notification{OrderID: "ORD-9", Amount: 6, TransID: 7}); !errors.Is(err, payment.ErrAmbiguousMismatch) {
		t.Fatalf("Confirm of another amount: %v", err)
	}
	// A failed call is ErrAPI, as in vnpay and zalopay; no URL is ErrConfig.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) }))
	defer down.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"partnerCode":"OTHER","requestId":"x","orderId":"ORD-9","resultCode":0}`))
	}))
	defer other.Close()
	for name, u := range map[string]string{"HTTP 502": down.URL, "another request's answer": other.URL} {
		cc, _ := New(Config{PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: key(sandboxAccess)}, SecretKey: payment.SecretSet{Current: key(sandboxSecret)},
			NoIdempotency: true, APIURL: u})
		if _, err := cc.Query(context.Background(), "ORD-9"); !errors.Is(err, ErrAPI) {
			t.Errorf("%s: %v, want ErrAPI", name, err)
		}
	}
	none, _ := New(Config{PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: key(sandboxAccess)}, SecretKey: payment.SecretSet{Current: key(sandboxSecret)}, NoIdempotency: true})
	if _, err := none.Query(context.Background(), "ORD-9"); !errors.Is(err, ErrConfig) {
		t.Errorf("no Config.APIURL: %v, want ErrConfig", err)
	}
}

type ambRecorder struct {
	paymenttest.Recorder
	mu  sync.Mutex
	amb []string
}

func (r *ambRecorder) Ambiguous(p, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.amb = append(r.amb, p+"/"+outcome)
}
