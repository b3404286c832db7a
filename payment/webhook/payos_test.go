package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// The expected string and signature were produced with node v20 by the
// algorithm of PayOS's Node SDK (payOSHQ/payos-lib-node
// src/utils/sort-obj-by-key.ts sortObjDataByKey + convert-obj-to-query-str.ts,
// HMAC-SHA256 hex): null and "null"/"undefined" → empty, numbers as
// String(n) (3000.0 → 3000, 1e21 → 1e+21, -0 → 0), arrays as JSON.stringify
// of shallow-sorted elements (nested objects keep their order).
const (
	payosTrickyData = `{"orderCode":9007199254740991,"amount":3000.0,"description":"Thanh toán đơn & hàng <b> / ~*!'()","accountNumber":"12345678","reference":null,"transactionDateTime":"2023-02-04 18:25:00","currency":"null","paymentLinkId":"undefined","code":"00","desc":"Thành công","ratio":0.1,"big":1e21,"tiny":0.0000001,"neg":-0,"flag":true,"items":[{"price":1000,"name":"Mì \"tôm\"","quantity":1,"meta":{"z":1,"a":null}},{"b":2,"a":1}]}`
	payosTrickyQ    = `accountNumber=12345678&amount=3000&big=1e+21&code=00&currency=&desc=Thành công&description=Thanh toán đơn & hàng <b> / ~*!'()&flag=true&items=[{"meta":{"z":1,"a":null},"name":"Mì \"tôm\"","price":1000,"quantity":1},{"a":1,"b":2}]&neg=0&orderCode=9007199254740991&paymentLinkId=&ratio=0.1&reference=&tiny=1e-7&transactionDateTime=2023-02-04 18:25:00`
	payosTrickyKey  = "payos-test-checksum-key-0123456789abcdef0123456789abcdef01234567"
	payosTrickySig  = "c4117f00c3a62382d2fc2231e06390798cad48ab1813a3db60572bec6150d663"
)

func payosWebhook(data, sig string) string {
	return `{"code":"00","desc":"success","success":true,"data":` + data + `,"signature":"` + sig + `"}`
}

func TestPayOSCanonicalMatchesNodeSDK(t *testing.T) {
	root, err := parseJSON([]byte(payosTrickyData))
	if err != nil {
		t.Fatal(err)
	}
	q, _, _, err := payosCanon(nil, &root)
	if err != nil || string(q) != payosTrickyQ {
		t.Fatalf("canonical\n got %q %v\nwant %q", q, err, payosTrickyQ)
	}
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosTrickyKey)}, WithoutIdempotency()))
	ev, err := p.Verify([]byte(payosWebhook(payosTrickyData, payosTrickySig)))
	if err != nil {
		t.Fatal(err)
	}
	// "null"/"undefined" sign as empty, so the event says empty.
	if ev.OrderCode != 9007199254740991 || ev.Amount != 3000 || ev.Currency != "" || ev.PaymentLinkID != "" || ev.Reference != "" || ev.Fields()["flag"] != "true" {
		t.Fatalf("event %+v", ev)
	}
}

func TestPayOSRefusals(t *testing.T) {
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency()))
	sign := func(data string) string { return must(PayOSSignature([]byte(payosSampleKey), []byte(data))) }
	for name, tc := range map[string]struct {
		body string
		want error
	}{
		"no signature":      {`{"data":{"a":1}}`, payment.ErrMissingSignature},
		"empty signature":   {`{"data":{"a":1},"signature":""}`, payment.ErrMissingSignature},
		"short signature":   {`{"data":{"a":1},"signature":"abcd"}`, payment.ErrMalformed},
		"number signature":  {`{"data":{"a":1},"signature":1}`, payment.ErrMalformed},
		"no data":           {`{"signature":"` + strings.Repeat("a", 64) + `"}`, payment.ErrMalformed},
		"data not object":   {`{"data":[],"signature":"` + strings.Repeat("a", 64) + `"}`, payment.ErrMalformed},
		"nested object":     {payosWebhook(`{"a":{"b":1}}`, strings.Repeat("a", 64)), payment.ErrMalformed},
		"array of numbers":  {payosWebhook(`{"a":[1,2]}`, strings.Repeat("a", 64)), payment.ErrMalformed},
		"key with =":        {payosWebhook(`{"a=b":"1"}`, strings.Repeat("a", 64)), payment.ErrMalformed},
		"value with &key=":  {payosWebhook(`{"a":"1&b=2"}`, strings.Repeat("a", 64)), payment.ErrBadSignature},
		"amount as string":  {payosWebhook(`{"amount":"3000"}`, sign(`{"amount":"3000"}`)), payment.ErrMalformed},
		"amount fractional": {payosWebhook(`{"amount":3000.5}`, sign(`{"amount":3000.5}`)), payment.ErrMalformed},
		"unsafe integer":    {payosWebhook(`{"orderCode":9007199254740993}`, sign(`{"orderCode":9007199254740993}`)), payment.ErrMalformed},
		"string as number":  {payosWebhook(`{"description":5}`, sign(`{"description":5}`)), payment.ErrMalformed},
		"duplicate key":     {payosWebhook(`{"amount":1,"amount":2}`, strings.Repeat("a", 64)), payment.ErrMalformed},
		"lone surrogate":    {payosWebhook(`{"description":"\ud800"}`, strings.Repeat("a", 64)), payment.ErrMalformed},
		"mismatch":          {payosWebhook(`{"amount":3001}`, sign(`{"amount":3000}`)), payment.ErrBadSignature},
		"invalid UTF-8":     {payosWebhook("{\"description\":\"\xff\"}", strings.Repeat("a", 64)), payment.ErrMalformed},
		"trailing garbage":  {payosSampleBody + "x", payment.ErrMalformed},
	} {
		if _, err := p.Verify([]byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// The re-split attack: PayOS signed {"accountNumber":"1","amount":3000};
	// an attacker moves "amount=3000" into accountNumber, giving the same
	// signed string. Never trusted: ambiguous, unconfirmed.
	orig := `{"accountNumber":"1","amount":3000}`
	forged := payosWebhook(`{"accountNumber":"1&amount=3000"}`, sign(orig))
	if ev, err := p.Verify([]byte(forged)); !errors.Is(err, payment.ErrAmbiguous) || !ev.Unconfirmed {
		t.Errorf("re-split body: %v", err)
	}
	// '&' alone is fine (a payer's memo "A & B").
	d := `{"description":"CONG TY A & B","amount":1}`
	if _, err := p.Verify([]byte(payosWebhook(d, sign(d)))); err != nil {
		t.Errorf("memo with &: %v", err)
	}
	// Upper-case hex is accepted (decoded, compared as bytes).
	if _, err := p.Verify([]byte(payosWebhook(d, strings.ToUpper(sign(d))))); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
}

func TestPayOSRotation(t *testing.T) {
	newKey := "payos-new-checksum-key-0123456789abcdef0123456789abcdef"
	until := t0.Add(time.Hour)
	data := `{"orderCode":123,"amount":3000}`
	byOld := payosWebhook(data, must(PayOSSignature([]byte(payosSampleKey), []byte(data))))
	byNew := payosWebhook(data, must(PayOSSignature([]byte(newKey), []byte(data))))
	for _, tc := range []struct {
		name     string
		now      time.Time
		incident bool
		body     string
		slot     secretenv.Slot
		err      error
	}{
		{"previous inside window", t0, false, byOld, secretenv.SlotPrevious, nil},
		{"previous after deadline", until, false, byOld, "", payment.ErrRetiredKey},
		{"previous in incident mode", t0, true, byOld, "", payment.ErrRetiredKey},
		{"current", until.Add(time.Hour), true, byNew, secretenv.SlotCurrent, nil},
	} {
		rec := &recorder{}
		set := payment.SecretSet{Current: secret(newKey), Previous: secret(payosSampleKey), PreviousUntil: until, Incident: tc.incident}
		p := must(NewPayOS(set, WithoutIdempotency(), WithClock(fixed(tc.now)), WithObserver(rec)))
		code, _ := serve(p.Handler(func(context.Context, PayOSEvent) error { return nil }), "POST", "application/json", nil, tc.body)
		ev, err := p.Verify([]byte(tc.body))
		if ev.Slot != tc.slot || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("%s: %q %v", tc.name, ev.Slot, err)
		}
		if wantCode := map[bool]int{true: 200, false: 401}[tc.err == nil]; code != wantCode {
			t.Errorf("%s: handler answered %d, want %d", tc.name, code, wantCode)
		}
		v, _, r := rec.snapshot()
		if tc.err == nil && v[0] != "payos/"+string(tc.slot) || tc.err != nil && r[0] != "payos/retired_key" {
			t.Errorf("%s: observer %v %v", tc.name, v, r)
		}
	}
}

// TestPayOSEventOutlivesBody: Verify reads the body in place (parseView),
// so an event must hold copies only: overwriting the body afterwards, as
// a server reusing its read buffer does, changes nothing in the event,
// nor in its idempotency key, nor in a refusal's error text.
func TestPayOSEventOutlivesBody(t *testing.T) {
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosTrickyKey)}, WithoutIdempotency()))
	sign := func(data string) string { return must(PayOSSignature([]byte(payosTrickyKey), []byte(data))) }
	ambiguous := strings.Replace(payosTrickyData, `đơn & hàng`, `a&reference=TF1&x`, 1)
	escaped := strings.Replace(payosTrickyData, `"reference":null`, `"reference":"TF\u0041\"1"`, 1)
	for name, body := range map[string]string{
		"tricky":    payosWebhook(payosTrickyData, payosTrickySig),
		"ambiguous": payosWebhook(ambiguous, sign(ambiguous)),
		"escaped":   payosWebhook(escaped, sign(escaped)),
		"sample":    payosSampleBody,
		"bad key":   payosWebhook(`{"a-b":1}`, strings.Repeat("0", 64)),
		"bad value": payosWebhook(`{"orderCode":"1"}`, sign(`{"orderCode":"1"}`)),
	} {
		p := p
		if name == "sample" {
			p = must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency()))
		}
		b := []byte(body)
		ev, err := p.verifyKeyed(b, true)
		want := fmt.Sprintf("%#v %v %v", ev, ev.Fields(), err)
		for i := range b {
			b[i] = 'x'
		}
		if got := fmt.Sprintf("%#v %v %v", ev, ev.Fields(), err); got != want {
			t.Errorf("%s: after the body is overwritten\n got %s\nwant %s", name, got, want)
		}
		if name != "bad key" && name != "bad value" && ev.Fields()["orderCode"] == "" {
			t.Errorf("%s: not verified: %v", name, err)
		}
	}
}
