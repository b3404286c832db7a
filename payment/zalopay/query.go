package zalopay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/goodgo/rotation/payment/internal/apicall"
	"github.com/goodgo/rotation/payment/internal/jsonkeys"
)

// ErrAPI: ZaloPay's API could not be reached, answered with an HTTP error
// or with a body that is not the documented JSON.
var ErrAPI = errors.New("zalopay: API request failed")

// QueryResult is ZaloPay's answer to /v2/query: the state of an order.
// ReturnCode 1 is paid, 2 failed, 3 still processing (IsProcessing).
type QueryResult struct {
	ReturnCode       int    `json:"return_code"`
	ReturnMessage    string `json:"return_message"`
	SubReturnCode    int    `json:"sub_return_code"`
	SubReturnMessage string `json:"sub_return_message"`
	IsProcessing     bool   `json:"is_processing"`
	Amount           int64  `json:"amount"`
	ZPTransID        int64  `json:"zp_trans_id"`
	ServerTime       int64  `json:"server_time"`
	DiscountAmount   int64  `json:"discount_amount"`
}

// Query asks ZaloPay for the state of the order appTransID: it signs the
// request (SignQuery: app_id|app_trans_id|key1 with key1) and POSTs it
// form-encoded, as ZaloPay's SDK does, to Config.QueryURL (SandboxQueryURL
// or production) with Config.HTTPClient (nil: http.DefaultClient), the ones
// CallbackHandler confirms an ambiguous callback with. Without a QueryURL it
// is ErrConfig. ZaloPay documents no MAC on the answer, so it is
// authenticated by the TLS connection alone; a body repeating a key is
// refused (ErrAPI).
func (c *Client) Query(ctx context.Context, appTransID string) (*QueryResult, error) {
	if c.queryURL == "" {
		return nil, fmt.Errorf("%w: no Config.QueryURL", ErrConfig)
	}
	q := QueryRequest{AppTransID: appTransID}
	if err := c.SignQuery(&q); err != nil {
		return nil, err
	}
	form := url.Values{"app_id": {strconv.Itoa(q.AppID)}, "app_trans_id": {q.AppTransID}, "mac": {q.Mac}}
	b, err := apicall.Do(ctx, c.hc, apicall.Request{Method: http.MethodPost, URL: c.queryURL,
		ContentType: "application/x-www-form-urlencoded", Body: []byte(form.Encode())}, ErrAPI)
	if err != nil {
		return nil, err
	}
	var out QueryResult
	if err := jsonkeys.Check(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAPI, err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: the response is not the query result JSON", ErrAPI)
	}
	return &out, nil
}
