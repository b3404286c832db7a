package vnpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/goodgo/rotation/payment/internal/apicall"
)

// ErrAPI: the querydr or refund API could not be reached or answered with
// an HTTP error.
var ErrAPI = errors.New("vnpay: API request failed")

// QueryDR asks VNPay for the state of a transaction: it signs r
// (SignQueryDR), POSTs it as JSON to Config.APIURL (SandboxAPIURL or
// production) with Config.HTTPClient (nil: http.DefaultClient), and
// verifies the response's vnp_SecureHash (VerifyQueryDRResponse), so a
// response not signed with the terminal's secret is refused. Without an
// APIURL it is ErrConfig. It is how an application confirms a payment it has
// not received an IPN for, or doubts.
func (c *Client) QueryDR(ctx context.Context, r QueryDRRequest) (*APIResponse, error) {
	if c.apiURL == "" {
		return nil, fmt.Errorf("%w: no Config.APIURL", ErrConfig)
	}
	if err := c.SignQueryDR(&r); err != nil {
		return nil, err
	}
	body, err := json.Marshal(&r)
	if err != nil {
		return nil, err
	}
	b, err := apicall.Do(ctx, c.hc, apicall.Request{Method: http.MethodPost, URL: c.apiURL, ContentType: "application/json", Body: body}, ErrAPI)
	if err != nil {
		return nil, err
	}
	out, err := c.VerifyQueryDRResponse(b)
	if err != nil {
		return nil, err
	}
	if out.TxnRef != r.TxnRef || out.TmnCode != r.TmnCode {
		return nil, fmt.Errorf("%w: the response is for another transaction", ErrAPI)
	}
	return out, nil
}
