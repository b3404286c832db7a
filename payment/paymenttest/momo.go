package paymenttest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
)

// MoMo is a MoMo partner mid-rotation of its secret key (the access key
// stays: it is signed into messages, not a MAC key).
type MoMo struct {
	PartnerCode string
	AccessKey   payment.SecretSet
	Keys        Keys // the secret key
	Clock       *Clock
	Store       *payment.MemoryStore
}

// NewMoMo returns a partner with generated keys.
func NewMoMo(t testing.TB) *MoMo {
	t.Helper()
	clk := newClock()
	return &MoMo{PartnerCode: "MOMOTEST" + strings.ToUpper(randomHex(t, 2)), AccessKey: payment.SecretSet{Current: randomSecret(t)},
		Keys: newKeys(t), Clock: clk, Store: payment.NewMemoryStore(clk.Now)}
}

// Config is the configuration a service holds mid-rotation.
func (m *MoMo) Config() momo.Config {
	return momo.Config{PartnerCode: m.PartnerCode, AccessKey: m.AccessKey, SecretKey: m.Keys.Set(), Now: m.Clock.Now, Idempotency: m.Store}
}

// MoMoIPN describes an IPN; fields left zero get realistic defaults.
type MoMoIPN struct {
	OrderID string
	Amount  int64 // VND
	// ResultCode is momo.ResultSuccess (0, paid) unless set.
	ResultCode int
	TransID    int64  // default derived from OrderID (a retry carries the same)
	OrderInfo  string // default "Thanh toan don hang <OrderID>"
	Signer     Signer
}

// IPN returns the POST request MoMo sends to the ipnUrl.
func (m *MoMo) IPN(t testing.TB, n MoMoIPN) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/ipn/momo", bytes.NewReader(m.Body(t, n)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// Body returns the signed JSON body of the IPN.
func (m *MoMo) Body(t testing.TB, n MoMoIPN) []byte {
	t.Helper()
	if n.TransID == 0 {
		n.TransID = int64(fnv(n.OrderID))%9000000000 + 1000000000
	}
	if n.OrderInfo == "" {
		n.OrderInfo = "Thanh toan don hang " + n.OrderID
	}
	msg := "Successful."
	if n.ResultCode != 0 {
		msg = "Transaction failed (" + strconv.Itoa(n.ResultCode) + ")."
	}
	c, err := momo.New(momo.Config{PartnerCode: m.PartnerCode, AccessKey: m.AccessKey, SecretKey: m.Keys.only(n.Signer), NoIdempotency: true})
	if err != nil {
		t.Fatalf("paymenttest: momo: %v", err)
	}
	body, err := c.SignIPN(&momo.Notification{
		PartnerCode: m.PartnerCode, OrderID: n.OrderID, RequestID: n.OrderID + "-req", Amount: n.Amount,
		OrderInfo: n.OrderInfo, OrderType: "momo_wallet", TransID: n.TransID, ResultCode: n.ResultCode,
		Message: msg, PayType: "qr", ResponseTime: m.Clock.Now().Add(time.Second).UnixMilli(),
	})
	if err != nil {
		t.Fatalf("paymenttest: momo sign: %v", err)
	}
	return body
}

// MoMoAccepted reports whether the handler gave MoMo the answer it
// documents for a delivered IPN: 204 No Content (also for a duplicate).
func MoMoAccepted(rec *httptest.ResponseRecorder) bool { return rec.Code == http.StatusNoContent }
