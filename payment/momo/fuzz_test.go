package momo

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment/internal/jsonkeys"
)

// FuzzVerifyIPN feeds arbitrary bodies to VerifyIPN: no panic, and anything
// accepted is exactly one of the signed notifications (no modified field
// passes).
func FuzzVerifyIPN(f *testing.F) {
	c := sandboxClient(f, nil)
	signed := map[string]bool{NotificationRaw(sandboxAccess, typical()): true, vecIPNRaw: true}
	good := string(signIPN(sandboxAccess, sandboxSecret, typical()))
	for _, s := range []string{good, ipnBody(vecIPN), strings.Replace(good, "150000", "150001", 1), `{"amount":1e999}`, `{}`, `[`, `null`,
		strings.Replace(good, `"amount":150000`, `"amount":"150000"`, 1), strings.Replace(good, `"orderInfo":"`, `"orderInfo":"&amount=`, 1)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := c.VerifyIPN(body)
		if err == nil && !signed[NotificationRaw(sandboxAccess, n)] {
			t.Fatalf("accepted an IPN that was never signed: %+v", n)
		}
	})
}

// FuzzVerifyRedirect is FuzzVerifyIPN for the redirect query.
func FuzzVerifyRedirect(f *testing.F) {
	c := sandboxClient(f, nil)
	n := typical()
	q := url.Values{"partnerCode": {n.PartnerCode}, "orderId": {n.OrderID}, "requestId": {n.RequestID}, "amount": {"150000"},
		"orderInfo": {n.OrderInfo}, "orderType": {n.OrderType}, "transId": {"4088878653"}, "resultCode": {"0"}, "message": {n.Message},
		"payType": {n.PayType}, "responseTime": {"1721720663942"}, "extraData": {""}}
	body := signIPN(sandboxAccess, sandboxSecret, n)
	sig := string(body[strings.Index(string(body), `"signature":"`)+13 : len(body)-2])
	q.Set("signature", sig)
	f.Add(q.Encode())
	f.Add(q.Encode() + "&amount=1")
	f.Add("signature=00&amount=-0")
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := c.VerifyRedirect(raw)
		if err == nil && NotificationRaw(sandboxAccess, got) != NotificationRaw(sandboxAccess, n) {
			t.Fatalf("accepted a redirect that was never signed: %+v", got)
		}
	})
}

// FuzzTamper signs a typical IPN, replaces one field with an arbitrary value
// and keeps the signature: refused unless the signed string is unchanged.
func FuzzTamper(f *testing.F) {
	c := sandboxClient(f, nil)
	orig := typical()
	sig := func() string {
		b := string(signIPN(sandboxAccess, sandboxSecret, orig))
		return b[strings.Index(b, `"signature":"`)+13 : len(b)-2]
	}()
	f.Add(uint8(0), "ORD-2", int64(0))
	f.Add(uint8(1), "", int64(150001))
	f.Add(uint8(2), "Thanh toán đơn hàng ORD-1&orderType=x", int64(0))
	f.Fuzz(func(t *testing.T, field uint8, s string, num int64) {
		n := *orig
		switch field % 8 {
		case 0:
			n.OrderID = s
		case 1:
			n.Amount = num
		case 2:
			n.OrderInfo = s
		case 3:
			n.ResultCode = int(int32(num))
		case 4:
			n.ExtraData = s
		case 5:
			n.TransID = num
		case 6:
			n.Message = s
		case 7:
			n.PayType = s
		}
		n.Signature = sig
		if _, err := c.finish(&n, nil); err == nil && NotificationRaw(sandboxAccess, &n) != NotificationRaw(sandboxAccess, orig) {
			t.Fatalf("modified IPN accepted: %+v", n)
		}
		// Through the JSON path too.
		body := signIPN(sandboxAccess, sandboxSecret, &n)
		b := string(body)
		b = b[:strings.Index(b, `"signature":"`)+13] + sig + `"}`
		if got, err := c.VerifyIPN([]byte(b)); err == nil && NotificationRaw(sandboxAccess, got) != NotificationRaw(sandboxAccess, orig) {
			t.Fatalf("modified IPN body accepted: %s", b)
		}
	})
}

// The reflection-free IPN decoder reads every body as jsonkeys.Check plus
// json.Unmarshal into ipnWire did: same fields, same refusals.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	f.Add(signIPN(sandboxAccess, sandboxSecret, typical()))
	f.Add([]byte(`{"amount":"150000","Amount":1}`))
	f.Add([]byte(`{"AMOUNT":"1e3","orderId":null,"transId":-0,"x":{"a":[1,"}"]},"message":"\u00e9\ud800"}`))
	f.Add([]byte("{\"orderInfo\":\"\xff\"}"))
	f.Add([]byte(`{"orderId":5}`))
	f.Add([]byte(` [1] `))
	f.Add([]byte(`{"tranſId":5,"K":1,"meſſage":"x"}`)) // long s and Kelvin sign fold to s and k
	var sh jsonkeys.Shape                              // left by the inputs before: reading with a shape changes nothing
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want ipnWire
		gotErr := got.decode(body, &sh)
		wantErr := jsonkeys.Check(body)
		if wantErr == nil {
			wantErr = json.Unmarshal(body, &want)
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decode error %v, encoding/json %v", gotErr, wantErr)
		}
		if gotErr == nil && got != want {
			t.Fatalf("decode %+v\nencoding/json %+v", got, want)
		}
	})
}
