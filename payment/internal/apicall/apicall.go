// Package apicall is the HTTP exchange the providers' query clients share
// (VNPay querydr, MoMo query, ZaloPay query, PayOS payment requests): one
// request, a capped read of the answer, the status check.
package apicall

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// MaxResponse is the default cap on a response body: the documented
// answers are well under a KiB.
const MaxResponse = 64 << 10

// Request is one call of a provider API.
type Request struct {
	Method, URL string
	// ContentType is set when Body is not nil.
	ContentType string
	Body        []byte
	Header      http.Header // sent as well (API keys)
	// Limit caps the response body (0: MaxResponse); a longer one is an
	// error.
	Limit int64
	// Accept reports whether a response carries an answer to read (nil:
	// status 200 only).
	Accept func(*http.Response) bool
}

// Do sends r with hc (nil: http.DefaultClient) and returns the response
// body. Every error wraps apiErr: the request cannot be built or sent, the
// body cannot be read or is longer than the limit, or Accept refuses the
// response ("HTTP <status>").
func Do(ctx context.Context, hc *http.Client, r Request, apiErr error) ([]byte, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apiErr, err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil && r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apiErr, err)
	}
	defer resp.Body.Close()
	limit := r.Limit
	if limit <= 0 {
		limit = MaxResponse
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the response: %w", apiErr, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: the response is longer than %d bytes", apiErr, limit)
	}
	if ok := r.Accept; ok == nil && resp.StatusCode != http.StatusOK || ok != nil && !ok(resp) {
		return nil, fmt.Errorf("%w: HTTP %d", apiErr, resp.StatusCode)
	}
	return b, nil
}
