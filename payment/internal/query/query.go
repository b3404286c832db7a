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
// refuses are ignored, whatever they hold (a bad escape in a parameter
// outside the signature never fails a valid notification). It returns
// payment.ErrBodyTooLarge for a query longer than max bytes,
// payment.ErrMalformed for a bad escape in a kept parameter, and
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
		key, err := unescape(k)
		if err != nil || !keep(key) {
			// A key that does not decode names no parameter the provider
			// signed: ignored like any unsigned parameter (utm_*=50%off).
			continue
		}
		val, err := unescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in %s", payment.ErrMalformed, key)
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("%w: %s appears twice", payment.ErrDuplicateParam, key)
		}
		params[key] = val
	}
	return params, nil
}

// unescape is url.QueryUnescape, returning s itself (no scan byte by byte,
// no allocation) when it holds neither '%' nor '+'.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}
