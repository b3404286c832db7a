package momo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/apicall"
	"github.com/goodgo/rotation/payment/internal/jsonkeys"
)

// SandboxAPIURL is the base of MoMo's test API (Config.APIURL); production
// is https://payment.momo.vn.
const SandboxAPIURL = "https://test-payment.momo.vn"

// QueryResult is MoMo's answer to POST /v2/gateway/api/query: the state
// of an order.
type QueryResult struct {
	PartnerCode  string `json:"partnerCode"`
	RequestID    string `json:"requestId"`
	OrderID      string `json:"orderId"`
	ExtraData    string `json:"extraData"`
	Amount       int64  `json:"amount"`
	TransID      int64  `json:"transId"`
	PayType      string `json:"payType"`
	ResultCode   int    `json:"resultCode"`
	Message      string `json:"message"`
	ResponseTime int64  `json:"responseTime"`
}

// ErrAPI: MoMo's API could not be reached, answered with an HTTP error or
// with a body that is not the documented JSON (or is for another request),
// as vnpay.ErrAPI and zalopay.ErrAPI are for theirs.
var ErrAPI = errors.New("momo: API request failed")

// Query asks MoMo for the state of orderID (POST Config.APIURL +
// /v2/gateway/api/query, signed like SignQuery). The answer must echo the
// request's partnerCode, requestId and orderId; MoMo documents no
// signature on it, so it is authenticated by the TLS connection alone.
// Without an APIURL it is ErrConfig; a transport failure, an HTTP status
// other than 200, or a body that is not the documented JSON (duplicate keys
// refused) is ErrAPI.
func (c *Client) Query(ctx context.Context, orderID string) (*QueryResult, error) {
	if c.apiURL == "" {
		return nil, fmt.Errorf("%w: no Config.APIURL", ErrConfig)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	req := QueryRequest{RequestID: "q" + hex.EncodeToString(id[:]), OrderID: orderID, Lang: "en"}
	if err := c.SignQuery(&req); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(req)
	b, err := apicall.Do(ctx, c.hc, apicall.Request{Method: http.MethodPost, URL: c.apiURL + "/v2/gateway/api/query",
		ContentType: "application/json; charset=UTF-8", Body: body}, ErrAPI)
	if err != nil {
		return nil, err
	}
	var out QueryResult
	if err := jsonkeys.Check(b); err != nil {
		return nil, fmt.Errorf("%w: response: %w", ErrAPI, err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: response is not the query result JSON", ErrAPI)
	}
	if out.PartnerCode != c.partner || out.RequestID != req.RequestID || out.OrderID != orderID {
		return nil, fmt.Errorf("%w: response is for another request", ErrAPI)
	}
	return &out, nil
}

// Confirm checks an ambiguous notification (Unconfirmed, from VerifyIPN)
// with Query: MoMo must report the same order, amount, transaction and
// result code. It returns the notification confirmed, an error wrapping
// payment.ErrAmbiguousMismatch when MoMo reports otherwise, or another error
// when MoMo cannot answer (retry later).
func (c *Client) Confirm(ctx context.Context, n *Notification) (*Notification, error) {
	q, err := c.Query(ctx, n.OrderID)
	if err != nil {
		return n, err
	}
	if q.Amount != n.Amount || q.TransID != n.TransID || q.ResultCode != n.ResultCode {
		return n, fmt.Errorf("momo: %w: order %s is %d VND, transId %d, resultCode %d", payment.ErrAmbiguousMismatch, strings.ToValidUTF8(n.OrderID, "?"), q.Amount, q.TransID, q.ResultCode)
	}
	m := *n
	m.Unconfirmed = false
	return &m, nil
}
