package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goodgo/rotation/payment"
)

// payosAPI implements PayOS's GET /v2/payment-requests/{id} as documented
// by its Node SDK (payOSHQ/payos-lib-node, resources/v2/payment-requests):
// x-client-id and x-api-key headers, a {code, desc, data, signature} body
// whose signature is the webhook algorithm over data.
type payosAPI struct {
	links  map[string]string // orderCode -> data JSON
	broken atomic.Bool       // answer 500
	badSig atomic.Bool       // sign with another key
	calls  atomic.Int32
}

func (a *payosAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	if r.Header.Get("x-client-id") != "client-1" || r.Header.Get("x-api-key") != "api-key-1" {
		http.Error(w, `{"code":"401","desc":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if a.broken.Load() {
		http.Error(w, "upstream down", http.StatusInternalServerError)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v2/payment-requests/")
	data, found := a.links[id]
	if !ok || !found || r.Method != http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"code":"101","desc":"Không tìm thấy thông tin đơn hàng","data":null,"signature":null}`)
		return
	}
	key := payosSampleKey
	if a.badSig.Load() {
		key = payosTrickyKey
	}
	sig := must(PayOSSignature([]byte(key), []byte(data)))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"code":"00","desc":"success","data":%s,"signature":"%s"}`, data, sig)
}

// memo is a payer's transfer memo that makes the signed string ambiguous.
const payosMemo = "don 42&amount=1&x"

func ambiguousPayOS(t *testing.T, orderCode, amount int64, ref string) string {
	t.Helper()
	data := fmt.Sprintf(`{"orderCode":%d,"amount":%d,"description":%q,"accountNumber":"12345678","reference":%q,"transactionDateTime":"2023-02-04 18:25:00","currency":"VND","paymentLinkId":"124c","code":"00","desc":"success"}`,
		orderCode, amount, payosMemo, ref)
	sig := must(PayOSSignature([]byte(payosSampleKey), []byte(data)))
	return `{"code":"00","desc":"success","success":true,"data":` + data + `,"signature":"` + sig + `"}`
}

type ambRecorder struct {
	recorder
	amb []string
}

func (r *ambRecorder) Ambiguous(p, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.amb = append(r.amb, p+"/"+outcome)
}

func TestPayOSAmbiguousWebhooks(t *testing.T) {
	link := `{"id":"124c","orderCode":42,"amount":599000,"amountPaid":599000,"amountRemaining":0,"status":"PAID","createdAt":"2023-02-04T18:20:00+07:00",` +
		`"transactions":[{"reference":"TF42","amount":599000,"accountNumber":"12345678","description":` + mustJSON(payosMemo) + `,"transactionDateTime":"2023-02-04 18:25:00","virtualAccountName":null,"virtualAccountNumber":null,"counterAccountBankId":null,"counterAccountBankName":null,"counterAccountName":null,"counterAccountNumber":null}],` +
		`"cancellationReason":null,"canceledAt":null}`
	api := &payosAPI{links: map[string]string{"42": link}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	set := payment.SecretSet{Current: secret(payosSampleKey)}
	client := must(NewPayOSClient(srv.URL, "client-1", secret("api-key-1"), set, srv.Client()))

	var got []PayOSEvent
	newHandler := func(rec *ambRecorder, opts ...Option) http.Handler {
		opts = append(opts, WithIdempotencyStore(payment.NewMemoryStore(nil)), WithObserver(rec))
		p := must(NewPayOS(set, opts...))
		return p.Handler(func(_ context.Context, ev PayOSEvent) error { got = append(got, ev); return nil })
	}
	post := func(h http.Handler, body string) (int, string) {
		code, w := serve(h, "POST", "application/json", nil, body)
		return code, strings.TrimSpace(w.Body.String())
	}

	t.Run("confirmed through the API", func(t *testing.T) {
		rec := &ambRecorder{}
		got = nil
		h := newHandler(rec, WithPayOSClient(client))
		if code, b := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 200 || len(got) != 1 || got[0].Unconfirmed || got[0].Description != payosMemo {
			t.Fatalf("answered %d %s, events %+v", code, b, got)
		}
		// PayOS's retry of the same payment: processed once.
		if code, b := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 200 || !strings.Contains(b, "duplicate") || len(got) != 1 {
			t.Fatalf("retry: %d %s, %d events", code, b, len(got))
		}
		if strings.Join(rec.amb, ",") != "payos/confirmed,payos/confirmed" {
			t.Fatalf("ambiguity outcomes %v", rec.amb)
		}
	})
	t.Run("contradicted by the API", func(t *testing.T) {
		rec := &ambRecorder{}
		got = nil
		h := newHandler(rec, WithPayOSClient(client))
		for _, body := range []string{ambiguousPayOS(t, 42, 999000, "TF42"), ambiguousPayOS(t, 42, 599000, "TF-other"), ambiguousPayOS(t, 43, 599000, "TF42")} {
			if code, b := post(h, body); code != 401 || len(got) != 0 {
				t.Fatalf("contradicted webhook: %d %s, events %+v", code, b, got)
			}
		}
		_, _, rj := rec.snapshot()
		if strings.Join(rj, ",") != "payos/ambiguous_mismatch,payos/ambiguous_mismatch,payos/ambiguous_mismatch" || len(rec.amb) != 3 || rec.amb[0] != "payos/mismatch" {
			t.Fatalf("refusals %v, outcomes %v", rj, rec.amb)
		}
	})
	t.Run("API down or response forged: retry later, nothing lost", func(t *testing.T) {
		rec := &ambRecorder{}
		got = nil
		h := newHandler(rec, WithPayOSClient(client))
		api.broken.Store(true)
		if code, _ := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 503 || len(got) != 0 {
			t.Fatalf("API down: %d, events %+v", code, got)
		}
		api.broken.Store(false)
		api.badSig.Store(true)
		if code, _ := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 503 || len(got) != 0 {
			t.Fatalf("forged API response: %d, events %+v", code, got)
		}
		api.badSig.Store(false)
		if code, _ := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 200 || len(got) != 1 || got[0].Unconfirmed {
			t.Fatalf("PayOS's retry once the API answers: %d, events %+v", code, got)
		}
		_, _, rj := rec.snapshot()
		if strings.Join(rj, ",") != "payos/ambiguous_query_failed,payos/ambiguous_query_failed" {
			t.Fatalf("refusals %v", rj)
		}
	})
	t.Run("no client: handed on marked unconfirmed", func(t *testing.T) {
		rec := &ambRecorder{}
		got = nil
		h := newHandler(rec)
		if code, _ := post(h, ambiguousPayOS(t, 42, 599000, "TF42")); code != 200 || len(got) != 1 || !got[0].Unconfirmed {
			t.Fatalf("%d, events %+v", code, got)
		}
		if strings.Join(rec.amb, ",") != "payos/unconfirmed" {
			t.Fatalf("outcomes %v", rec.amb)
		}
	})
	t.Run("Verify alone says ambiguous", func(t *testing.T) {
		p := must(NewPayOS(set, WithoutIdempotency()))
		ev, err := p.Verify([]byte(ambiguousPayOS(t, 42, 599000, "TF42")))
		if !errors.Is(err, payment.ErrAmbiguous) || !ev.Unconfirmed {
			t.Fatalf("Verify = %+v, %v", ev, err)
		}
	})
}

func TestPayOSClientAuthAndErrors(t *testing.T) {
	api := &payosAPI{links: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	set := payment.SecretSet{Current: secret(payosSampleKey)}
	wrong := must(NewPayOSClient(srv.URL, "client-1", secret("wrong-key"), set, nil))
	if _, err := wrong.PaymentRequest(context.Background(), 1); !errors.Is(err, ErrPayOSAPI) || strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("wrong API key: %v", err)
	}
	ok := must(NewPayOSClient(srv.URL, "client-1", secret("api-key-1"), set, nil))
	if _, err := ok.PaymentRequest(context.Background(), 7); !errors.Is(err, payment.ErrAmbiguousMismatch) || !strings.Contains(err.Error(), `"101"`) {
		t.Fatalf("unknown order: %v", err)
	}
	if _, err := NewPayOSClient(srv.URL, "", secret("k"), set, nil); err == nil {
		t.Fatal("empty client id accepted")
	}
}

func mustJSON(s string) string { return string(must(json.Marshal(s))) }
