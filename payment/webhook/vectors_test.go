package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// Standard Webhooks official vector: libraries/go/webhook_test.go
// (TestWebhookSign) and libraries/javascript/src/webhook.test.ts ("sign
// function works") in github.com/standard-webhooks/standard-webhooks.
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = 1614265330
	swPayload   = `{"test": 2432232314}`
	swExpected  = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestStandardWebhooksVectorSign(t *testing.T) {
	s := must(NewSigner(payment.SecretSet{Current: secret(swSecret)}))
	got := must(s.Sign(swID, time.Unix(swTimestamp, 0), []byte(swPayload)))
	if got != swExpected {
		t.Fatalf("Sign = %s, want %s (Standard Webhooks TestWebhookSign)", got, swExpected)
	}
}

func TestStandardWebhooksVectorVerify(t *testing.T) {
	at := time.Unix(swTimestamp, 0)
	v := must(NewVerifier(payment.SecretSet{Current: secret(swSecret)}, WithoutIdempotency(), WithClock(fixed(at))))
	// "valid multi sig is valid" from the same test files: bogus v1, an
	// unknown v2, the valid one, bogus v1 again.
	multi := strings.Join([]string{
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		"v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		swExpected,
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
	}, " ")
	for name, sig := range map[string]string{"single": swExpected, "multi": multi, "with v1a": "v1a,AAAA " + swExpected} {
		m, err := v.VerifyParts(swID, "1614265330", sig, []byte(swPayload))
		if err != nil || m.Slot != secretenv.SlotCurrent || m.ID != swID || !m.Timestamp.Equal(at) {
			t.Errorf("%s: %+v, %v", name, m, err)
		}
	}
	// Invalid vectors from the same tests.
	for name, sig := range map[string]string{
		"invalid":   "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		"garbage":   "v1,dawfeoifkpqwoekfpqoekf",
		"partial":   swExpected[:8],
		"empty v1":  "v1,",
		"only v1a":  "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"uppercase": "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	} {
		if _, err := v.VerifyParts(swID, "1614265330", sig, []byte(swPayload)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The reference libraries base64-decode the secret with or without its
	// prefix, and so do we; only WithRawSecrets keeps the old raw reading.
	bare := must(NewVerifier(payment.SecretSet{Current: secret(strings.TrimPrefix(swSecret, "whsec_"))}, WithoutIdempotency(), WithClock(fixed(at))))
	if _, err := bare.VerifyParts(swID, "1614265330", swExpected, []byte(swPayload)); err != nil {
		t.Errorf("the spec's vector secret without whsec_: %v", err)
	}
	raw := must(NewVerifier(payment.SecretSet{Current: secret(strings.TrimPrefix(swSecret, "whsec_"))}, WithoutIdempotency(), WithClock(fixed(at)), WithRawSecrets()))
	if _, err := raw.VerifyParts(swID, "1614265330", swExpected, []byte(swPayload)); err == nil {
		t.Error("WithRawSecrets: an unprefixed secret must be raw bytes, not base64-decoded")
	}
}

// Casso's published sample: golang.go and python.py in
// github.com/CassoHQ/casso-webhook-v2-verify-signature (checksumKey
// "mgExMr…", t=1727948258788). The body below is the sample's data as a
// receiver gets it, in the sample's (unsorted) key order.
const (
	cassoSampleKey    = "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs"
	cassoSampleHeader = "t=1727948258788,v1=ed0a4bd2e826d5cb69988cdb141e6c1a080e21f3b57eb72cd78192220042b9e7dde0868fc667faea8e224900fa7904e7c88dfa098032fb2d6b6996856e8b7ff3"
	cassoSampleBody   = `{
  "error": 0,
  "data": {
    "id": 0,
    "reference": "MA_GIAO_DICH_THU_NGHIEM",
    "description": "giao dich thu nghiem",
    "amount": 599000,
    "runningBalance": 25000000,
    "transactionDateTime": "2024-10-03 15:06:37",
    "accountNumber": "88888888",
    "bankName": "VPBank",
    "bankAbbreviation": "VPB",
    "virtualAccountNumber": "",
    "virtualAccountName": "",
    "counterAccountName": "NGUYEN VAN A",
    "counterAccountNumber": "8888888888",
    "counterAccountBankId": "970415",
    "counterAccountBankName": "VietinBank"
  }
}`
)

var cassoAt = time.UnixMilli(1727948258788)

func TestCassoVector(t *testing.T) {
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt.Add(2*time.Second)))))
	ev, err := c.Verify(cassoSampleHeader, []byte(cassoSampleBody))
	if err != nil {
		t.Fatalf("Casso's published sample refused: %v", err)
	}
	d := ev.Data
	if ev.Slot != secretenv.SlotCurrent || d.Amount != 599000 || d.RunningBalance != 25000000 || d.Reference != "MA_GIAO_DICH_THU_NGHIEM" ||
		d.CounterAccountBankID != "970415" || d.BankAbbreviation != "VPB" || !ev.Timestamp.Equal(cassoAt) {
		t.Fatalf("event = %+v", ev)
	}
	// And we produce the same header.
	got := must(CassoSignature([]byte(cassoSampleKey), cassoAt, []byte(cassoSampleBody)))
	if got != cassoSampleHeader {
		t.Fatalf("CassoSignature = %s\nwant %s", got, cassoSampleHeader)
	}
}

// PayOS's published sample: https://payos.vn/docs/tich-hop-webhook/kiem-tra-du-lieu-voi-signature
// (checksum key "1a5471…", signature 412e915d…).
const (
	payosSampleKey  = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
	payosSampleBody = `{"code":"00","desc":"success","success":true,"data":{"orderCode":123,"amount":3000,"description":"VQRIO123","accountNumber":"12345678","reference":"TF230204212323","transactionDateTime":"2023-02-04 18:25:00","currency":"VND","paymentLinkId":"124c33293c43417ab7879e14c8d9eb18","code":"00","desc":"Thành công","counterAccountBankId":"","counterAccountBankName":"","counterAccountName":"","counterAccountNumber":"","virtualAccountName":"","virtualAccountNumber":""},"signature":"412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"}`
)

func TestPayOSVector(t *testing.T) {
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency()))
	ev, err := p.Verify([]byte(payosSampleBody))
	if err != nil {
		t.Fatalf("PayOS's published sample refused: %v", err)
	}
	if ev.OrderCode != 123 || ev.Amount != 3000 || ev.Desc != "Thành công" || ev.PaymentLinkID != "124c33293c43417ab7879e14c8d9eb18" ||
		ev.Currency != "VND" || ev.Fields()["amount"] != "3000" || ev.Slot != secretenv.SlotCurrent {
		t.Fatalf("event = %+v", ev)
	}
	data := payosSampleBody[strings.Index(payosSampleBody, `"data":`)+7 : strings.Index(payosSampleBody, `,"signature"`)]
	if got := must(PayOSSignature([]byte(payosSampleKey), []byte(data))); got != "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03" {
		t.Fatalf("PayOSSignature = %s", got)
	}
}

// header builds Standard Webhooks headers.
func header(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, itoa(ts))
	h.Set(HeaderSignature, sig)
	return h
}

// Svix-branded senders put the same scheme under svix-* headers; a request
// with webhook-* headers is read by those alone.
func TestSvixHeaders(t *testing.T) {
	at := time.Unix(swTimestamp, 0)
	v := must(NewVerifier(payment.SecretSet{Current: secret(swSecret)}, WithoutIdempotency(), WithClock(fixed(at))))
	h := http.Header{}
	h.Set(SvixHeaderID, swID)
	h.Set(SvixHeaderTimestamp, "1614265330")
	h.Set(SvixHeaderSignature, swExpected)
	if m, err := v.Verify(t.Context(), h, []byte(swPayload)); err != nil || m.ID != swID {
		t.Fatalf("svix-* headers: %+v %v", m, err)
	}
	h.Set(HeaderID, swID) // a partial webhook-* set: read as webhook-*, so incomplete
	if _, err := v.Verify(t.Context(), h, []byte(swPayload)); err == nil {
		t.Error("webhook-id with svix-* timestamp and signature: accepted")
	}
}

// TestReferenceLibraryVector pins a signature made by the Standard Webhooks
// reference library (npm standardwebhooks 1.0.0) with a secret in the form
// "rotate keygen webhook" prints: produced by
// payment/testdata/standardwebhooks/vector.js (npm ci && node vector.js).
// Before secrets were read per the spec, ours gave another signature.
func TestReferenceLibraryVector(t *testing.T) {
	const (
		refSecret = "whsec_cm90YXRpb24tY3Jvc3MtY2hlY2sta2V5LW9mLTQ4LWJ5dGVzLTAxMjM0NTY3ODk="
		refSig    = "v1,KwKW8w+GhzyVnpHjo9YJ1hqbRHdSjzsLg4Hua2twoJ0="
		refID     = "msg_rotation_1"
		refTS     = 1764662400
		refBody   = `{"amount":500000,"memo":"CK don hang 42"}`
	)
	at := time.Unix(refTS, 0)
	s := must(NewSigner(payment.SecretSet{Current: secret(refSecret)}))
	if got := must(s.Sign(refID, at, []byte(refBody))); got != refSig {
		t.Errorf("Sign = %s, the reference library gives %s", got, refSig)
	}
	// The reference signature verifies here, as current and, after a
	// rotation, as previous inside its window.
	rot := payment.SecretSet{Current: secret(newSecret), Previous: secret(refSecret), PreviousUntil: at.Add(time.Hour)}
	for set, slot := range map[*payment.SecretSet]secretenv.Slot{{Current: secret(refSecret)}: secretenv.SlotCurrent, &rot: secretenv.SlotPrevious} {
		v := must(NewVerifier(*set, WithoutIdempotency(), WithClock(fixed(at))))
		if m, err := v.VerifyParts(refID, itoa(refTS), refSig, []byte(refBody)); err != nil || m.Slot != slot {
			t.Errorf("reference signature, want slot %s: %+v %v", slot, m, err)
		}
	}
}
