package paymenttest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/paymenttest"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
)

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestVNPay(t *testing.T) {
	vp := paymenttest.NewVNPay(t)
	c, err := vnpay.New(vp.Config())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := c.IPNHandler(func(_ context.Context, n *vnpay.Notification) vnpay.IPNResponse {
		calls.Add(1)
		if n.Amount != 599000 || !n.Paid() {
			return vnpay.InvalidAmount
		}
		return vnpay.ConfirmSuccess
	})
	ipn := func(ref string, s paymenttest.Signer) vnpay.IPNResponse {
		return paymenttest.VNPayAnswer(t, serve(h, vp.IPN(t, paymenttest.VNPayIPN{TxnRef: ref, Amount: 599000, Signer: s})))
	}
	if got := ipn("1", paymenttest.Current); got != vnpay.ConfirmSuccess {
		t.Errorf("current: %+v", got)
	}
	if got := ipn("1", paymenttest.Current); got != vnpay.OrderAlreadyConfirmed {
		t.Errorf("retry: %+v", got)
	}
	if got := ipn("2", paymenttest.Previous); got != vnpay.ConfirmSuccess {
		t.Errorf("previous inside window: %+v", got)
	}
	if got := ipn("3", paymenttest.Unknown); got != vnpay.InvalidSignature {
		t.Errorf("unknown: %+v", got)
	}
	vp.Clock.Advance(paymenttest.Window)
	if got := ipn("4", paymenttest.Previous); got != vnpay.InvalidSignature {
		t.Errorf("previous after window: %+v", got)
	}
	if calls.Load() != 2 {
		t.Errorf("callback ran %d times, want 2", calls.Load())
	}
}

func TestMoMo(t *testing.T) {
	m := paymenttest.NewMoMo(t)
	c, err := momo.New(m.Config())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := c.IPNHandler(func(_ context.Context, n *momo.Notification) error { calls.Add(1); return nil })
	ipn := func(id string, s paymenttest.Signer) *httptest.ResponseRecorder {
		return serve(h, m.IPN(t, paymenttest.MoMoIPN{OrderID: id, Amount: 50000, Signer: s}))
	}
	for _, c := range []struct {
		id   string
		s    paymenttest.Signer
		want bool
	}{{"o1", paymenttest.Current, true}, {"o1", paymenttest.Current, true}, {"o2", paymenttest.Previous, true}, {"o3", paymenttest.Unknown, false}} {
		if got := paymenttest.MoMoAccepted(ipn(c.id, c.s)); got != c.want {
			t.Errorf("%s %v: accepted %v", c.id, c.s, got)
		}
	}
	m.Clock.Advance(paymenttest.Window)
	if paymenttest.MoMoAccepted(ipn("o4", paymenttest.Previous)) {
		t.Error("previous accepted after its window")
	}
	if calls.Load() != 2 {
		t.Errorf("callback ran %d times, want 2", calls.Load())
	}
}

func TestZaloPay(t *testing.T) {
	z := paymenttest.NewZaloPay(t)
	c, err := zalopay.New(z.Config())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := c.CallbackHandler(func(_ context.Context, cb *zalopay.Callback) error { calls.Add(1); return nil })
	cb := func(id string, s paymenttest.Signer) zalopay.CallbackResponse {
		return paymenttest.ZaloPayAnswer(t, serve(h, z.Callback(t, paymenttest.ZaloPayCallback{AppTransID: id, Amount: 50000, Signer: s})))
	}
	if got := cb("300115_1", paymenttest.Current); got != zalopay.CallbackOK {
		t.Errorf("current: %+v", got)
	}
	if got := cb("300115_1", paymenttest.Current); got != zalopay.CallbackAlreadyProcessed {
		t.Errorf("retry: %+v", got)
	}
	if got := cb("300115_2", paymenttest.Previous); got != zalopay.CallbackOK {
		t.Errorf("previous: %+v", got)
	}
	if got := cb("300115_3", paymenttest.Unknown); got.ReturnCode != -1 {
		t.Errorf("unknown: %+v", got)
	}
	if calls.Load() != 2 {
		t.Errorf("callback ran %d times, want 2", calls.Load())
	}
}

func TestStandardWebhooks(t *testing.T) {
	w := paymenttest.NewStandardWebhooks(t)
	v, err := webhook.NewVerifier(w.Set(), w.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := v.Handler(func(context.Context, webhook.Message) error { calls.Add(1); return nil })
	body := []byte(`{"type":"transfer.received","amount":599000}`)
	for _, c := range []struct {
		id   string
		s    paymenttest.Signer
		want int
	}{{"msg_1", paymenttest.Current, 200}, {"msg_1", paymenttest.Current, 200}, {"msg_2", paymenttest.Previous, 200}, {"msg_3", paymenttest.Unknown, 401}} {
		if rec := serve(h, w.Standard(t, c.id, body, c.s)); rec.Code != c.want {
			t.Errorf("%s %v: %d %s", c.id, c.s, rec.Code, rec.Body)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("callback ran %d times, want 2", calls.Load())
	}
}

func TestCassoAndPayOS(t *testing.T) {
	cs := paymenttest.NewCasso(t)
	casso, err := webhook.NewCasso(cs.Set(), cs.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	hc := casso.Handler(func(_ context.Context, ev webhook.CassoEvent) error {
		got = append(got, ev.Data.Description)
		return nil
	})
	for _, c := range []struct {
		id   int64
		s    paymenttest.Signer
		want int
	}{{1, paymenttest.Current, 200}, {1, paymenttest.Current, 200}, {2, paymenttest.Previous, 200}, {3, paymenttest.Unknown, 401}} {
		if rec := serve(hc, cs.Casso(t, paymenttest.CassoTransfer{ID: c.id, Amount: 599000, Description: "don 42", Signer: c.s})); rec.Code != c.want {
			t.Errorf("casso %d %v: %d %s", c.id, c.s, rec.Code, rec.Body)
		}
	}
	if len(got) != 2 {
		t.Errorf("casso callback ran %d times", len(got))
	}

	ps := paymenttest.NewPayOS(t)
	payos, err := webhook.NewPayOS(ps.Set(), ps.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	var events []webhook.PayOSEvent
	hp := payos.Handler(func(_ context.Context, ev webhook.PayOSEvent) error { events = append(events, ev); return nil })
	for _, c := range []struct {
		code int64
		memo string
		s    paymenttest.Signer
		want int
	}{{1, "don 1", paymenttest.Current, 200}, {1, "don 1", paymenttest.Current, 200}, {2, "don 2", paymenttest.Previous, 200},
		{3, "don 3", paymenttest.Unknown, 401}, {4, "a&amount=1&b", paymenttest.Current, 200}} {
		rec := serve(hp, ps.PayOS(t, paymenttest.PayOSPayment{OrderCode: c.code, Amount: 2000, Description: c.memo, Signer: c.s}))
		if rec.Code != c.want {
			t.Errorf("payos %d %v: %d %s", c.code, c.s, rec.Code, rec.Body)
		}
	}
	if len(events) != 3 || events[0].Unconfirmed || !events[2].Unconfirmed {
		b, _ := json.Marshal(events)
		t.Errorf("payos events: %s", b)
	}
}

// The kit's webhook options keep the handlers' warnings out of the test's
// output (they went to slog.Default, one line per refusal).
func TestWebhookOptionsDoNotLog(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	w := paymenttest.NewStandardWebhooks(t)
	v, err := webhook.NewVerifier(w.Set(), w.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Handler(func(context.Context, webhook.Message) error { return nil })
	if rec := serve(h, w.Standard(t, "msg_x", []byte(`{"a":1}`), paymenttest.Unknown)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unknown secret: %d", rec.Code)
	}
	if buf.Len() != 0 {
		t.Errorf("a refusal was logged through slog.Default: %s", buf.String())
	}
}
