package zalopay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

// queryAPI implements ZaloPay's /v2/query as documented (docs.zalopay.vn
// v2, "Truy vấn trạng thái đơn hàng"): a form with app_id, app_trans_id and
// mac = HMAC-SHA256(key1, app_id|app_trans_id|key1); a bad mac is answered
// return_code 2 with sub_return_code -402.
func queryAPI(key1 string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		m := hmac.New(sha256.New, []byte(key1))
		m.Write([]byte(r.PostForm.Get("app_id") + "|" + r.PostForm.Get("app_trans_id") + "|" + key1))
		w.Header().Set("Content-Type", "application/json")
		if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.PostForm.Get("mac"))) {
			fmt.Fprint(w, `{"return_code":2,"return_message":"Giao dịch thất bại","sub_return_code":-402,"sub_return_message":"Xác thực thất bại","is_processing":false,"amount":0,"zp_trans_id":0}`)
			return
		}
		fmt.Fprint(w, `{"return_code":1,"return_message":"Giao dịch thành công","sub_return_code":1,"sub_return_message":"","is_processing":false,"amount":50000,"zp_trans_id":240101000000175,"server_time":1704067250000,"discount_amount":0}`)
	})
}

func TestQuery(t *testing.T) {
	c := sandboxClient(t, nil)
	srv := httptest.NewServer(queryAPI(sandboxKey1))
	defer srv.Close()
	got, err := withQueryURL(c, srv.URL, srv.Client()).Query(context.Background(), "240101_123456")
	if err != nil || got.ReturnCode != 1 || got.Amount != 50000 || got.ZPTransID != 240101000000175 {
		t.Fatalf("Query = %+v, %v", got, err)
	}
	other := httptest.NewServer(queryAPI("SOMEOTHERKEY1SOMEOTHERKEY1SOMEOT"))
	defer other.Close()
	if got, err := withQueryURL(c, other.URL, nil).Query(context.Background(), "240101_123456"); err != nil || got.ReturnCode != 2 || got.SubReturnCode != -402 {
		t.Fatalf("request signed with another key1: %+v, %v", got, err)
	}
	dup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"return_code":1,"amount":1,"Amount":50000}`)
	}))
	defer dup.Close()
	if _, err := withQueryURL(c, dup.URL, nil).Query(context.Background(), "x"); !errors.Is(err, ErrAPI) {
		t.Fatalf("duplicate keys: %v", err)
	}
	// The URL is the Config's: a Client built without one refuses the call.
	if _, err := c.Query(context.Background(), "x"); !errors.Is(err, ErrConfig) {
		t.Fatalf("no Config.QueryURL: %v", err)
	}
}

// withQueryURL is c with Config.QueryURL and Config.HTTPClient set to url
// and hc.
func withQueryURL(c *Client, url string, hc *http.Client) *Client {
	cc := *c
	cc.queryURL, cc.hc = url, hc
	return &cc
}

// orderAPI is queryAPI with per-order answers: paid, failed (return_code
// 2), processing (3), or the service down (HTTP 503).
type orderAPI struct {
	key1   string
	mu     sync.Mutex
	orders map[string]string // app_trans_id → the JSON answer
	down   bool
	asked  []string
}

func (a *orderAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	a.asked = append(a.asked, r.PostForm.Get("app_trans_id"))
	if a.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	m := hmac.New(sha256.New, []byte(a.key1))
	m.Write([]byte(r.PostForm.Get("app_id") + "|" + r.PostForm.Get("app_trans_id") + "|" + a.key1))
	w.Header().Set("Content-Type", "application/json")
	ans, ok := a.orders[r.PostForm.Get("app_trans_id")]
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.PostForm.Get("mac"))) || !ok {
		ans = `{"return_code":2,"return_message":"Giao dịch thất bại","sub_return_code":-402,"is_processing":false,"amount":0,"zp_trans_id":0}`
	}
	fmt.Fprint(w, ans)
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

// A validly signed order callback whose data repeats a key up to case
// ("Amount" and "amount": encoding/json reads the last, others the first)
// is confirmed through ZaloPay's query API before the application sees
// it, with the amount and transaction as the API reports them; refused
// when the API says the order failed; answered "retry" while it is
// processing or the API is down; handed over marked unconfirmed without a
// query URL. Each outcome is counted.
func TestAmbiguousCallbackConfirmedThroughQuery(t *testing.T) {
	api := &orderAPI{key1: sandboxKey1, orders: map[string]string{
		"261127_42": `{"return_code":1,"return_message":"Giao dịch thành công","sub_return_code":1,"is_processing":false,"amount":150000,"zp_trans_id":261127000000042,"server_time":1795000100000,"discount_amount":0}`,
		"261127_43": `{"return_code":2,"return_message":"Giao dịch thất bại","sub_return_code":-54,"is_processing":false,"amount":0,"zp_trans_id":0}`,
		"261127_44": `{"return_code":3,"return_message":"Giao dịch chưa thanh toán","sub_return_code":1,"is_processing":true,"amount":0,"zp_trans_id":0}`,
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	newClient := func(queryURL string, obs payment.Observer) *Client {
		c, err := New(Config{AppID: 2553, Key1: set(sandboxKey1), Key2: set(sandboxKey2), Observer: obs, Now: func() time.Time { return t0 },
			Idempotency: payment.NewMemoryStore(nil), QueryURL: queryURL, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ambiguous := func(appTransID string) []byte {
		d := typical()
		d.AppTransID = appTransID
		data, _ := json.Marshal(d)
		dup := strings.Replace(string(data), `"amount":`, `"Amount":1,"amount":`, 1)
		m := hmac.New(sha256.New, []byte(sandboxKey2))
		m.Write([]byte(dup))
		b, _ := json.Marshal(map[string]any{"data": dup, "mac": hex.EncodeToString(m.Sum(nil)), "type": 1})
		return b
	}
	var got []*Callback
	post := func(h http.Handler, body []byte) CallbackResponse {
		r := httptest.NewRequest(http.MethodPost, "/cb", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		var resp CallbackResponse
		if err := json.Unmarshal(rr.Body.Bytes(), &resp); err != nil || rr.Code != http.StatusOK {
			t.Fatalf("answer %d %q", rr.Code, rr.Body)
		}
		return resp
	}
	handler := func(c *Client) http.Handler {
		got = nil
		return c.CallbackHandler(func(_ context.Context, cb *Callback) error { got = append(got, cb); return nil })
	}

	rec := &ambRecorder{}
	h := handler(newClient(srv.URL, rec))
	want := OrderData{AppID: 2553, AppTransID: "261127_42", Amount: 150000, ZPTransID: 261127000000042, ServerTime: 1795000100000}
	if resp := post(h, ambiguous("261127_42")); resp != CallbackOK || len(got) != 1 || got[0].Unconfirmed || got[0].Order != want {
		t.Fatalf("confirmed: %+v, %+v", resp, got)
	}
	if resp := post(h, callbackBody(sandboxKey2, typical())); resp != CallbackAlreadyProcessed || len(got) != 1 {
		t.Fatalf("the same payment, now unambiguous: %+v, %d callbacks", resp, len(got))
	}
	if resp := post(h, ambiguous("261127_43")); resp.ReturnCode != -1 || len(got) != 1 {
		t.Fatalf("failed per the API: %+v, %d callbacks", resp, len(got))
	}
	if resp := post(h, ambiguous("261127_44")); resp.ReturnCode != 0 || len(got) != 1 {
		t.Fatalf("processing per the API: %+v, %d callbacks", resp, len(got))
	}
	api.mu.Lock()
	api.down = true
	api.mu.Unlock()
	if resp := post(h, ambiguous("261127_42")); resp.ReturnCode != 0 || len(got) != 1 {
		t.Fatalf("API down: %+v, %d callbacks", resp, len(got))
	}
	if strings.Join(rec.amb, ",") != "zalopay/confirmed,zalopay/mismatch,zalopay/query_failed,zalopay/query_failed" {
		t.Fatalf("outcomes %v", rec.amb)
	}
	if strings.Join(rec.Events(), ",") != "verified zalopay current,verified zalopay current,reject zalopay already_processed,"+
		"verified zalopay current,reject zalopay ambiguous_mismatch,verified zalopay current,reject zalopay ambiguous_query_failed,"+
		"verified zalopay current,reject zalopay ambiguous_query_failed" {
		t.Fatalf("observer %v", rec.Events())
	}
	if strings.Join(api.asked, ",") != "261127_42,261127_43,261127_44,261127_42" {
		t.Fatalf("queried %v", api.asked)
	}

	// No query URL: handed over marked unconfirmed, once; so is data no
	// reading can take an app_trans_id from, with or without one.
	rec = &ambRecorder{}
	h = handler(newClient("", rec))
	if resp := post(h, ambiguous("261127_42")); resp != CallbackOK || len(got) != 1 || !got[0].Unconfirmed || got[0].Order.Amount != 0 {
		t.Fatalf("unconfirmed: %+v, %+v", resp, got)
	}
	if resp := post(h, ambiguous("261127_42")); resp != CallbackAlreadyProcessed || len(got) != 1 {
		t.Fatalf("unconfirmed, retried: %+v, %d callbacks", resp, len(got))
	}
	twoIDs := strings.Replace(string(ambiguous("261127_45")), `\"app_trans_id\":`, `\"APP_TRANS_ID\":\"261127_46\",\"app_trans_id\":`, 1)
	m := hmac.New(sha256.New, []byte(sandboxKey2))
	var env struct{ Data string }
	_ = json.Unmarshal([]byte(twoIDs), &env)
	m.Write([]byte(env.Data))
	twoIDsBody, _ := json.Marshal(map[string]any{"data": env.Data, "mac": hex.EncodeToString(m.Sum(nil)), "type": 1})
	h = handler(newClient(srv.URL, rec))
	if resp := post(h, twoIDsBody); resp != CallbackOK || len(got) != 1 || !got[0].Unconfirmed || got[0].Order.AppTransID != "" {
		t.Fatalf("two app_trans_id readings: %+v, %+v", resp, got)
	}
	if strings.Join(rec.amb, ",") != "zalopay/unconfirmed,zalopay/unconfirmed,zalopay/unconfirmed" {
		t.Fatalf("outcomes %v", rec.amb)
	}
}
