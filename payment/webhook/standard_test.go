package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

const body = `{"type":"transfer.received","data":{"amount":599000,"memo":"Thanh toán đơn #42 & <b>"}}`

func TestTimestampToleranceBothWays(t *testing.T) {
	s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	for _, tc := range []struct {
		skew time.Duration
		ok   bool
	}{
		{0, true}, {5 * time.Minute, true}, {-5 * time.Minute, true},
		{5*time.Minute + time.Second, false}, {-5*time.Minute - time.Second, false}, {-time.Hour, false}, {24 * time.Hour, false},
	} {
		ts := t0.Add(tc.skew)
		sig := must(s.Sign("msg_1", ts, []byte(body)))
		_, err := v.Verify(context.Background(), header("msg_1", ts.Unix(), sig), []byte(body))
		if tc.ok != (err == nil) {
			t.Errorf("skew %v: err = %v, want ok=%v", tc.skew, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, payment.ErrTimestamp) {
			t.Errorf("skew %v: %v is not ErrTimestamp", tc.skew, err)
		}
	}
	// A custom tolerance is honoured.
	v2 := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0)), WithTolerance(time.Minute)))
	sig := must(s.Sign("msg_1", t0.Add(-2*time.Minute), []byte(body)))
	if _, err := v2.VerifyParts("msg_1", itoa(t0.Add(-2*time.Minute).Unix()), sig, []byte(body)); !errors.Is(err, payment.ErrTimestamp) {
		t.Errorf("1-minute tolerance accepted a 2-minute-old message: %v", err)
	}
}

func TestSignatureCoversIDTimestampBody(t *testing.T) {
	s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	sig := must(s.Sign("msg_1", t0, []byte(body)))
	ts := itoa(t0.Unix())
	if _, err := v.VerifyParts("msg_1", ts, sig, []byte(body)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][3]string{
		"id":        {"msg_2", ts, body},
		"timestamp": {"msg_1", itoa(t0.Unix() + 1), body},
		"body":      {"msg_1", ts, strings.Replace(body, "599000", "599001", 1)},
		"body ws":   {"msg_1", ts, body + " "},
		"dot shift": {"msg_1." + ts[:2], ts[2:], body},
	} {
		_, err := v.VerifyParts(c[0], c[1], sig, []byte(c[2]))
		if err == nil {
			t.Errorf("modified %s accepted", name)
		}
	}
}

func TestMalformedHeaders(t *testing.T) {
	v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	good := must(s.Sign("msg_1", t0, []byte(body)))
	ts := itoa(t0.Unix())
	for name, tc := range map[string]struct {
		id, ts, sig string
		want        error
	}{
		"no signature":      {"msg_1", ts, "", payment.ErrMissingSignature},
		"no v1":             {"msg_1", ts, "v1a,abc v2,def", payment.ErrMissingSignature},
		"no id":             {"", ts, good, payment.ErrMalformed},
		"id too long":       {strings.Repeat("a", MaxIDLen+1), ts, good, payment.ErrMalformed},
		"id with space":     {"msg 1", ts, good, payment.ErrMalformed},
		"ts not digits":     {"msg_1", "hello", good, payment.ErrMalformed},
		"ts negative":       {"msg_1", "-5", good, payment.ErrMalformed},
		"ts float":          {"msg_1", ts + ".0", good, payment.ErrMalformed},
		"ts milliseconds":   {"msg_1", ts + "000", good, payment.ErrMalformed},
		"ts leading zero":   {"msg_1", "0" + ts, good, payment.ErrMalformed},
		"signature too big": {"msg_1", ts, good + strings.Repeat(" v1,AAAA", MaxSignatureHeaderLen/8), payment.ErrMalformed},
		"bad base64":        {"msg_1", ts, "v1,!!!!", payment.ErrBadSignature},
	} {
		_, err := v.VerifyParts(tc.id, tc.ts, tc.sig, []byte(body))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	// A repeated header is ambiguous (which copy was signed?): refused.
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		h := header("msg_1", t0.Unix(), good)
		h.Add(name, h.Get(name))
		if _, err := v.Verify(context.Background(), h, []byte(body)); !errors.Is(err, payment.ErrMalformed) {
			t.Errorf("repeated %s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Missing headers through Verify.
	for _, drop := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		h := header("msg_1", t0.Unix(), good)
		h.Del(drop)
		if _, err := v.Verify(context.Background(), h, []byte(body)); err == nil {
			t.Errorf("accepted without %s", drop)
		}
	}
}

// The rotation story: the sender moves to the new secret and, while the
// old one is live, signs with both; receivers are upgraded one by one.
func TestRotationSenderSignsWithBoth(t *testing.T) {
	sender := must(NewSigner(rotating(), WithClock(fixed(t0))))
	sig := must(sender.Sign("msg_1", t0, []byte(body)))
	if n := strings.Count(sig, "v1,"); n != 2 {
		t.Fatalf("during the rotation the sender must sign with both secrets, got %q", sig)
	}
	oldReceiver := must(NewVerifier(payment.SecretSet{Current: secret(oldSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	newReceiver := must(NewVerifier(rotating(), WithoutIdempotency(), WithClock(fixed(t0))))
	newOnly := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	for name, v := range map[string]*Verifier{"old receiver": oldReceiver, "new receiver": newReceiver, "new-only receiver": newOnly} {
		m, err := v.VerifyParts("msg_1", itoa(t0.Unix()), sig, []byte(body))
		if err != nil || m.Slot != secretenv.SlotCurrent {
			t.Errorf("%s: slot %q, %v", name, m.Slot, err)
		}
	}
	// After the deadline, or in incident mode, the sender stops signing
	// with the old secret.
	late := must(NewSigner(rotating(), WithClock(fixed(t0.Add(25*time.Hour)))))
	inc := rotating()
	inc.Incident = true
	incident := must(NewSigner(inc, WithClock(fixed(t0))))
	for name, s := range map[string]*Signer{"after deadline": late, "incident": incident} {
		sig := must(s.Sign("msg_1", t0, []byte(body)))
		if strings.Count(sig, "v1,") != 1 {
			t.Errorf("%s: %q still carries the old signature", name, sig)
		}
		if _, err := oldReceiver.VerifyParts("msg_1", itoa(t0.Unix()), sig, []byte(body)); err == nil {
			t.Errorf("%s: old receiver accepted a message without the old signature", name)
		}
	}
}

func TestRotationVerifierWindow(t *testing.T) {
	oldSender := must(NewSigner(payment.SecretSet{Current: secret(oldSecret)}))
	newSender := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	until := t0.Add(24 * time.Hour)
	for _, tc := range []struct {
		name     string
		at       time.Time
		incident bool
		sender   *Signer
		slot     secretenv.Slot
		err      error
	}{
		{"previous inside window", t0, false, oldSender, secretenv.SlotPrevious, nil},
		{"previous one second before deadline", until.Add(-time.Second), false, oldSender, secretenv.SlotPrevious, nil},
		{"previous at deadline", until, false, oldSender, "", payment.ErrRetiredKey},
		{"previous after deadline", until.Add(time.Hour), false, oldSender, "", payment.ErrRetiredKey},
		{"previous in incident mode", t0, true, oldSender, "", payment.ErrRetiredKey},
		{"current", t0, false, newSender, secretenv.SlotCurrent, nil},
		{"current after deadline", until.Add(time.Hour), false, newSender, secretenv.SlotCurrent, nil},
		{"current in incident mode", t0, true, newSender, secretenv.SlotCurrent, nil},
	} {
		set := rotating()
		set.Incident = tc.incident
		rec := &recorder{}
		v := must(NewVerifier(set, WithoutIdempotency(), WithClock(fixed(tc.at)), WithObserver(rec)))
		sig := must(tc.sender.Sign("msg_1", tc.at, []byte(body)))
		m, err := v.Verify(context.Background(), header("msg_1", tc.at.Unix(), sig), []byte(body))
		if m.Slot != tc.slot || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: slot %q err %v, want %q %v", tc.name, m.Slot, err, tc.slot, tc.err)
		}
		verified, failed, _ := rec.snapshot()
		if tc.err == nil && (len(verified) != 1 || verified[0] != "bank_webhook/"+string(tc.slot)) {
			t.Errorf("%s: observer got %v", tc.name, verified)
		}
		if tc.err != nil && (len(failed) != 1 || failed[0] != "bank_webhook/retired_key") {
			t.Errorf("%s: observer got %v", tc.name, failed)
		}
	}
}

func TestWhsecSecrets(t *testing.T) {
	if _, err := NewSigner(payment.SecretSet{Current: secret("whsec_not base64!")}); !errors.Is(err, ErrBadSecret) {
		t.Errorf("bad whsec_: %v", err)
	}
	if _, err := NewSigner(payment.SecretSet{Current: secret("whsec_c2hvcnQ=")}); !errors.Is(err, ErrBadSecret) {
		t.Errorf("whsec_ of 5 bytes: %v", err)
	}
	// A raw secret deployed before the spec was followed: refused by
	// default, its raw bytes with WithRawSecrets.
	raw := "0123456789abcdef0123456789abcdef!"
	if _, err := NewSigner(payment.SecretSet{Current: secret(raw)}); !errors.Is(err, ErrBadSecret) {
		t.Errorf("raw secret without WithRawSecrets: %v", err)
	}
	// whsec_ of the same bytes as a raw previous secret is the same key.
	set := payment.SecretSet{Current: secret("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYh"), Previous: secret(raw), PreviousUntil: t0}
	if _, err := NewVerifier(set, WithoutIdempotency(), WithRawSecrets()); !errors.Is(err, payment.ErrSameSecret) {
		t.Errorf("whsec_ and raw forms of one key: %v", err)
	}
	// Migration: current whsec_, previous raw; both verify with WithRawSecrets.
	at := time.Unix(swTimestamp, 0)
	mig := payment.SecretSet{Current: secret(swSecret), Previous: secret(raw), PreviousUntil: at.Add(time.Hour)}
	v := must(NewVerifier(mig, WithoutIdempotency(), WithRawSecrets(), WithClock(fixed(at))))
	oldSig := must(must(NewSigner(payment.SecretSet{Current: secret(raw)}, WithRawSecrets())).Sign(swID, at, []byte(swPayload)))
	if m, err := v.VerifyParts(swID, "1614265330", oldSig, []byte(swPayload)); err != nil || m.Slot != secretenv.SlotPrevious {
		t.Errorf("raw previous during migration: %+v %v", m, err)
	}
	if m, err := v.VerifyParts(swID, "1614265330", swExpected, []byte(swPayload)); err != nil || m.Slot != secretenv.SlotCurrent {
		t.Errorf("whsec_ current during migration: %+v %v", m, err)
	}
}

func TestLoadSecrets(t *testing.T) {
	good := map[string]string{
		"BANK_TRANSFER_WEBHOOK_SECRET":                newSecret,
		"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS":       oldSecret,
		"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL": "2026-11-28T16:00:00+07:00",
	}
	set, err := LoadSecrets(secretenv.Map(good))
	if err != nil || !set.Current.Equal(secret(newSecret)) || !set.Previous.Equal(secret(oldSecret)) || !set.PreviousUntil.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("LoadSecrets = %+v, %v", set, err)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want error
	}{
		"missing":        {with("BANK_TRANSFER_WEBHOOK_SECRET", ""), secretenv.ErrMissing},
		"too short":      {with("BANK_TRANSFER_WEBHOOK_SECRET", "short-secret-31-bytes-long-abcd"), secretenv.ErrTooShort},
		"same":           {with("BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS", newSecret), secretenv.ErrDuplicate},
		"no deadline":    {with("BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL", ""), payment.ErrNoDeadline},
		"bad whsec":      {with("BANK_TRANSFER_WEBHOOK_SECRET", "whsec_@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"), ErrBadSecret},
		"bad prev whsec": {with("BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS", "whsec_@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"), ErrBadSecret},
	} {
		_, err := LoadSecrets(secretenv.Map(tc.env))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		for _, v := range tc.env {
			if err != nil && strings.Contains(err.Error(), v) && !strings.HasPrefix(v, "2026") {
				t.Errorf("%s: error reveals a secret value", name)
			}
		}
	}
}

func TestLoadNotifierSecretSets(t *testing.T) {
	env := secretenv.Map(map[string]string{
		"PAYOS_CHECKSUM_KEY": payosSampleKey, "PAYOS_CHECKSUM_KEY_PREVIOUS": payosTrickyKey, "PAYOS_CHECKSUM_KEY_PREVIOUS_UNTIL": "2026-11-28T16:00:00+07:00",
		"CASSO_WEBHOOK_SECRET": "short",
	})
	set, err := payment.LoadSecretSet(env, PayOSVars, secretenv.ProviderSecretRule)
	if err != nil || !set.Previous.Equal(secret(payosTrickyKey)) {
		t.Fatalf("PayOS: %+v %v", set, err)
	}
	if _, err := payment.LoadSecretSet(env, CassoVars, secretenv.ProviderSecretRule); !errors.Is(err, secretenv.ErrTooShort) || strings.Contains(err.Error(), "short\"") {
		t.Fatalf("Casso: %v", err)
	}
}

// No secret in any error, String or log output.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{newSecret, oldSecret, "whsec_@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"}
	var out []string
	s := must(NewSigner(rotating()))
	v := must(NewVerifier(rotating(), WithoutIdempotency(), WithClock(fixed(t0))))
	c := must(NewCasso(rotating(), WithoutIdempotency()))
	p := must(NewPayOS(rotating(), WithoutIdempotency()))
	out = append(out, fmt.Sprintf("%v %+v %#v %v %+v", s, v, rotating(), c, p))
	for _, b := range []string{`{"data":{"a":1},"signature":"` + strings.Repeat("0", 64) + `"}`, `{"data":{"a":{}},"signature":"x"}`, "{"} {
		if _, err := p.Verify([]byte(b)); err != nil {
			out = append(out, err.Error())
		}
		if _, err := c.Verify("t=1,v1="+strings.Repeat("0", 128), []byte(b)); err != nil {
			out = append(out, err.Error())
		}
	}
	_, err := NewSigner(payment.SecretSet{Current: secret(secrets[2])})
	out = append(out, err.Error())
	for _, sig := range []string{"", "v1,xx", "v1," + newSecret} {
		if _, err := v.VerifyParts("msg_1", itoa(t0.Unix()), sig, []byte(body)); err != nil {
			out = append(out, err.Error())
		}
	}
	for _, o := range out {
		for _, sec := range secrets {
			if strings.Contains(o, sec) || strings.Contains(o, sec[6:20]) {
				t.Errorf("output reveals a secret (message withheld)")
			}
		}
	}
}

func TestSignRequest(t *testing.T) {
	s := must(NewSigner(rotating(), WithClock(fixed(t0))))
	req, _ := http.NewRequest(http.MethodPost, "http://x/hook", strings.NewReader(body))
	if err := s.SignRequest(req, "msg_1", []byte(body)); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("webhook-timestamp") != itoa(t0.Unix()) || req.Header.Get("webhook-id") != "msg_1" || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", req.Header)
	}
	v := must(NewVerifier(payment.SecretSet{Current: secret(oldSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	if _, err := v.Verify(context.Background(), req.Header, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := s.SignRequest(req, "bad id", []byte(body)); !errors.Is(err, payment.ErrMalformed) {
		t.Fatalf("bad id: %v", err)
	}
}
