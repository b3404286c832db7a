package momo

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
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
	"github.com/goodgo/rotation/secretenv"
)

// Sandbox keys published by MoMo in momo-wallet/payment, nodejs/MoMo.js
// (partnerCode MOMO).
const (
	sandboxAccess = "F8BBA842ECF85"
	sandboxSecret = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
)

// Derived vectors: computed from the documented field orders with the sandbox
// keys by an independent implementation, payment/testdata/crosscheck.js
// (node crypto), run once and pinned; momo_ipn also checked with
// `openssl dgst -sha256 -hmac`. No published MoMo signature reproduces with
// public keys (the documented IPN examples use undisclosed merchant keys).
const (
	vecCreate = "4378bb95714712f6be833da81f743910a01e5ba6279bfe596b8a08e891259424"
	vecIPN    = "80fb7dd4f832c43e0d5c1e0f530802892add3f534d6b22b870916cecf75fd458"
	vecQuery  = "b35757475daeb794b41df16848917afaed56166dd349b7102a1d1c93cd64b94a"
	vecRefund = "a0970000a61e51f1299800ace1e08cd084bdc3099f462a15545a966dcb97c465"

	vecIPNRaw = "accessKey=F8BBA842ECF85&amount=50000000&extraData=eyJ1c2VybmFtZSI6ICJtb21vIn0=&message=Thành công.&orderId=ĐH-42&orderInfo=Thanh toán đơn hàng ~*!'() &=&orderType=momo_wallet&partnerCode=MOMO&payType=qr&requestId=REQ-42&responseTime=1721720663942&resultCode=0&transId=4088878653"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func set(secret string) payment.SecretSet {
	return payment.SecretSet{Current: fingerprint.NewSecret([]byte(secret))}
}

func sandboxClient(t testing.TB, obs payment.Observer) *Client {
	t.Helper()
	c, err := New(Config{NoIdempotency: true, PartnerCode: "MOMO", AccessKey: set(sandboxAccess), SecretKey: set(sandboxSecret), Observer: obs, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ipnBody is the IPN MoMo would send for vecIPN: numbers as JSON numbers.
func ipnBody(sig string) string {
	return `{"partnerCode":"MOMO","orderId":"ĐH-42","requestId":"REQ-42","amount":50000000,` +
		`"orderInfo":"Thanh toán đơn hàng ~*!'() &=","orderType":"momo_wallet","transId":4088878653,"resultCode":0,` +
		`"message":"Thành công.","payType":"qr","responseTime":1721720663942,"extraData":"eyJ1c2VybmFtZSI6ICJtb21vIn0=",` +
		`"partnerUserId":"","signature":"` + sig + `"}`
}

func TestVectors(t *testing.T) {
	c := sandboxClient(t, nil)
	cr := CreateRequest{RequestID: "MOMO1700000000000", OrderID: "MOMO1700000000000", Amount: 50000, OrderInfo: "pay with MoMo",
		RedirectURL: "https://momo.vn/return", IPNURL: "https://callback.url/notify", Lang: "vi"}
	if err := c.SignCreate(&cr); err != nil {
		t.Fatal(err)
	}
	if cr.Signature != vecCreate || cr.PartnerCode != "MOMO" || cr.RequestType != "captureWallet" {
		t.Errorf("create = %+v, want signature %s", cr, vecCreate)
	}
	b, _ := json.Marshal(cr)
	if !bytes.Contains(b, []byte(`"amount":50000,`)) {
		t.Errorf("create body sends amount as %s", b)
	}
	q := QueryRequest{RequestID: "REQ-43", OrderID: "ĐH-42"}
	if err := c.SignQuery(&q); err != nil || q.Signature != vecQuery {
		t.Errorf("query signature %s %v, want %s", q.Signature, err, vecQuery)
	}
	r := RefundRequest{RequestID: "REQ-44", OrderID: "RF-42", Amount: 20000, TransID: 4088878653, Description: "Hoàn tiền một phần"}
	if err := c.SignRefund(&r); err != nil || r.Signature != vecRefund {
		t.Errorf("refund signature %s %v, want %s", r.Signature, err, vecRefund)
	}

	n, err := c.VerifyIPN([]byte(ipnBody(vecIPN)))
	if err != nil {
		t.Fatal(err)
	}
	if got := NotificationRaw(sandboxAccess, n); got != vecIPNRaw {
		t.Errorf("raw =\n%s\nwant\n%s", got, vecIPNRaw)
	}
	if n.Amount != 50000000 || n.TransID != 4088878653 || n.ResponseTime != 1721720663942 || !n.Paid() || n.Slot != secretenv.SlotCurrent {
		t.Errorf("notification = %+v", n)
	}
	// Uppercase hex is the same signature.
	if _, err := c.VerifyIPN([]byte(ipnBody(strings.ToUpper(vecIPN)))); err != nil {
		t.Errorf("uppercase signature: %v", err)
	}
	// Numbers sent as JSON strings hold the same values.
	quoted := strings.NewReplacer(`50000000,`, `"50000000",`, `4088878653,`, `"4088878653",`).Replace(ipnBody(vecIPN))
	if _, err := c.VerifyIPN([]byte(quoted)); err != nil {
		t.Errorf("numbers as strings: %v", err)
	}
}

// The float pitfall (notes §5.7): decoding into float64 and printing with %v
// gives 5e+07. An amount written as a float is refused, never reformatted.
func TestAmountsAreIntegers(t *testing.T) {
	c := sandboxClient(t, nil)
	for _, v := range []string{"5e+07", "50000000.0", "5.0e7", "1e400", `"5e7"`} {
		body := strings.Replace(ipnBody(vecIPN), `"amount":50000000`, `"amount":`+v, 1)
		if _, err := c.VerifyIPN([]byte(body)); !errors.Is(err, payment.ErrMalformed) {
			t.Errorf("amount %s: err = %v, want ErrMalformed", v, err)
		}
	}
	if s := fmt.Sprintf("%v", float64(50000000)); s != "5e+07" {
		t.Fatalf("the pitfall itself: %s", s)
	}
}

// signIPN plays MoMo: an IPN body signed with (access, secret).
func signIPN(access, secret string, n *Notification) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(NotificationRaw(access, n)))
	w := map[string]any{"partnerCode": n.PartnerCode, "orderId": n.OrderID, "requestId": n.RequestID, "amount": n.Amount,
		"orderInfo": n.OrderInfo, "orderType": n.OrderType, "transId": n.TransID, "resultCode": n.ResultCode, "message": n.Message,
		"payType": n.PayType, "responseTime": n.ResponseTime, "extraData": n.ExtraData, "signature": hex.EncodeToString(m.Sum(nil))}
	b, _ := json.Marshal(w)
	return b
}

func typical() *Notification {
	return &Notification{PartnerCode: "MOMO", OrderID: "ORD-1", RequestID: "REQ-1", Amount: 150000, OrderInfo: "Thanh toán đơn hàng ORD-1",
		OrderType: "momo_wallet", TransID: 4088878653, ResultCode: 0, Message: "Successful.", PayType: "qr", ResponseTime: 1721720663942}
}

func TestRotation(t *testing.T) {
	const (
		oldAK = "OLDACCESSKEY01"
		newAK = "NEWACCESSKEY02"
		oldSK = "OLDSECRETKEYOLDSECRETKEY01234567"
		newSK = "NEWSECRETKEYNEWSECRETKEY89ABCDEF"
	)
	until := UntilAfterRotation(t0)
	if until.Sub(t0) != 24*time.Hour {
		t.Fatalf("UntilAfterRotation = +%v, want MoMo's 24h", until.Sub(t0))
	}
	rot := func(prev, cur string, rotated bool, incident bool) payment.SecretSet {
		s := payment.SecretSet{Current: fingerprint.NewSecret([]byte(cur))}
		if rotated {
			s.Previous, s.PreviousUntil, s.Incident = fingerprint.NewSecret([]byte(prev)), until, incident
		}
		return s
	}
	type signer struct{ ak, sk string }
	for _, tc := range []struct {
		name     string
		akRot    bool
		skRot    bool
		incident bool
		by       signer
		at       time.Duration
		slot     secretenv.Slot
		err      error
	}{
		{"both rotated, current", true, true, false, signer{newAK, newSK}, 0, secretenv.SlotCurrent, nil},
		{"both rotated, previous inside", true, true, false, signer{oldAK, oldSK}, 23 * time.Hour, secretenv.SlotPrevious, nil},
		{"both rotated, previous after", true, true, false, signer{oldAK, oldSK}, 24 * time.Hour, "", payment.ErrRetiredKey},
		{"both rotated, previous in incident", true, true, true, signer{oldAK, oldSK}, time.Hour, "", payment.ErrRetiredKey},
		{"both rotated, current in incident", true, true, true, signer{newAK, newSK}, time.Hour, secretenv.SlotCurrent, nil},
		{"both rotated, mixed pair", true, true, false, signer{oldAK, newSK}, time.Hour, "", payment.ErrBadSignature},
		{"secret key rotated, previous inside", false, true, false, signer{newAK, oldSK}, time.Hour, secretenv.SlotPrevious, nil},
		{"secret key rotated, previous after", false, true, false, signer{newAK, oldSK}, 25 * time.Hour, "", payment.ErrRetiredKey},
		{"access key rotated, previous inside", true, false, false, signer{oldAK, newSK}, time.Hour, secretenv.SlotPrevious, nil},
		{"access key rotated, previous after", true, false, false, signer{oldAK, newSK}, 48 * time.Hour, "", payment.ErrRetiredKey},
		{"access key rotated, current", true, false, false, signer{newAK, newSK}, 48 * time.Hour, secretenv.SlotCurrent, nil},
		{"unknown keys", true, true, false, signer{"OTHERACCESS000", "OTHERSECRETOTHERSECRETOTHERSECRE"}, 0, "", payment.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &paymenttest.Recorder{}
			c, err := New(Config{NoIdempotency: true, PartnerCode: "MOMO", AccessKey: rot(oldAK, newAK, tc.akRot, tc.incident), SecretKey: rot(oldSK, newSK, tc.skRot, tc.incident),
				Observer: rec, Now: func() time.Time { return t0.Add(tc.at) }})
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.VerifyIPN(signIPN(tc.by.ak, tc.by.sk, typical()))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			want := "verified momo " + string(tc.slot)
			if err != nil {
				want = "sigfail momo " + string(payment.ReasonOf(err))
			} else if n.Slot != tc.slot {
				t.Errorf("slot %q, want %q", n.Slot, tc.slot)
			}
			if ev := rec.Events(); !slices.Equal(ev, []string{want}) {
				t.Errorf("events %q, want %q", ev, want)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	c := sandboxClient(t, nil)
	good := string(signIPN(sandboxAccess, sandboxSecret, typical()))
	if _, err := c.VerifyIPN([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		err        error
	}{
		{"amount changed", strings.Replace(good, `"amount":150000`, `"amount":150001`, 1), payment.ErrBadSignature},
		{"result changed", strings.Replace(good, `"resultCode":0`, `"resultCode":1006`, 1), payment.ErrBadSignature},
		{"extraData added", strings.Replace(good, `"extraData":""`, `"extraData":"eyJ9"`, 1), payment.ErrBadSignature},
		{"no signature", strings.Replace(good, `"signature":"`, `"sig":"`, 1), payment.ErrMissingSignature},
		{"signature not hex", good[:strings.Index(good, `"signature":"`)] + `"signature":"` + strings.Repeat("g", 64) + `"}`, payment.ErrMalformed},
		{"short signature", good[:strings.Index(good, `"signature":"`)] + `"signature":"abcd"}`, payment.ErrMalformed},
		{"not JSON", "partnerCode=MOMO", payment.ErrMalformed},
		{"trailing data", good + `{}`, payment.ErrMalformed},
		{"string where a number goes", strings.Replace(good, `"transId":4088878653`, `"transId":"x"`, 1), payment.ErrMalformed},
		{"number where a string goes", strings.Replace(good, `"orderId":"ORD-1"`, `"orderId":1`, 1), payment.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.VerifyIPN([]byte(tc.body)); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
	// Correctly signed but for another partner.
	n := typical()
	n.PartnerCode = "MOMOOTHER"
	if _, err := c.VerifyIPN(signIPN(sandboxAccess, sandboxSecret, n)); !errors.Is(err, payment.ErrWrongMerchant) {
		t.Errorf("other partner: %v", err)
	}
	// Signed, but a value shifts text across a field boundary: the raw
	// string is the same as for {orderInfo: "x", orderType: "y&…"}.
	n = typical()
	n.OrderInfo = "Thanh toán&orderType=momo_wallet"
	if got, err := c.VerifyIPN(signIPN(sandboxAccess, sandboxSecret, n)); !errors.Is(err, payment.ErrAmbiguous) || !got.Unconfirmed {
		t.Errorf("ambiguous value: %v", err)
	}
	// "&" alone (notes §5.8, momo-wallet/php#3) is fine.
	n.OrderInfo = "Trà & bánh"
	if _, err := c.VerifyIPN(signIPN(sandboxAccess, sandboxSecret, n)); err != nil {
		t.Errorf("orderInfo with &: %v", err)
	}
}

func TestVerifyRedirect(t *testing.T) {
	c := sandboxClient(t, nil)
	q := url.Values{"partnerCode": {"MOMO"}, "orderId": {"ĐH-42"}, "requestId": {"REQ-42"}, "amount": {"50000000"},
		"orderInfo": {"Thanh toán đơn hàng ~*!'() &="}, "orderType": {"momo_wallet"}, "transId": {"4088878653"}, "resultCode": {"0"},
		"message": {"Thành công."}, "payType": {"qr"}, "responseTime": {"1721720663942"}, "extraData": {"eyJ1c2VybmFtZSI6ICJtb21vIn0="},
		"signature": {vecIPN}}
	n, err := c.VerifyRedirect("from=checkout&" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if n.OrderID != "ĐH-42" || n.Amount != 50000000 || !n.Paid() {
		t.Errorf("notification = %+v", n)
	}
	if _, err := c.VerifyRedirect(q.Encode() + "&amount=1"); !errors.Is(err, payment.ErrDuplicateParam) {
		t.Errorf("duplicate: %v", err)
	}
	// A bad escape outside the signed parameters does not fail the redirect.
	if n, err := c.VerifyRedirect("utm_campaign=50%off&" + q.Encode() + "&x=%zz"); err != nil || n.OrderID != "ĐH-42" {
		t.Errorf("bad escape in unsigned parameters: %+v %v", n, err)
	}
	if _, err := c.VerifyRedirect(strings.Replace(q.Encode(), "requestId=", "requestId=%zz", 1)); !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("bad escape in a signed parameter: %v", err)
	}
	q.Set("amount", "5000000")
	if _, err := c.VerifyRedirect(q.Encode()); !errors.Is(err, payment.ErrBadSignature) {
		t.Errorf("changed amount: %v", err)
	}
	if _, err := c.VerifyRedirect(strings.Repeat("a", MaxQueryLen+1)); !errors.Is(err, payment.ErrBodyTooLarge) {
		t.Errorf("long: %v", err)
	}
}

func TestIPNHandler(t *testing.T) {
	rec := &paymenttest.Recorder{}
	c := sandboxClient(t, rec)
	var got []*Notification
	var fail error
	srv := httptest.NewServer(c.IPNHandler(func(_ context.Context, n *Notification) error {
		got = append(got, n)
		return fail
	}))
	defer srv.Close()
	post := func(method, ctype string, body []byte) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := signIPN(sandboxAccess, sandboxSecret, typical())
	if resp := post("POST", "application/json; charset=UTF-8", good); resp.StatusCode != http.StatusNoContent || len(got) != 1 || got[0].Amount != 150000 {
		t.Fatalf("good IPN: %d, callback got %v", resp.StatusCode, got)
	}
	if ev := rec.Events(); !slices.Equal(ev, []string{"verified momo current"}) {
		t.Errorf("events %q", ev)
	}
	fail = errors.New("database down")
	if resp := post("POST", "application/json", good); resp.StatusCode != 500 {
		t.Errorf("callback error answered %d, want 500 so MoMo retries", resp.StatusCode)
	}
	if ev := rec.Events(); !slices.Contains(ev, "reject momo callback_error") {
		t.Errorf("events %q", ev)
	}
	fail, got = nil, nil
	for _, tc := range []struct {
		name, method, ctype string
		body                []byte
		status              int
		event               string
	}{
		{"bad signature", "POST", "application/json", signIPN(sandboxAccess, "OTHERSECRETOTHERSECRETOTHERSECRE", typical()), 400, "reject momo bad_signature"},
		{"GET", "GET", "", nil, 405, "reject momo method"},
		{"form body", "POST", "application/x-www-form-urlencoded", []byte("a=1"), 415, "reject momo content_type"},
		{"no content type", "POST", "", good, 415, "reject momo content_type"},
		{"huge body", "POST", "application/json", bytes.Repeat([]byte(" "), 65<<10), 413, "reject momo body_too_large"},
		{"not JSON", "POST", "application/json", []byte("{"), 400, "reject momo malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(tc.method, tc.ctype, tc.body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if ev := rec.Events(); !slices.Contains(ev, tc.event) {
				t.Errorf("events %q, want %q", ev, tc.event)
			}
			if len(got) != 0 {
				t.Error("callback called for a refused IPN")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"MOMO_PARTNER_CODE":                "MOMO",
		"MOMO_ACCESS_KEY":                  sandboxAccess,
		"MOMO_SECRET_KEY":                  sandboxSecret,
		"MOMO_SECRET_KEY_PREVIOUS":         "OLDSECRETKEYOLDSECRETKEY01234567",
		"MOMO_SECRET_KEY_PREVIOUS_UNTIL":   "2026-11-28T02:00:00Z",
		"MOMO_ACCESS_KEY_PREVIOUS_UNTIL":   "ignored without a previous key",
		"MOMO_UNRELATED_VARIABLE_FOR_TEST": "x",
	}
	cfg, err := LoadConfig(secretenv.Map(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PartnerCode != "MOMO" || !cfg.AccessKey.Previous.IsZero() || cfg.SecretKey.Previous.IsZero() {
		t.Errorf("cfg = %+v", cfg)
	}
	cfg.NoIdempotency = true
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	delete(env, "MOMO_SECRET_KEY_PREVIOUS_UNTIL")
	if _, err := LoadConfig(secretenv.Map(env)); !errors.Is(err, payment.ErrNoDeadline) {
		t.Errorf("no deadline: %v", err)
	}
	env["MOMO_SECRET_KEY_PREVIOUS_UNTIL"] = "2026-11-28T02:00:00Z"
	env["MOMO_ACCESS_KEY"] = "Zq9x4"
	_, err = LoadConfig(secretenv.Map(env))
	var se *secretenv.Error
	if !errors.As(err, &se) || se.Var != "MOMO_ACCESS_KEY" || strings.Contains(err.Error(), "Zq9x4") {
		t.Errorf("short access key: %v", err)
	}
	if s := fmt.Sprintf("%+v", cfg); strings.Contains(s, sandboxSecret) || strings.Contains(s, sandboxAccess) {
		t.Errorf("config prints a key (output withheld)")
	}
}

func TestSignErrors(t *testing.T) {
	c := sandboxClient(t, nil)
	if err := c.SignCreate(&CreateRequest{Amount: 0, RequestID: "r", OrderID: "o", IPNURL: "i", RedirectURL: "r"}); !errors.Is(err, ErrRequest) {
		t.Errorf("create: %v", err)
	}
	if err := c.SignQuery(&QueryRequest{}); !errors.Is(err, ErrRequest) {
		t.Errorf("query: %v", err)
	}
	if err := c.SignRefund(&RefundRequest{Amount: 1, RequestID: "r", OrderID: "o"}); !errors.Is(err, ErrRequest) {
		t.Errorf("refund: %v", err)
	}
	if _, err := New(Config{NoIdempotency: true, PartnerCode: "MOMO", SecretKey: set(sandboxSecret)}); !errors.Is(err, ErrConfig) {
		t.Errorf("no access key: %v", err)
	}
	if _, err := New(Config{AccessKey: set(sandboxAccess), SecretKey: set(sandboxSecret)}); !errors.Is(err, ErrConfig) {
		t.Errorf("no partner: %v", err)
	}
}

func TestSignIPNAndPrevious(t *testing.T) {
	const oldSK = "OLDSECRETKEYOLDSECRETKEY01234567"
	env := map[string]string{"MOMO_PARTNER_CODE": "MOMO", "MOMO_ACCESS_KEY": sandboxAccess, "MOMO_SECRET_KEY": sandboxSecret,
		"MOMO_ACCESS_KEY_PREVIOUS": "OLDACCESSKEY01", "MOMO_SECRET_KEY_PREVIOUS": oldSK, "MOMO_SECRET_KEY_PREVIOUS_UNTIL": "2026-11-28T02:00:00Z"}
	cfg, err := LoadConfig(secretenv.Map(env))
	if err != nil {
		t.Fatalf("access key deadline should default to the secret key's: %v", err)
	}
	if !cfg.AccessKey.PreviousUntil.Equal(cfg.SecretKey.PreviousUntil) {
		t.Errorf("access key deadline %v", cfg.AccessKey.PreviousUntil)
	}
	cfg.Now = func() time.Time { return t0 }
	cfg.NoIdempotency = true
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.SignIPN(typical())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.VerifyIPN(body); err != nil || n.Slot != secretenv.SlotCurrent {
		t.Errorf("SignIPN round trip: %v", err)
	}
	var mine, theirs struct{ Signature string }
	_ = json.Unmarshal(body, &mine)
	_ = json.Unmarshal(signIPN(sandboxAccess, sandboxSecret, typical()), &theirs)
	if mine.Signature == "" || mine.Signature != theirs.Signature {
		t.Errorf("SignIPN signature %q, the test's independent signer %q", mine.Signature, theirs.Signature)
	}
	p, ok := c.Previous()
	if !ok {
		t.Fatal("no previous")
	}
	body, _ = p.SignIPN(typical())
	if n, err := c.VerifyIPN(body); err != nil || n.Slot != secretenv.SlotPrevious {
		t.Errorf("previous keys: %+v %v", n, err)
	}
	if _, ok := sandboxClient(t, nil).Previous(); ok {
		t.Error("Previous without previous keys")
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

// An unreadable MOMO_ACCESS_KEY_PREVIOUS_UNTIL is an error, not a silent
// fallback to MOMO_SECRET_KEY_PREVIOUS_UNTIL.
func TestLoadConfigDeadlineUnreadable(t *testing.T) {
	env := secretenv.Map(map[string]string{
		"MOMO_PARTNER_CODE": "MOMO", "MOMO_ACCESS_KEY": sandboxAccess, "MOMO_SECRET_KEY": sandboxSecret,
		"MOMO_ACCESS_KEY_PREVIOUS": "OLDACCESSKEY1", "MOMO_SECRET_KEY_PREVIOUS": "OLDSECRETKEYOLDSECRETKEY01234567",
		"MOMO_SECRET_KEY_PREVIOUS_UNTIL": "2026-11-28T02:00:00Z",
	})
	if _, err := LoadConfig(env); err != nil {
		t.Fatalf("readable source: %v", err)
	}
	if _, err := LoadConfig(failingSource{env, "MOMO_ACCESS_KEY_PREVIOUS_UNTIL"}); !errors.Is(err, errUnreadable) {
		t.Errorf("unreadable MOMO_ACCESS_KEY_PREVIOUS_UNTIL: err = %v, want the read error", err)
	}
}

// A validly signed IPN with a second, case-variant "Amount" after the
// signed one: encoding/json alone would let it win; another reader may take
// either. Refused as a duplicate parameter.
func TestIPNDuplicateKeysRefused(t *testing.T) {
	c := sandboxClient(t, nil)
	good := signIPN(sandboxAccess, sandboxSecret, typical())
	if _, err := c.VerifyIPN(good); err != nil {
		t.Fatalf("valid IPN: %v", err)
	}
	for name, body := range map[string]string{
		"case variant": strings.Replace(string(good), `"amount":150000`, `"amount":150000,"Amount":1`, 1),
		"exact repeat": strings.Replace(string(good), `"amount":150000`, `"amount":150000,"amount":150000`, 1),
	} {
		if _, err := c.VerifyIPN([]byte(body)); !errors.Is(err, payment.ErrDuplicateParam) {
			t.Errorf("%s: %v, want ErrDuplicateParam", name, err)
		}
	}
}

// autoCapture, orderGroupId and items are sent as MoMo's create API names
// them and leave the signature (which does not cover them) unchanged.
func TestCreateAutoCaptureGroupItems(t *testing.T) {
	c := sandboxClient(t, nil)
	no := false
	cr := CreateRequest{RequestID: "MOMO1700000000000", OrderID: "MOMO1700000000000", Amount: 50000, OrderInfo: "pay with MoMo",
		RedirectURL: "https://momo.vn/return", IPNURL: "https://callback.url/notify", Lang: "vi",
		AutoCapture: &no, OrderGroupID: 123456,
		Items: []Item{{ID: "sku-1", Name: "Ao thun", Price: 25000, Quantity: 2, TotalPrice: 50000, Currency: "VND"}}}
	if err := c.SignCreate(&cr); err != nil || cr.Signature != vecCreate {
		t.Fatalf("signature %s %v, want %s", cr.Signature, err, vecCreate)
	}
	b, _ := json.Marshal(cr)
	for _, want := range []string{`"autoCapture":false`, `"orderGroupId":123456`, `"items":[{"id":"sku-1","name":"Ao thun","price":25000,"currency":"VND","quantity":2,"totalPrice":50000}]`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("create body %s lacks %s", b, want)
		}
	}
	plain, _ := json.Marshal(CreateRequest{})
	if bytes.Contains(plain, []byte("autoCapture")) || bytes.Contains(plain, []byte("orderGroupId")) || bytes.Contains(plain, []byte("items")) {
		t.Errorf("unset fields are sent: %s", plain)
	}
	cr.Items[0].TotalPrice = 1
	if err := c.SignCreate(&cr); !errors.Is(err, ErrRequest) {
		t.Errorf("item total not price × quantity: %v", err)
	}
}
