package paymenttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/vnpay"
)

// VNPay is a VNPay terminal mid-rotation of its hash secret.
type VNPay struct {
	TmnCode string
	Keys    Keys
	Clock   *Clock
	// Store is the idempotency store of Config (shared by every client made
	// from it, as one database is shared by a service's instances).
	Store *payment.MemoryStore
}

// NewVNPay returns a terminal with generated secrets.
func NewVNPay(t testing.TB) *VNPay {
	t.Helper()
	clk := newClock()
	return &VNPay{TmnCode: "TEST" + strings.ToUpper(randomHex(t, 2)), Keys: newKeys(t), Clock: clk, Store: payment.NewMemoryStore(clk.Now)}
}

// Config is the configuration a service holds mid-rotation: both secrets,
// the kit's clock and idempotency store.
func (v *VNPay) Config() vnpay.Config {
	return vnpay.Config{TmnCode: v.TmnCode, HashSecret: v.Keys.Set(), Now: v.Clock.Now, Idempotency: v.Store}
}

// VNPayIPN describes an IPN. The zero value of each field but TxnRef and
// Amount gets a realistic default.
type VNPayIPN struct {
	TxnRef string
	Amount int64 // VND (the kit sends vnp_Amount = Amount × 100)
	// ResponseCode and TransactionStatus default to "00" (paid).
	ResponseCode, TransactionStatus string
	// TransactionNo defaults to a number derived from TxnRef, so a retry of
	// the same IPN carries the same one.
	TransactionNo string
	OrderInfo     string // default "Thanh toan don hang <TxnRef>"
	PayDate       time.Time
	Signer        Signer
}

// IPN returns the GET request VNPay sends to the IPN URL.
func (v *VNPay) IPN(t testing.TB, n VNPayIPN) *http.Request {
	t.Helper()
	return httptest.NewRequest(http.MethodGet, "/ipn/vnpay?"+v.RawQuery(t, n), nil)
}

// RawQuery returns the signed query string of the IPN (also what the return
// URL carries), as vnpay.Client.VerifyIPN and VerifyRedirect take it: the
// VNPay counterpart of MoMo.Body and ZaloPay.Body. (Query in a provider
// package is the API call that asks for an order's state.)
func (v *VNPay) RawQuery(t testing.TB, n VNPayIPN) string {
	t.Helper()
	if n.ResponseCode == "" {
		n.ResponseCode = "00"
	}
	if n.TransactionStatus == "" {
		n.TransactionStatus = n.ResponseCode
	}
	if n.TransactionNo == "" {
		n.TransactionNo = strconv.FormatUint(uint64(fnv(n.TxnRef))%90000000+10000000, 10)
	}
	if n.OrderInfo == "" {
		n.OrderInfo = "Thanh toan don hang " + n.TxnRef
	}
	if n.PayDate.IsZero() {
		n.PayDate = v.Clock.Now()
	}
	params := map[string]string{
		"vnp_Amount": strconv.FormatInt(n.Amount*100, 10), "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP" + n.TransactionNo,
		"vnp_CardType": "ATM", "vnp_OrderInfo": n.OrderInfo, "vnp_PayDate": vnpay.FormatDate(n.PayDate),
		"vnp_ResponseCode": n.ResponseCode, "vnp_TmnCode": v.TmnCode, "vnp_TransactionNo": n.TransactionNo,
		"vnp_TransactionStatus": n.TransactionStatus, "vnp_TxnRef": n.TxnRef,
	}
	c, err := vnpay.New(vnpay.Config{TmnCode: v.TmnCode, HashSecret: v.Keys.only(n.Signer), NoIdempotency: true})
	if err != nil {
		t.Fatalf("paymenttest: vnpay: %v", err)
	}
	q, err := c.SignParams(params)
	if err != nil {
		t.Fatalf("paymenttest: vnpay sign: %v", err)
	}
	return q
}

// VNPayAnswer decodes the handler's answer; VNPay expects HTTP 200 and acts
// on RspCode (compare with vnpay.ConfirmSuccess, vnpay.OrderAlreadyConfirmed,
// vnpay.InvalidSignature …).
func VNPayAnswer(t testing.TB, rec *httptest.ResponseRecorder) vnpay.IPNResponse {
	t.Helper()
	var r vnpay.IPNResponse
	if rec.Code != http.StatusOK {
		t.Errorf("paymenttest: VNPay IPN answered HTTP %d; VNPay expects 200 with a RspCode", rec.Code)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("paymenttest: VNPay IPN answer is not JSON: %v: %q", err, rec.Body)
	}
	return r
}

// fnv is FNV-1a, for ids derived from a reference.
func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
