package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// A body exercising the bytes on which JSON encoders disagree: '"', '&',
// '<', '>', '/', U+2028, control characters, Vietnamese text, and numbers
// JavaScript reprints (16775000.0, -1.5e3, 1e21, 1e-7). The expected
// message and signature were produced with node v20 by the algorithm of
// Casso's javascript.js sample (sortObjDataByKey + JSON.stringify,
// HMAC-SHA512 hex).
var (
	cassoTrickyBody = strings.Replace(`{"error":0,"data":{"id":218897,"reference":"FT24364030863634","description":"CT tu NGUYEN VAN A chuyen tien \"don #42\" & <b>/x</b> LS tab\t nl\n \u0001 Thanh toán đơn hàng","amount":16775000.0,"runningBalance":-1.5e3,"transactionDateTime":"2024-12-23 07:00:00","accountNumber":"123456789","bankName":"MBBank","bankAbbreviation":"MBB","virtualAccountNumber":"","virtualAccountName":"","counterAccountName":"","counterAccountNumber":"","counterAccountBankId":"","counterAccountBankName":"","z":1e21,"y":0.000001,"x":1e-7,"w":123456789012}}`, "LS", "\u2028", 1)
	cassoTrickyMsg  = strings.Replace(`1734924830020.{"data":{"accountNumber":"123456789","amount":16775000,"bankAbbreviation":"MBB","bankName":"MBBank","counterAccountBankId":"","counterAccountBankName":"","counterAccountName":"","counterAccountNumber":"","description":"CT tu NGUYEN VAN A chuyen tien \"don #42\" & <b>/x</b> LS tab\t nl\n \u0001 Thanh toán đơn hàng","id":218897,"reference":"FT24364030863634","runningBalance":-1500,"transactionDateTime":"2024-12-23 07:00:00","virtualAccountName":"","virtualAccountNumber":"","w":123456789012,"x":1e-7,"y":0.000001,"z":1e+21},"error":0}`, "LS", "\u2028", 1)
	cassoTrickyKey  = "casso-test-key-0123456789abcdef0123456789abcdef0123456789abcdef"
	cassoTrickySig  = "t=1734924830020,v1=46876ddd55fa79a87132b371ef5b8d1853b182fc3803d61c0885dc45c90f01300e429c4584304dd383a4ac5f2b7e353f78392cabee4fd96a9414cd4abcdfe20d"
)

func TestCassoCanonicalMatchesJavaScript(t *testing.T) {
	root, err := parseJSON([]byte(cassoTrickyBody))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cassoMessage(nil, "1734924830020", &root)); got != cassoTrickyMsg {
		t.Fatalf("canonical message\n got %q\nwant %q", got, cassoTrickyMsg)
	}
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoTrickyKey)}, WithoutIdempotency(), WithClock(fixed(time.UnixMilli(1734924830020)))))
	ev, err := c.Verify(cassoTrickySig, []byte(cassoTrickyBody))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Data.Amount != 16775000 || ev.Data.RunningBalance != -1500 || !strings.Contains(ev.Data.Description, "\"don #42\" & <b>") {
		t.Fatalf("event %+v", ev.Data)
	}
}

func TestCassoHeaderParsing(t *testing.T) {
	v1 := strings.Repeat("ab", 64)
	for h, want := range map[string]error{
		"":                                   payment.ErrMissingSignature,
		"t=1":                                payment.ErrMissingSignature,
		"v1=" + v1:                           payment.ErrMalformed,
		"t=abc,v1=" + v1:                     payment.ErrMalformed,
		"t=-1,v1=" + v1:                      payment.ErrMalformed,
		"t=+1,v1=" + v1:                      payment.ErrMalformed,
		"t=01,v1=" + v1:                      payment.ErrMalformed,
		"t=1,t=2,v1=" + v1:                   payment.ErrMalformed,
		"t=1,v1=" + v1[:100]:                 payment.ErrMalformed,
		"t=1,v1=" + strings.Repeat("zz", 64): payment.ErrMalformed,
		"t=1;v1=" + v1:                       payment.ErrMalformed,
		"t=1,v1=" + v1 + strings.Repeat(",x=y", MaxSignatureHeaderLen/4): payment.ErrMalformed,
	} {
		if _, err := parseCassoHeader(h); !errors.Is(err, want) {
			t.Errorf("%.40q: %v, want %v", h, err, want)
		}
	}
	h, err := parseCassoHeader("t=1727948258788, v1=" + v1 + ",v0=ignored,v1=" + strings.ToUpper(v1))
	if err != nil || h.ms != 1727948258788 || len(h.sigs) != 2 {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestCassoTamperAndTolerance(t *testing.T) {
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt))))
	for name, b := range map[string]string{
		"amount":     strings.Replace(cassoSampleBody, "599000", "599001", 1),
		"amount 1.0": strings.Replace(cassoSampleBody, "599000", "599000.5", 1),
		"new field":  strings.Replace(cassoSampleBody, `"error": 0,`, `"error": 0, "x": 1,`, 1),
		"error":      strings.Replace(cassoSampleBody, `"error": 0`, `"error": 1`, 1),
		"type":       strings.Replace(cassoSampleBody, `"amount": 599000`, `"amount": "599000"`, 1),
		"duplicate":  strings.Replace(cassoSampleBody, `"error": 0,`, `"error": 0, "error": 0,`, 1),
		"not json":   cassoSampleBody[:50],
	} {
		if _, err := c.Verify(cassoSampleHeader, []byte(b)); err == nil {
			t.Errorf("%s: modified body accepted", name)
		}
	}
	// Typed integers JavaScript cannot hold exactly are refused, even
	// correctly signed (…993 and …992 sign alike).
	big := `{"error":0,"data":{"amount":9007199254740993}}`
	if _, err := c.Verify(must(CassoSignature([]byte(cassoSampleKey), cassoAt, []byte(big))), []byte(big)); !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("unsafe integer amount: %v", err)
	}
	// Whitespace and key order are not signed: still the same message.
	compact := `{"data":{"id":0,"reference":"MA_GIAO_DICH_THU_NGHIEM","description":"giao dich thu nghiem","amount":599000,"runningBalance":25000000,"transactionDateTime":"2024-10-03 15:06:37","accountNumber":"88888888","bankName":"VPBank","bankAbbreviation":"VPB","virtualAccountNumber":"","virtualAccountName":"","counterAccountName":"NGUYEN VAN A","counterAccountNumber":"8888888888","counterAccountBankId":"970415","counterAccountBankName":"VietinBank"},"error":0}`
	if _, err := c.Verify(cassoSampleHeader, []byte(compact)); err != nil {
		t.Errorf("reordered body: %v", err)
	}
	for _, skew := range []time.Duration{6 * time.Minute, -6 * time.Minute} {
		late := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithTolerance(5*time.Minute), WithClock(fixed(cassoAt.Add(skew)))))
		if _, err := late.Verify(cassoSampleHeader, []byte(cassoSampleBody)); !errors.Is(err, payment.ErrTimestamp) {
			t.Errorf("skew %v: %v", skew, err)
		}
	}
	off := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt.Add(time.Hour))), WithTolerance(0)))
	if _, err := off.Verify(cassoSampleHeader, []byte(cassoSampleBody)); err != nil {
		t.Errorf("tolerance disabled: %v", err)
	}
}

func TestCassoRotation(t *testing.T) {
	oldKey, newKey := cassoSampleKey, "casso-new-key-0123456789abcdef0123456789abcdef"
	until := cassoAt.Add(time.Hour)
	byOld := cassoSampleHeader
	byNew := must(CassoSignature([]byte(newKey), cassoAt, []byte(cassoSampleBody)))
	for _, tc := range []struct {
		name     string
		now      time.Time
		incident bool
		header   string
		slot     secretenv.Slot
		err      error
	}{
		{"previous inside window", cassoAt, false, byOld, secretenv.SlotPrevious, nil},
		{"previous after deadline", until, false, byOld, "", payment.ErrRetiredKey},
		{"previous in incident mode", cassoAt, true, byOld, "", payment.ErrRetiredKey},
		{"current", cassoAt, true, byNew, secretenv.SlotCurrent, nil},
	} {
		set := payment.SecretSet{Current: secret(newKey), Previous: secret(oldKey), PreviousUntil: until, Incident: tc.incident}
		c := must(NewCasso(set, WithoutIdempotency(), WithClock(fixed(tc.now)), WithTolerance(0)))
		ev, err := c.Verify(tc.header, []byte(cassoSampleBody))
		if ev.Slot != tc.slot || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("%s: %q %v", tc.name, ev.Slot, err)
		}
	}
}

func TestCassoHandler(t *testing.T) {
	rec := &recorder{}
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt)), WithObserver(rec)))
	var got CassoEvent
	h := c.Handler(func(_ context.Context, ev CassoEvent) error { got = ev; return nil })
	hdr := map[string]string{HeaderCassoSignature: cassoSampleHeader}
	if code, _ := serve(h, "POST", "application/json", hdr, cassoSampleBody); code != 200 || got.Data.Amount != 599000 {
		t.Fatalf("code %d, event %+v", code, got)
	}
	hdr[HeaderCassoSignature] = strings.Replace(cassoSampleHeader, "ed0a", "ed0b", 1)
	if code, _ := serve(h, "POST", "application/json", hdr, cassoSampleBody); code != 401 {
		t.Fatalf("bad signature: %d", code)
	}
	v, f, r := rec.snapshot()
	if strings.Join(v, ",") != "casso/current" || strings.Join(f, ",") != "casso/bad_signature" || strings.Join(r, ",") != "casso/bad_signature" {
		t.Fatalf("observer: %v %v %v", v, f, r)
	}
}
