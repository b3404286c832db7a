// Package ipnhttp holds the HTTP plumbing the provider IPN handlers share:
// a capped body read and a JSON content-type check.
package ipnhttp

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/goodgo/rotation/payment"
)

// MaxBody is the default cap on an IPN body. Provider callbacks are a few
// hundred bytes to a few KiB.
const MaxBody = 64 << 10

// ReadBody reads r's body, refusing more than limit bytes with an error
// wrapping payment.ErrBodyTooLarge.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", payment.ErrBodyTooLarge, r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: more than %d bytes", payment.ErrBodyTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: reading the body: %v", payment.ErrMalformed, err)
	}
	return b, nil
}

// IsJSON reports whether r declares a JSON body (application/json, any
// parameters such as charset).
func IsJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
