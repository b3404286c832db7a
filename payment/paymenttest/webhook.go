package paymenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/webhook"
)

// Webhook is a receiver of webhooks (Standard Webhooks, Casso or PayOS)
// mid-rotation of its secret.
type Webhook struct {
	Keys  Keys
	Clock *Clock
	Store *payment.MemoryStore
}

// NewStandardWebhooks returns a Standard Webhooks receiver with generated
// whsec_ secrets (as "rotate keygen webhook" prints them).
func NewStandardWebhooks(t testing.TB) *Webhook {
	t.Helper()
	gen := func() fingerprint.Secret {
		s, err := keygen.New(keygen.Webhook)
		if err != nil {
			t.Fatalf("paymenttest: %v", err)
		}
		return fingerprint.NewSecret([]byte(s))
	}
	clk := newClock()
	return &Webhook{Keys: Keys{Current: gen(), Previous: gen(), Unknown: gen()}, Clock: clk, Store: payment.NewMemoryStore(clk.Now)}
}

// NewCasso returns a Casso receiver with generated checksum keys.
func NewCasso(t testing.TB) *Webhook { return newWebhook(t) }

// NewPayOS returns a PayOS receiver with generated checksum keys.
func NewPayOS(t testing.TB) *Webhook { return newWebhook(t) }

func newWebhook(t testing.TB) *Webhook {
	t.Helper()
	clk := newClock()
	return &Webhook{Keys: newKeys(t), Clock: clk, Store: payment.NewMemoryStore(clk.Now)}
}

// Options are what a service passes to webhook.NewVerifier, NewCasso or
// NewPayOS: the kit's clock and idempotency store, and a logger that
// discards the handlers' warnings (a test of refusals would otherwise print
// one per refusal outside its own output); append webhook.WithLogger to see
// them.
func (w *Webhook) Options() []webhook.Option {
	return []webhook.Option{webhook.WithClock(w.Clock.Now), webhook.WithIdempotencyStore(w.Store),
		webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

// Set is the receiver's secret set mid-rotation.
func (w *Webhook) Set() payment.SecretSet { return w.Keys.Set() }

// Standard returns a Standard Webhooks delivery of body with webhook-id id,
// signed now by the sender holding the secret s names (for Current, a
// sender mid-rotation signs with both secrets, as webhook.Signer does).
func (w *Webhook) Standard(t testing.TB, id string, body []byte, s Signer) *http.Request {
	t.Helper()
	set := w.Keys.only(s)
	if s == Current {
		set = w.Keys.Set()
	}
	sg, err := webhook.NewSigner(set, webhook.WithClock(w.Clock.Now))
	if err != nil {
		t.Fatalf("paymenttest: webhook signer: %v", err)
	}
	r, err := sg.NewRequest(context.Background(), "http://service.test/webhooks", id, body)
	if err != nil {
		t.Fatalf("paymenttest: webhook sign: %v", err)
	}
	out := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	for k, v := range r.Header {
		out.Header[k] = v
	}
	return out
}

// CassoTransfer describes a Casso v2 delivery of one incoming transfer.
type CassoTransfer struct {
	ID          int64 // Casso's transaction id (the de-duplication key)
	Amount      int64
	Description string // the payer's transfer memo
	Account     string // default "88888888"
	Signer      Signer
}

// Casso returns the POST Casso sends for a transfer, signed now.
func (w *Webhook) Casso(t testing.TB, c CassoTransfer) *http.Request {
	t.Helper()
	if c.Account == "" {
		c.Account = "88888888"
	}
	now := w.Clock.Now()
	body, err := json.Marshal(map[string]any{"error": 0, "data": map[string]any{
		"id": c.ID, "reference": "FT" + strconv.FormatInt(c.ID, 10), "description": c.Description, "amount": c.Amount,
		"runningBalance": 0, "transactionDateTime": now.In(vietnam).Format("2006-01-02 15:04:05"),
		"accountNumber": c.Account, "bankName": "MBBank", "bankAbbreviation": "MBB",
		"virtualAccountNumber": "", "virtualAccountName": "", "counterAccountName": "NGUYEN VAN A",
		"counterAccountNumber": "0123456789", "counterAccountBankId": "970422", "counterAccountBankName": "MBBank",
	}})
	if err != nil {
		t.Fatalf("paymenttest: casso: %v", err)
	}
	sig, err := webhook.CassoSignature(w.Keys.only(c.Signer).Current.Bytes(), now, body)
	if err != nil {
		t.Fatalf("paymenttest: casso sign: %v", err)
	}
	r := httptest.NewRequest(http.MethodPost, "/webhooks/casso", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(webhook.HeaderCassoSignature, sig)
	return r
}

// PayOSPayment describes a PayOS payment webhook.
type PayOSPayment struct {
	OrderCode   int64
	Amount      int64
	Description string // the payer's transfer memo
	Reference   string // default derived from OrderCode
	Signer      Signer
}

// PayOS returns the POST PayOS sends for a paid payment link.
func (w *Webhook) PayOS(t testing.TB, p PayOSPayment) *http.Request {
	t.Helper()
	if p.Reference == "" {
		p.Reference = "FT" + strconv.FormatInt(p.OrderCode, 10)
	}
	data := map[string]any{
		"orderCode": p.OrderCode, "amount": p.Amount, "description": p.Description, "accountNumber": "12345678",
		"reference": p.Reference, "transactionDateTime": w.Clock.Now().In(vietnam).Format("2006-01-02 15:04:05"),
		"currency": "VND", "paymentLinkId": "pl" + strconv.FormatInt(p.OrderCode, 10), "code": "00", "desc": "success",
		"counterAccountBankId": "", "counterAccountBankName": "", "counterAccountName": "", "counterAccountNumber": "",
		"virtualAccountName": "", "virtualAccountNumber": "",
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatalf("paymenttest: payos: %v", err)
	}
	sig, err := webhook.PayOSSignature(w.Keys.only(p.Signer).Current.Bytes(), raw)
	if err != nil {
		t.Fatalf("paymenttest: payos sign: %v", err)
	}
	body, _ := json.Marshal(map[string]any{"code": "00", "desc": "success", "success": true, "data": json.RawMessage(raw), "signature": sig})
	r := httptest.NewRequest(http.MethodPost, "/webhooks/payos", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

var vietnam = time.FixedZone("ICT", 7*3600)
