package webhook

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

func serve(h http.Handler, method, ctype string, hdr map[string]string, body string) (int, *httptest.ResponseRecorder) {
	req := httptest.NewRequest(method, "/hook", strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w
}

func stdHeaders(t *testing.T, s *Signer, id string) map[string]string {
	t.Helper()
	return map[string]string{HeaderID: id, HeaderTimestamp: itoa(t0.Unix()), HeaderSignature: must(s.Sign(id, t0, []byte(body)))}
}

func TestStandardHandler(t *testing.T) {
	rec := &recorder{}
	var logs bytes.Buffer
	v := must(NewVerifier(rotating(), WithoutIdempotency(), WithClock(fixed(t0)), WithObserver(rec), WithMaxBody(1024),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	var got []Message
	fail := false
	h := v.Handler(func(_ context.Context, m Message) error {
		if fail {
			return errors.New("database down")
		}
		got = append(got, m)
		return nil
	})
	oldSender := must(NewSigner(payment.SecretSet{Current: secret(oldSecret)}))
	newSender := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	strangerSender := must(NewSigner(payment.SecretSet{Current: secret("whsec_YS1zdHJhbmdlci1zZWNyZXQtYS1zdHJhbmdlci1zZWNyZXQ=")}))

	// Wrong method: 405 with Allow.
	code, w := serve(h, "GET", "application/json", stdHeaders(t, newSender, "m1"), body)
	if code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow=%q", code, w.Header().Get("Allow"))
	}
	// Wrong content type: 415.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=\"unterminated"} {
		if code, _ := serve(h, "POST", ct, stdHeaders(t, newSender, "m1"), body); code != 415 {
			t.Errorf("Content-Type %q: %d", ct, code)
		}
	}
	// Too large: 413.
	if code, _ := serve(h, "POST", "application/json", stdHeaders(t, newSender, "m1"), strings.Repeat("x", 1025)); code != 413 {
		t.Errorf("big body: %d", code)
	}
	// Bad signature: 401; malformed: 400.
	if code, _ := serve(h, "POST", "application/json", stdHeaders(t, strangerSender, "m1"), body); code != 401 {
		t.Errorf("stranger: %d", code)
	}
	bad := stdHeaders(t, newSender, "m1")
	bad[HeaderTimestamp] = "soon"
	if code, _ := serve(h, "POST", "application/json", bad, body); code != 400 {
		t.Errorf("malformed timestamp: %d", code)
	}
	if len(got) != 0 {
		t.Fatalf("callback called on refusals: %v", got)
	}
	// Good: current and previous, charset parameter allowed.
	if code, w := serve(h, "POST", "application/json; charset=utf-8", stdHeaders(t, newSender, "m2"), body); code != 200 || !strings.Contains(w.Body.String(), `"success":true`) {
		t.Errorf("current: %d %s", code, w.Body)
	}
	if code, _ := serve(h, "POST", "application/cloudevents+json", stdHeaders(t, oldSender, "m3"), body); code != 200 {
		t.Errorf("previous: %d", code)
	}
	if len(got) != 2 || got[0].Slot != secretenv.SlotCurrent || got[1].Slot != secretenv.SlotPrevious || string(got[0].Body) != body {
		t.Fatalf("callback got %+v", got)
	}
	// Callback error: 500, reported, logged.
	fail = true
	if code, _ := serve(h, "POST", "application/json", stdHeaders(t, newSender, "m4"), body); code != 500 {
		t.Errorf("callback error: %d", code)
	}
	v1, f1, r1 := rec.snapshot()
	want := struct{ v, f, r string }{
		"bank_webhook/current,bank_webhook/previous,bank_webhook/current",
		"bank_webhook/bad_signature,bank_webhook/malformed",
		"bank_webhook/method,bank_webhook/content_type,bank_webhook/content_type,bank_webhook/content_type,bank_webhook/content_type,bank_webhook/body_too_large,bank_webhook/bad_signature,bank_webhook/malformed,bank_webhook/callback_error",
	}
	if strings.Join(v1, ",") != want.v || strings.Join(f1, ",") != want.f || strings.Join(r1, ",") != want.r {
		t.Errorf("observer\n verified %v\n failed %v\n rejected %v", v1, f1, r1)
	}
	if !strings.Contains(logs.String(), "database down") {
		t.Errorf("callback error not logged: %s", logs.String())
	}
	for _, sec := range []string{oldSecret, newSecret} {
		if strings.Contains(logs.String(), sec) {
			t.Error("log reveals a secret")
		}
	}
}

func TestPayOSAndCassoHandlersCommonRefusals(t *testing.T) {
	rec := &recorder{}
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency(), WithObserver(rec), WithMaxBody(64)))
	h := p.Handler(func(context.Context, PayOSEvent) error { return nil })
	if code, w := serve(h, "PUT", "application/json", nil, payosSampleBody); code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("PUT: %d", code)
	}
	if code, _ := serve(h, "POST", "text/xml", nil, payosSampleBody); code != 415 {
		t.Errorf("xml: %d", code)
	}
	if code, _ := serve(h, "POST", "application/json", nil, payosSampleBody); code != 413 {
		t.Errorf("big: %d", code)
	}
	_, _, r := rec.snapshot()
	if strings.Join(r, ",") != "payos/method,payos/content_type,payos/body_too_large" {
		t.Errorf("observer %v", r)
	}
}

// End to end over real HTTP: a sender in the middle of a rotation posts to
// a receiver that has not been upgraded yet and to one that has.
func TestEndToEndOverHTTP(t *testing.T) {
	// Both ends read the same injected clock: the rotating set's previous
	// secret is valid until t0+24h, whatever today's date is.
	sender := must(NewSigner(rotating(), WithClock(fixed(t0))))
	var got []secretenv.Slot
	for _, set := range []payment.SecretSet{{Current: secret(oldSecret)}, rotating()} {
		v := must(NewVerifier(set, WithoutIdempotency(), WithClock(fixed(t0))))
		srv := httptest.NewServer(v.Handler(func(_ context.Context, m Message) error {
			got = append(got, m.Slot)
			return nil
		}))
		req := must(sender.NewRequest(context.Background(), srv.URL, "msg_e2e", []byte(body)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if len(got) != 2 || got[0] != secretenv.SlotCurrent || got[1] != secretenv.SlotCurrent {
		t.Fatalf("slots %v", got)
	}
}
