// Package query parses the raw query strings that payment providers sign
// (VNPay IPN and Return URL, MoMo and ZaloPay redirects) strictly enough
// that a signature covers exactly one reading of them.
package query

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/goodgo/rotation/payment"
)

// Parse splits raw into the parameters keep accepts, decoding like PHP and
// Go ("+" is a space). Empty segments ("&&") are skipped; parameters keep
// refuses are ignored. It returns payment.ErrBodyTooLarge for a query longer
// than max bytes, payment.ErrMalformed for a bad escape anywhere, and
// payment.ErrDuplicateParam for a kept key given twice (a signature would
// otherwise cover one copy while the application reads the other).
func Parse(raw string, max int, keep func(key string) bool) (map[string]string, error) {
	if len(raw) > max {
		return nil, fmt.Errorf("%w: query is %d bytes, the limit is %d", payment.ErrBodyTooLarge, len(raw), max)
	}
	params := make(map[string]string, 16)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: bad escape in the query", payment.ErrMalformed)
		}
		if !keep(key) {
			continue
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("%w: %s appears twice", payment.ErrDuplicateParam, key)
		}
		params[key] = val
	}
	return params, nil
}
