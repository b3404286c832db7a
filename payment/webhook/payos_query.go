package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/apicall"
)

// PayOSAPIURL is PayOS's merchant API.
const PayOSAPIURL = "https://api-merchant.payos.vn"

// PayOSClient reads payment requests from PayOS's merchant API, to confirm
// ambiguous webhooks (see Verify). It is safe for concurrent use.
type PayOSClient struct {
	base     string
	clientID string
	apiKey   fingerprint.Secret
	checksum payment.SecretSet
	hc       *http.Client
	now      func() time.Time
}

// NewPayOSClient returns a client of the API at baseURL (PayOSAPIURL)
// authenticated with the payment channel's client id and API key (headers
// x-client-id, x-api-key); responses are verified with the checksum key
// set, like webhooks. hc nil means a client with a 10 s timeout.
func NewPayOSClient(baseURL, clientID string, apiKey fingerprint.Secret, checksum payment.SecretSet, hc *http.Client) (*PayOSClient, error) {
	if _, err := url.Parse(baseURL); err != nil || baseURL == "" {
		return nil, fmt.Errorf("webhook: PayOS API URL %q is not a URL", baseURL)
	}
	if clientID == "" || apiKey.IsZero() {
		return nil, errors.New("webhook: PayOS client id and API key are required")
	}
	if err := checksum.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &PayOSClient{base: strings.TrimSuffix(baseURL, "/"), clientID: clientID, apiKey: apiKey, checksum: checksum, hc: hc, now: time.Now}, nil
}

// PayOSPaymentLink is a payment request as PayOS reports it
// (GET /v2/payment-requests/{id}).
type PayOSPaymentLink struct {
	ID              string             `json:"id"`
	OrderCode       int64              `json:"orderCode"`
	Amount          int64              `json:"amount"`
	AmountPaid      int64              `json:"amountPaid"`
	AmountRemaining int64              `json:"amountRemaining"`
	Status          string             `json:"status"` // PENDING, PAID, UNDERPAID, CANCELLED, EXPIRED, PROCESSING, FAILED
	Transactions    []PayOSTransaction `json:"transactions"`
}

// PayOSTransaction is a transfer received for a payment request.
type PayOSTransaction struct {
	Reference           string `json:"reference"`
	Amount              int64  `json:"amount"`
	AccountNumber       string `json:"accountNumber"`
	Description         string `json:"description"`
	TransactionDateTime string `json:"transactionDateTime"`
}

// ErrPayOSAPI: the PayOS API could not be reached, refused the request or
// sent a response that does not verify.
var ErrPayOSAPI = errors.New("webhook: PayOS API request failed")

// PaymentRequest returns the payment request with orderCode. The response
// body's signature (HMAC-SHA256 of its data, as webhooks sign theirs) must
// verify with the checksum key set.
func (c *PayOSClient) PaymentRequest(ctx context.Context, orderCode int64) (*PayOSPaymentLink, error) {
	body, err := apicall.Do(ctx, c.hc, apicall.Request{Method: http.MethodGet,
		URL:    c.base + "/v2/payment-requests/" + strconv.FormatInt(orderCode, 10),
		Header: http.Header{"X-Client-Id": {c.clientID}, "X-Api-Key": {string(c.apiKey.Bytes())}},
		Limit:  DefaultMaxBody,
		// PayOS answers a JSON error body (code other than "00") with a
		// 4xx; a refused key (401, 403) or a server error is not an answer.
		Accept: func(resp *http.Response) bool {
			return resp.StatusCode == http.StatusOK || resp.StatusCode < 500 && resp.StatusCode != http.StatusUnauthorized &&
				resp.StatusCode != http.StatusForbidden && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
		}}, ErrPayOSAPI)
	if err != nil {
		return nil, err
	}
	root, err := parseJSON(body)
	if err != nil || root.kind != jObj {
		return nil, fmt.Errorf("%w: response is not a JSON object", ErrPayOSAPI)
	}
	var env struct {
		Code      string          `json:"code"`
		Desc      string          `json:"desc"`
		Data      json.RawMessage `json:"data"`
		Signature string          `json:"signature"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: response is not {code, desc, data, signature}", ErrPayOSAPI)
	}
	if env.Code != "00" {
		// PayOS answered, and does not know the payment request.
		return nil, fmt.Errorf("payos: %w: the API answers code %q", payment.ErrAmbiguousMismatch, env.Code)
	}
	data, ok := root.get("data")
	if !ok || data.kind != jObj {
		return nil, fmt.Errorf("%w: no data", ErrPayOSAPI)
	}
	var sig [sha256.Size]byte
	if len(env.Signature) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: %w", ErrPayOSAPI, payment.ErrMissingSignature)
	}
	if _, err := hex.Decode(sig[:], []byte(env.Signature)); err != nil {
		return nil, fmt.Errorf("%w: %w: signature is not hex", ErrPayOSAPI, payment.ErrMalformed)
	}
	// The response came from PayOS over TLS, so an ambiguous rendering
	// (the payer's memo inside transactions) cannot be swapped for another
	// reading: only its integrity is checked here.
	msg, _, _, err := payosCanon(nil, &data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayOSAPI, err)
	}
	if _, err := c.checksum.VerifyMAC(sha256.New, msg, sig[:], c.now()); err != nil {
		return nil, fmt.Errorf("%w: response signature: %w", ErrPayOSAPI, err)
	}
	var link PayOSPaymentLink
	if err := json.Unmarshal(env.Data, &link); err != nil {
		return nil, fmt.Errorf("%w: data is not a payment request", ErrPayOSAPI)
	}
	return &link, nil
}

// WithPayOSClient makes the PayOS Handler confirm ambiguous webhooks
// through PayOS's API (see PayOS.Confirm).
func WithPayOSClient(c *PayOSClient) Option { return func(cfg *config) { cfg.payos = c } }

// Confirm checks an ambiguous event (Unconfirmed, from Verify) against
// PayOS's API: the payment request ev.OrderCode must hold a transaction
// with ev's reference and amount (and account number when both have one).
// It returns the event confirmed (Unconfirmed false), an error wrapping
// payment.ErrAmbiguousMismatch when PayOS reports otherwise (or answers with
// another code than "00", e.g. no such order), or one wrapping ErrPayOSAPI
// when PayOS cannot answer or its answer does not verify (retry later).
func (p *PayOS) Confirm(ctx context.Context, ev PayOSEvent) (PayOSEvent, error) {
	if p.cfg.payos == nil {
		return ev, errors.New("webhook: no PayOS client (WithPayOSClient)")
	}
	link, err := p.cfg.payos.PaymentRequest(ctx, ev.OrderCode)
	if err != nil {
		return ev, err
	}
	if link.OrderCode == ev.OrderCode {
		for _, tx := range link.Transactions {
			if tx.Reference == ev.Reference && ev.Reference != "" && tx.Amount == ev.Amount &&
				(tx.AccountNumber == "" || ev.AccountNumber == "" || tx.AccountNumber == ev.AccountNumber) {
				ev.Unconfirmed = false
				ev.idemKey = "order:" + strconv.FormatInt(ev.OrderCode, 10) + ":" + ev.Reference
				return ev, nil
			}
		}
	}
	return ev, fmt.Errorf("payos: %w: order %d has no transaction %q of %d", payment.ErrAmbiguousMismatch, ev.OrderCode, ev.Reference, ev.Amount)
}
