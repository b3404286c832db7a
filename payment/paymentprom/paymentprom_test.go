package paymentprom

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/secretenv"
)

// counter returns the value of the counter name with exactly the labels
// given, 0 when absent. (prometheus/testutil would need a module go.mod does
// not list yet; Gather reads the same values.)
func counter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestObserverCounts(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	o, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	o.Verified("momo", secretenv.SlotCurrent)
	o.Verified("momo", secretenv.SlotPrevious)
	o.Verified("momo", secretenv.SlotPrevious)
	o.SignatureFailed("zalopay", payment.ReasonBadSignature)
	o.SignatureFailed("zalopay", payment.ReasonRetiredKey)
	o.IPNRejected("zalopay", payment.ReasonMethod)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"payment_signature_verified_total", map[string]string{"provider": "momo", "slot": "current"}, 1},
		{"payment_signature_verified_total", map[string]string{"provider": "momo", "slot": "previous"}, 2},
		{"payment_signature_failure_total", map[string]string{"provider": "zalopay"}, 2},
		{"payment_signature_failure_reason_total", map[string]string{"provider": "zalopay", "reason": "retired_key"}, 1},
		{"payment_ipn_reject_total", map[string]string{"provider": "zalopay"}, 1},
		{"payment_ipn_reject_reason_total", map[string]string{"provider": "zalopay", "reason": "method"}, 1},
	} {
		if got := counter(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// A second registration on the same registry is refused, not a panic.
	if _, err := New(reg); err == nil {
		t.Error("registered twice")
	}
	var are prometheus.AlreadyRegisteredError
	if _, err := New(reg); !errors.As(err, &are) {
		t.Errorf("second New: %v", err)
	}
}

// A failed New leaves nothing registered: once the conflicting metric is
// gone, New succeeds on the same registry.
func TestNewFailureRegistersNothing(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	// The same descriptor as New's (a registry never forgets a name's labels
	// and help), registered by someone else first.
	taken := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "payment_ipn_reject_total", Help: "IPNs and callbacks answered with a refusal."}, []string{"provider"})
	reg.MustRegister(taken)
	if _, err := New(reg); err == nil {
		t.Fatal("New succeeded with payment_ipn_reject_total taken")
	}
	reg.Unregister(taken)
	if _, err := New(reg); err != nil {
		t.Fatalf("New after the conflict was removed: %v (a counter of the failed New stayed registered)", err)
	}
}

// TestThroughVNPayHandler wires the adapter into a real provider handler and
// checks what a rotation looks like on the metrics.
func TestThroughVNPayHandler(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	o, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const oldS, newS = "OLDSECRETOLDSECRETOLDSECRET01234", "NEWSECRETNEWSECRETNEWSECRET56789"
	now := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	c, err := vnpay.New(vnpay.Config{Idempotency: payment.NewMemoryStore(nil), TmnCode: "DEMOV210", Observer: o, Now: func() time.Time { return now },
		HashSecret: payment.SecretSet{Current: fingerprint.NewSecret([]byte(newS)), Previous: fingerprint.NewSecret([]byte(oldS)),
			PreviousUntil: vnpay.UntilAfterRotation(now.Add(-time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	h := c.IPNHandler(func(context.Context, *vnpay.Notification) vnpay.IPNResponse { return vnpay.ConfirmSuccess })
	params := map[string]string{"vnp_Amount": "1000000", "vnp_ResponseCode": "00", "vnp_TmnCode": "DEMOV210", "vnp_TxnRef": "1", "vnp_TransactionStatus": "00"}
	sign := func(secret string) string {
		m := hmac.New(sha512.New, []byte(secret))
		m.Write([]byte(vnpay.HashData(params)))
		return vnpay.HashData(params) + "&vnp_SecureHash=" + hex.EncodeToString(m.Sum(nil))
	}
	for _, q := range []string{sign(newS), sign(oldS), sign(oldS), sign("WRONGSECRETWRONGSECRETWRONGSECRE")} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ipn?"+q, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/ipn", strings.NewReader("")))
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"payment_signature_verified_total", map[string]string{"provider": "vnpay", "slot": "current"}, 1},
		{"payment_signature_verified_total", map[string]string{"provider": "vnpay", "slot": "previous"}, 2},
		{"payment_signature_failure_total", map[string]string{"provider": "vnpay"}, 1},
		// The IPN signed with the old secret came twice: the repeat is
		// answered RspCode 02 without the callback, counted on its own.
		{"payment_ipn_reject_total", map[string]string{"provider": "vnpay"}, 4},
		{"payment_ipn_reject_reason_total", map[string]string{"provider": "vnpay", "reason": "already_processed"}, 2},
		{"payment_ipn_reject_reason_total", map[string]string{"provider": "vnpay", "reason": "method"}, 1},
	} {
		if got := counter(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
