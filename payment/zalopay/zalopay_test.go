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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
	"github.com/goodgo/rotation/secretenv"
)

// Sandbox app 2553 (public samples, e.g. zalopay-samples quickstart; key2
// proven by the published callback below).
const (
	sandboxKey1 = "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL"
	sandboxKey2 = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"
)

// Published vector: the callback "Data sample" of ZaloPay's callback spec,
// https://docs.zalopay.vn/docs/specs/callback-api (same on
// beta-docs.zalopay.vn), app 2553. Its MAC verifies with key2 over the data
// string as received, and not with key1.
const publishedCallback = `{"data":"{\"app_id\":2553,\"app_trans_id\":\"200904_2553_1598435687208\",\"app_time\":1599189392817,\"app_user\":\"demo\",\"amount\":10000,\"embed_data\":\"{\\\"merchantinfo\\\":\\\"embeddata123\\\",\\\"promotioninfo\\\":\\\"\\\"}\",\"item\":\"[{\\\"itemid\\\":\\\"knb\\\",\\\"itemname\\\":\\\"kim nguyen bao\\\",\\\"itemprice\\\":198400,\\\"itemquantity\\\":1}]\",\"zp_trans_id\":200904000000389,\"server_time\":1599189413498,\"channel\":38,\"merchant_user_id\":\"7ZMSl3nEg5sOUJzOLSoUFT8xKNQVaLOLXHB--8Eytqc\",\"user_fee_amount\":0,\"discount_amount\":0}","mac":"d8d33baf449b31d7f9b94fa50d7c942c08cd4d83f28fa185557da21acb104f67","type":1}`

// Derived vectors: payment/testdata/crosscheck.js (node crypto), sandbox
// app 2553 keys, run once and pinned.
const (
	vecOrder       = "8c7331dc8eb45b5ef1fa0814245954ca859a3c0f32bd1c7fa5df6c838ecbc069"
	vecQuery       = "1f398e7ecd7cc19e0c1baa0f82a47e11cb1042544f9d90dd55bbb0aa2522c2d0"
	vecRefund      = "7bd76c9f80b5e5aa02edd3c58567cb7597fb9d78b72834a7528ae08a73d60096"
	vecQueryRefund = "4fc5b13c1562346ac8a93146163186480a88962907a8ed808109f22ecdb4a1a7"
	vecRedirect    = "8ffa73c99a43f76b29f99bee238c412bf4b587b3748e242298e5c71504359f0e"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func set(k string) payment.SecretSet {
	return payment.SecretSet{Current: fingerprint.NewSecret([]byte(k))}
}

func sandboxClient(t testing.TB, obs payment.Observer) *Client {
	t.Helper()
	c, err := New(Config{NoIdempotency: true, AppID: 2553, Key1: set(sandboxKey1), Key2: set(sandboxKey2), Observer: obs, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublishedCallback(t *testing.T) {
	c := sandboxClient(t, nil)
	cb, err := c.VerifyCallback([]byte(publishedCallback))
	if err != nil {
		t.Fatal(err)
	}
	o := cb.Order
	if cb.Type != TypeOrder || o.AppTransID != "200904_2553_1598435687208" || o.Amount != 10000 || o.ZPTransID != 200904000000389 ||
		o.EmbedData != `{"merchantinfo":"embeddata123","promotioninfo":""}` || o.Channel != 38 || cb.Slot != secretenv.SlotCurrent {
		t.Errorf("callback = %+v", cb)
	}
	// key1 in key2's place does not verify it (notes §5.9).
	wrong, _ := New(Config{NoIdempotency: true, AppID: 2553, Key1: set(sandboxKey2), Key2: set(sandboxKey1)})
	if _, err := wrong.VerifyCallback([]byte(publishedCallback)); !errors.Is(err, payment.ErrBadSignature) {
		t.Errorf("verified with key1: %v", err)
	}
	// Re-serializing data (here: compacting the same JSON differently)
	// breaks the MAC: the string as received is what is signed.
	var env map[string]any
	_ = json.Unmarshal([]byte(publishedCallback), &env)
	var data map[string]any
	_ = json.Unmarshal([]byte(env["data"].(string)), &data)
	reser, _ := json.Marshal(data)
	env["data"] = string(reser)
	b, _ := json.Marshal(env)
	if _, err := c.VerifyCallback(b); !errors.Is(err, payment.ErrBadSignature) {
		t.Errorf("re-serialized data verified: %v", err)
	}
	// The envelope itself may be re-encoded (escapes, key order, spacing):
	// only the decoded data string counts.
	alt := `{ "type" : 1, "mac" : "D8D33BAF449B31D7F9B94FA50D7C942C08CD4D83F28FA185557DA21ACB104F67",` + publishedCallback[1:strings.Index(publishedCallback, `,"mac"`)] + "}"
	alt = strings.Replace(alt, `\"app_user\":\"demo\"`, `\"app_user\":\"\u0064emo\"`, 1)
	if _, err := c.VerifyCallback([]byte(alt)); err != nil {
		t.Errorf("re-encoded envelope: %v", err)
	}
}

func TestRequestVectors(t *testing.T) {
	c := sandboxClient(t, nil)
	o := Order{AppTransID: "240101_123456", AppUser: "user123", Amount: 50000, AppTime: 1704067200000,
		EmbedData: `{"redirecturl":"https://example.vn/ré?a=1&b=~*"}`,
		Item:      `[{"itemid":"knb","itemname":"kim nguyên bảo","itemprice":198400,"itemquantity":1}]`, Description: "Thanh toán đơn 240101_123456"}
	if err := c.SignOrder(&o); err != nil || o.Mac != vecOrder || o.AppID != 2553 {
		t.Errorf("order mac %s %v, want %s", o.Mac, err, vecOrder)
	}
	q := QueryRequest{AppTransID: "240101_123456"}
	if err := c.SignQuery(&q); err != nil || q.Mac != vecQuery {
		t.Errorf("query mac %s %v, want %s", q.Mac, err, vecQuery)
	}
	r := RefundRequest{MRefundID: "240101_2553_rf1", ZPTransID: "240101000000175", Amount: 20000, Description: "Hoàn tiền đơn 240101_123456", Timestamp: 1704070800000}
	if err := c.SignRefund(&r); err != nil || r.Mac != vecRefund {
		t.Errorf("refund mac %s %v, want %s", r.Mac, err, vecRefund)
	}
	// With refund_fee_amount, signed between amount and description. The
	// MAC was computed with node's crypto over
	// "2553|240101000000175|20000|1000|Hoàn tiền đơn 240101_123456|1704070800000".
	fee := int64(1000)
	rf := RefundRequest{MRefundID: "240101_2553_rf1", ZPTransID: "240101000000175", Amount: 20000, RefundFeeAmount: &fee, Description: "Hoàn tiền đơn 240101_123456", Timestamp: 1704070800000}
	if err := c.SignRefund(&rf); err != nil || rf.Mac != "e250baaf0441000f958652adc79c79f36f98d475838c39987839bb5ba9060f0e" {
		t.Errorf("refund with fee mac %s %v", rf.Mac, err)
	}
	if b, _ := json.Marshal(rf); !strings.Contains(string(b), `"refund_fee_amount":1000`) {
		t.Errorf("refund with fee body: %s", b)
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), "refund_fee_amount") {
		t.Errorf("refund without fee body: %s", b)
	}
	tooMuch := int64(20001)
	if err := c.SignRefund(&RefundRequest{MRefundID: "x", ZPTransID: "1", Amount: 20000, RefundFeeAmount: &tooMuch}); !errors.Is(err, ErrRequest) {
		t.Errorf("fee above amount: %v", err)
	}
	qr := QueryRefundRequest{MRefundID: "240101_2553_rf1", Timestamp: 1704070900000}
	if err := c.SignQueryRefund(&qr); err != nil || qr.Mac != vecQueryRefund {
		t.Errorf("query refund mac %s %v, want %s", qr.Mac, err, vecQueryRefund)
	}
	// Defaults.
	o2 := Order{AppTransID: AppTransID(time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), "9"), AppUser: "u", Amount: 1}
	if err := c.SignOrder(&o2); err != nil {
		t.Fatal(err)
	}
	if o2.AppTransID != "261128_9" || o2.Item != "[]" || o2.EmbedData != "{}" || o2.AppTime != t0.UnixMilli() {
		t.Errorf("defaults: %+v (app_trans_id must use the GMT+7 date)", o2)
	}
	for name, err := range map[string]error{
		"order":        c.SignOrder(&Order{}),
		"query":        c.SignQuery(&QueryRequest{}),
		"refund":       c.SignRefund(&RefundRequest{Amount: 1}),
		"query refund": c.SignQueryRefund(&QueryRefundRequest{}),
	} {
		if !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRedirect(t *testing.T) {
	rec := &paymenttest.Recorder{}
	c := sandboxClient(t, rec)
	q := "appid=2553&apptransid=240101_123456&pmcid=38&bankcode=zalopayapp&amount=50000&discountamount=0&status=1&checksum=" + vecRedirect
	r, err := c.VerifyRedirect(q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 50000 || r.Status != 1 || r.AppTransID != "240101_123456" {
		t.Errorf("redirect = %+v", r)
	}
	for _, tc := range []struct {
		q   string
		err error
	}{
		{strings.Replace(q, "amount=50000", "amount=5000", 1), payment.ErrBadSignature},
		{q + "&status=1", payment.ErrDuplicateParam},
		{strings.Replace(q, "checksum="+vecRedirect, "", 1), payment.ErrMissingSignature},
		{strings.Replace(q, "bankcode=zalopayapp", "bankcode=a%7Cb", 1), payment.ErrMalformed},
		{strings.Replace(q, "bankcode=zalopayapp", "bankcode=%zz", 1), payment.ErrMalformed},
	} {
		if _, err := c.VerifyRedirect(tc.q); !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", tc.q, err, tc.err)
		}
	}
	// A bad escape outside the signed parameters does not fail it.
	if r, err := c.VerifyRedirect("utm_campaign=50%off&" + q + "&x=%zz"); err != nil || r.AppTransID != "240101_123456" {
		t.Errorf("bad escape in unsigned parameters: %+v %v", r, err)
	}
	if ev := rec.Events(); len(ev) != 7 || ev[0] != "verified zalopay current" {
		t.Errorf("events %q", ev)
	}
}

// callbackBody plays ZaloPay: data signed with key.
func callbackBody(key string, d OrderData) []byte {
	data, _ := json.Marshal(d)
	m := hmac.New(sha256.New, []byte(key))
	m.Write(data)
	b, _ := json.Marshal(map[string]any{"data": string(data), "mac": hex.EncodeToString(m.Sum(nil)), "type": 1})
	return b
}

func typical() OrderData {
	return OrderData{AppID: 2553, AppTransID: "261127_42", AppTime: 1795000000000, AppUser: "user123", Amount: 150000,
		EmbedData: `{"redirecturl":"https://shop.example/done"}`, Item: "[]", ZPTransID: 261127000000042, ServerTime: 1795000100000, Channel: 38,
		MerchantUserID: "7ZMSl3nEg5sOUJzOLSoUFT8xKNQVaLOLXHB--8Eytqc"}
}

func TestRotation(t *testing.T) {
	const oldKey2, newKey2 = "OLDKEY2OLDKEY2OLDKEY2OLDKEY2OLD2", "NEWKEY2NEWKEY2NEWKEY2NEWKEY2NEW2"
	until := UntilAfterRotation(t0)
	if until.Sub(t0) != 48*time.Hour {
		t.Fatalf("UntilAfterRotation = +%v, want ZaloPay's 48h", until.Sub(t0))
	}
	k2 := payment.SecretSet{Current: fingerprint.NewSecret([]byte(newKey2)), Previous: fingerprint.NewSecret([]byte(oldKey2)), PreviousUntil: until}
	inc := k2
	inc.Incident = true
	for _, tc := range []struct {
		name string
		k2   payment.SecretSet
		key  string
		at   time.Duration
		slot secretenv.Slot
		err  error
	}{
		{"current", k2, newKey2, 0, secretenv.SlotCurrent, nil},
		{"previous inside", k2, oldKey2, 47 * time.Hour, secretenv.SlotPrevious, nil},
		{"previous after", k2, oldKey2, 48 * time.Hour, "", payment.ErrRetiredKey},
		{"previous in incident", inc, oldKey2, time.Minute, "", payment.ErrRetiredKey},
		{"current in incident", inc, newKey2, time.Minute, secretenv.SlotCurrent, nil},
		{"key1 is not key2", k2, sandboxKey1, 0, "", payment.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &paymenttest.Recorder{}
			c, err := New(Config{NoIdempotency: true, AppID: 2553, Key1: set(sandboxKey1), Key2: tc.k2, Observer: rec, Now: func() time.Time { return t0.Add(tc.at) }})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := c.VerifyCallback(callbackBody(tc.key, typical()))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			want := "verified zalopay " + string(tc.slot)
			if err != nil {
				want = "sigfail zalopay " + string(payment.ReasonOf(err))
			} else if cb.Slot != tc.slot {
				t.Errorf("slot %q", cb.Slot)
			}
			if ev := rec.Events(); !slices.Equal(ev, []string{want}) {
				t.Errorf("events %q, want %q", ev, want)
			}
		})
	}
}

func TestVerifyCallbackRefusals(t *testing.T) {
	c := sandboxClient(t, nil)
	good := string(callbackBody(sandboxKey2, typical()))
	other := typical()
	other.AppID = 2554
	for _, tc := range []struct {
		name, body string
		err        error
	}{
		{"amount changed", strings.Replace(good, `\"amount\":150000`, `\"amount\":150001`, 1), payment.ErrBadSignature},
		{"no mac", strings.Replace(good, `"mac"`, `"m"`, 1), payment.ErrMissingSignature},
		{"no data", `{"mac":"00","type":1}`, payment.ErrMalformed},
		{"data not a string", `{"data":{"app_id":2553},"mac":"00","type":1}`, payment.ErrMalformed},
		{"not JSON", `data=1`, payment.ErrMalformed},
		{"trailing data", good + `{"data":"x"}`, payment.ErrMalformed},
		{"other app", string(callbackBody(sandboxKey2, other)), payment.ErrWrongMerchant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.VerifyCallback([]byte(tc.body)); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
	// Signed data that is not an order object.
	m := hmac.New(sha256.New, []byte(sandboxKey2))
	m.Write([]byte(`[1]`))
	b := fmt.Sprintf(`{"data":"[1]","mac":"%x","type":1}`, m.Sum(nil))
	if cb, err := c.VerifyCallback([]byte(b)); !errors.Is(err, payment.ErrAmbiguous) || cb == nil || !cb.Unconfirmed || cb.Order != (OrderData{}) {
		t.Errorf("signed non-object: %+v, %v, want it unconfirmed (signed by ZaloPay: not to be lost)", cb, err)
	}
	// An agreement callback for this app is verified but not parsed as an
	// order.
	signed := func(data string, typ int) []byte {
		m := hmac.New(sha256.New, []byte(sandboxKey2))
		m.Write([]byte(data))
		d, _ := json.Marshal(data)
		return fmt.Appendf(nil, `{"data":%s,"mac":"%x","type":%d}`, d, m.Sum(nil), typ)
	}
	agreement := `{"app_id":2553,"binding_id":"b1"}`
	if cb, err := c.VerifyCallback(signed(agreement, 2)); err != nil || cb.Type != TypeAgreement || cb.Data != agreement {
		t.Errorf("agreement: %+v %v", cb, err)
	}
	// type is outside the MAC: relabelling another app's signed order
	// callback as an agreement (or an unknown type) must not skip the
	// app_id check.
	otherJSON, _ := json.Marshal(other)
	typicalJSON, _ := json.Marshal(typical())
	otherData := string(otherJSON)
	for _, typ := range []int{1, 2} {
		if _, err := c.VerifyCallback(signed(otherData, typ)); !errors.Is(err, payment.ErrWrongMerchant) {
			t.Errorf("other app's order as type %d: %v, want ErrWrongMerchant", typ, err)
		}
	}
	for _, typ := range []int{0, 3, 77, -1} {
		if _, err := c.VerifyCallback(signed(string(typicalJSON), typ)); !errors.Is(err, payment.ErrMalformed) {
			t.Errorf("type %d: %v, want ErrMalformed", typ, err)
		}
	}
	if _, err := c.VerifyCallback(signed(`{"binding_id":"b1"}`, 2)); !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("agreement without app_id: %v", err)
	}
	// Duplicate or case-variant keys, signed data or envelope: refused.
	// Signed data that repeats a key up to case: ambiguous, not lost.
	dupData := strings.Replace(string(typicalJSON), `"amount":`, `"Amount":1,"amount":`, 1)
	if cb, err := c.VerifyCallback(signed(dupData, 1)); !errors.Is(err, payment.ErrAmbiguous) || cb == nil || !cb.Unconfirmed ||
		cb.Order != (OrderData{AppTransID: typical().AppTransID}) {
		t.Errorf("signed data with amount and Amount: %+v, %v", cb, err)
	}
	dupEnv := strings.Replace(string(signed(string(typicalJSON), 1)), `"type":1`, `"type":1,"Type":2`, 1)
	if _, err := c.VerifyCallback([]byte(dupEnv)); !errors.Is(err, payment.ErrDuplicateParam) {
		t.Errorf("envelope with type and Type: %v", err)
	}
}

func TestCallbackHandler(t *testing.T) {
	rec := &paymenttest.Recorder{}
	c := sandboxClient(t, rec)
	var got []*Callback
	var fail error
	srv := httptest.NewServer(c.CallbackHandler(func(_ context.Context, cb *Callback) error {
		got = append(got, cb)
		return fail
	}))
	defer srv.Close()
	post := func(method, ctype string, body []byte) (int, CallbackResponse) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r CallbackResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		return resp.StatusCode, r
	}
	if st, r := post("POST", "application/json", []byte(publishedCallback)); st != 200 || r != CallbackOK || len(got) != 1 || got[0].Order.Amount != 10000 {
		t.Fatalf("published callback: %d %+v, callback got %v", st, r, got)
	}
	if ev := rec.Events(); !slices.Equal(ev, []string{"verified zalopay current"}) {
		t.Errorf("events %q", ev)
	}
	fail = errors.New("database down")
	if _, r := post("POST", "application/json", []byte(publishedCallback)); r.ReturnCode != 0 {
		t.Errorf("callback error answered %+v, want return_code 0 (retry)", r)
	}
	rec.Events()
	fail, got = nil, nil
	for _, tc := range []struct {
		name, method, ctype string
		body                []byte
		status, code        int
		event               string
	}{
		{"bad mac", "POST", "application/json", callbackBody("OTHERKEYOTHERKEYOTHERKEYOTHERKEY", typical()), 200, -1, "reject zalopay bad_signature"},
		{"malformed", "POST", "application/json", []byte("{"), 200, -1, "reject zalopay malformed"},
		{"GET", "GET", "", nil, 405, -1, "reject zalopay method"},
		{"form", "POST", "application/x-www-form-urlencoded", []byte("data=1"), 415, -1, "reject zalopay content_type"},
		{"huge", "POST", "application/json", bytes.Repeat([]byte("a"), 70<<10), 413, -1, "reject zalopay body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, r := post(tc.method, tc.ctype, tc.body)
			if st != tc.status || r.ReturnCode != tc.code {
				t.Errorf("answer %d %+v, want %d return_code %d", st, r, tc.status, tc.code)
			}
			if ev := rec.Events(); !slices.Contains(ev, tc.event) {
				t.Errorf("events %q, want %q", ev, tc.event)
			}
			if len(got) != 0 {
				t.Error("callback called for a refused request")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": sandboxKey1, "ZALOPAY_KEY2": sandboxKey2,
		"ZALOPAY_KEY2_PREVIOUS": "OLDKEY2OLDKEY2OLDKEY2OLDKEY2OLD2", "ZALOPAY_KEY2_PREVIOUS_UNTIL": "2026-11-29T02:00:00Z",
	}
	cfg, err := LoadConfig(secretenv.Map(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppID != 2553 || cfg.Key2.Previous.IsZero() || !cfg.Key1.Previous.IsZero() {
		t.Errorf("cfg = %+v", cfg)
	}
	if s := fmt.Sprintf("%+v", cfg); strings.Contains(s, sandboxKey1) || strings.Contains(s, sandboxKey2) {
		t.Errorf("config prints a key (output withheld)")
	}
	bad := map[string]func(map[string]string){
		"app id not a number": func(m map[string]string) { m["ZALOPAY_APP_ID"] = "abc" },
		"key1 equals key2":    func(m map[string]string) { m["ZALOPAY_KEY1"] = sandboxKey2 },
		"no deadline":         func(m map[string]string) { delete(m, "ZALOPAY_KEY2_PREVIOUS_UNTIL") },
		"short key":           func(m map[string]string) { m["ZALOPAY_KEY1"] = "Qw8e" },
	}
	for name, mod := range bad {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		mod(m)
		_, err := LoadConfig(secretenv.Map(m))
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		for _, s := range []string{sandboxKey1, sandboxKey2, "Qw8e"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error shows a key (message withheld)", name)
			}
		}
	}
}

func TestSignCallbackAndPrevious(t *testing.T) {
	env := map[string]string{"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": sandboxKey1, "ZALOPAY_KEY2": sandboxKey2,
		"ZALOPAY_KEY1_PREVIOUS": "OLDKEY1OLDKEY1OLDKEY1OLDKEY1OLD1", "ZALOPAY_KEY2_PREVIOUS": "OLDKEY2OLDKEY2OLDKEY2OLDKEY2OLD2",
		"ZALOPAY_KEY2_PREVIOUS_UNTIL": "2026-11-29T02:00:00Z"}
	cfg, err := LoadConfig(secretenv.Map(env))
	if err != nil {
		t.Fatalf("key1 deadline should default to key2's: %v", err)
	}
	cfg.Now = func() time.Time { return t0 }
	cfg.NoIdempotency = true
	c, _ := New(cfg)
	b, err := c.SignCallback(`{"app_id":2553,"app_trans_id":"x","amount":1}`, TypeOrder)
	if err != nil {
		t.Fatal(err)
	}
	if cb, err := c.VerifyCallback(b); err != nil || cb.Slot != secretenv.SlotCurrent || cb.Order.Amount != 1 {
		t.Errorf("round trip: %+v %v", cb, err)
	}
	p, ok := c.Previous()
	if !ok {
		t.Fatal("no previous")
	}
	b, _ = p.SignCallback(`{"app_id":2553,"app_trans_id":"x","amount":1}`, TypeOrder)
	if cb, err := c.VerifyCallback(b); err != nil || cb.Slot != secretenv.SlotPrevious {
		t.Errorf("previous: %+v %v", cb, err)
	}
}

// failingSource is a Source whose lookup of one variable fails, like a
// secret volume whose file cannot be read.
type failingSource struct {
	secretenv.Source
	name string
}

var errUnreadable = errors.New("test: file unreadable")

func (s failingSource) Lookup(name string) (string, bool, error) {
	if name == s.name {
		return "", false, errUnreadable
	}
	return s.Source.Lookup(name)
}

// An unreadable ZALOPAY_KEY1_PREVIOUS_UNTIL is an error, not a silent
// fallback to ZALOPAY_KEY2_PREVIOUS_UNTIL.
func TestLoadConfigDeadlineUnreadable(t *testing.T) {
	env := secretenv.Map(map[string]string{
		"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": sandboxKey1, "ZALOPAY_KEY2": sandboxKey2,
		"ZALOPAY_KEY1_PREVIOUS": "OLDKEY1OLDKEY1OLDKEY1OLDKEY1OLD1", "ZALOPAY_KEY2_PREVIOUS": "OLDKEY2OLDKEY2OLDKEY2OLDKEY2OLD2",
		"ZALOPAY_KEY2_PREVIOUS_UNTIL": "2026-11-29T02:00:00Z",
	})
	if _, err := LoadConfig(env); err != nil {
		t.Fatalf("readable source: %v", err)
	}
	if _, err := LoadConfig(failingSource{env, "ZALOPAY_KEY1_PREVIOUS_UNTIL"}); !errors.Is(err, errUnreadable) {
		t.Errorf("unreadable ZALOPAY_KEY1_PREVIOUS_UNTIL: err = %v, want the read error", err)
	}
}
