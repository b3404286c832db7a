package vnpay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/query"
	"github.com/goodgo/rotation/secretenv"
)

// Notification is a verified Return URL or IPN query.
type Notification struct {
	TmnCode           string // vnp_TmnCode, checked against the configured one
	TxnRef            string // vnp_TxnRef: the merchant's order reference
	Amount            int64  // VND: vnp_Amount / 100
	BankCode          string
	BankTranNo        string
	CardType          string
	OrderInfo         string
	PayDate           string // yyyyMMddHHmmss, GMT+7
	ResponseCode      string // "00" success; see VNPay's table
	TransactionNo     string // VNPay's transaction number
	TransactionStatus string // "00" success
	// Params holds every vnp_* parameter received, signature excluded.
	Params map[string]string
	// Slot is the secret that verified the signature.
	Slot secretenv.Slot
}

// Paid reports whether VNPay says the payment went through: vnp_ResponseCode
// and vnp_TransactionStatus both "00". The caller must still compare Amount
// with the order and check the order is pending.
func (n *Notification) Paid() bool {
	return n.ResponseCode == "00" && n.TransactionStatus == "00"
}

// VerifyRedirect verifies the query VNPay appends to the return URL
// (vnp_ReturnUrl) when it sends the buyer's browser back, given as received
// (r.URL.RawQuery). VNPay signs it as it signs the IPN, so it is checked as
// VerifyIPN checks one, with the same errors; it says what the browser's
// query is for and is named as momo.Client.VerifyRedirect and
// zalopay.Client.VerifyRedirect are. A redirect only shows the buyer a
// result: the order is settled by the IPN.
func (c *Client) VerifyRedirect(rawQuery string) (*Notification, error) {
	return c.VerifyIPN(rawQuery)
}

// VerifyIPN verifies an IPN query (IPNHandler calls it), given rawQuery as
// received (r.URL.RawQuery). Only vnp_* parameters take part; vnp_SecureHash and
// vnp_SecureHashType are excluded; a repeated vnp_* parameter is refused
// (ErrDuplicateParam). The signature is accepted under the current secret,
// or the previous one inside its window (Slot says which).
//
// Errors wrap the payment sentinels: ErrMissingSignature,
// ErrBadSignature, ErrRetiredKey, ErrDuplicateParam, ErrMalformed,
// ErrBodyTooLarge, and ErrWrongMerchant for a valid signature over another
// terminal's code.
func (c *Client) VerifyIPN(rawQuery string) (*Notification, error) {
	params, sig, err := parseQuery(rawQuery)
	if err == nil {
		var slot secretenv.Slot
		var emptySigned bool
		prefix, canonical := canonicalPrefix(rawQuery)
		if canonical {
			// VNPay sends the query it signed: the parameters before
			// vnp_SecureHash are the signed string itself, so it is
			// verified as received instead of rebuilt.
			now := c.now()
			slot, err = c.mac.VerifyHex([]byte(prefix), sig, now)
			slot, emptySigned, err = c.verifiedParams(params, sig, now, slot, err)
		} else {
			slot, emptySigned, err = c.verifyParams(params, sig)
		}
		if err == nil {
			if !emptySigned && !canonical { // a canonical query has no empty vnp_* value
				// Empty vnp_* values were outside the signature: the
				// application must not see them as signed.
				for k, v := range params {
					if v == "" {
						delete(params, k)
					}
				}
			}
			c.obs.Verified(Provider, slot)
			return c.notification(params, slot)
		}
	}
	c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
	return nil, err
}

// verifyParams checks sig over params and says whether the empty vnp_*
// values were part of the signed string.
func (c *Client) verifyParams(params map[string]string, sig string) (slot secretenv.Slot, emptySigned bool, err error) {
	now := c.now()
	slot, err = c.mac.VerifyHex([]byte(hashData(params, false)), sig, now)
	return c.verifiedParams(params, sig, now, slot, err)
}

// verifiedParams retries a mismatch with the empty vnp_* values signed.
func (c *Client) verifiedParams(params map[string]string, sig string, now time.Time, slot secretenv.Slot, err error) (secretenv.Slot, bool, error) {
	emptySigned := false
	if errors.Is(err, payment.ErrBadSignature) && hasEmpty(params) {
		// The official PHP IPN demo signs empty vnp_* values too ("k=&");
		// the .NET and Java libraries skip them. Accept either form.
		slot, err = c.mac.VerifyHex([]byte(hashData(params, true)), sig, now)
		emptySigned = err == nil
	}
	if err != nil {
		return "", false, fmt.Errorf("vnpay: %w", err)
	}
	return slot, emptySigned, nil
}

func hasEmpty(params map[string]string) bool {
	for k, v := range params {
		if v == "" && signed(k) {
			return true
		}
	}
	return false
}

func (c *Client) notification(p map[string]string, slot secretenv.Slot) (*Notification, error) {
	n := &Notification{
		TmnCode: p["vnp_TmnCode"], TxnRef: p["vnp_TxnRef"], BankCode: p["vnp_BankCode"],
		BankTranNo: p["vnp_BankTranNo"], CardType: p["vnp_CardType"], OrderInfo: p["vnp_OrderInfo"],
		PayDate: p["vnp_PayDate"], ResponseCode: p["vnp_ResponseCode"], TransactionNo: p["vnp_TransactionNo"],
		TransactionStatus: p["vnp_TransactionStatus"], Params: p, Slot: slot,
	}
	if n.TmnCode != c.tmn {
		return nil, fmt.Errorf("vnpay: %w: vnp_TmnCode %q, configured %q", payment.ErrWrongMerchant, n.TmnCode, c.tmn)
	}
	if n.TxnRef == "" || n.ResponseCode == "" {
		return nil, fmt.Errorf("vnpay: %w: vnp_TxnRef and vnp_ResponseCode are required", payment.ErrMalformed)
	}
	amt, err := strconv.ParseInt(p["vnp_Amount"], 10, 64)
	if err != nil || amt < 0 {
		return nil, fmt.Errorf("vnpay: %w: vnp_Amount %q is not a non-negative integer", payment.ErrMalformed, p["vnp_Amount"])
	}
	if amt%100 != 0 {
		// VNPay sends VND × 100: a remainder is not an amount VNPay made.
		return nil, fmt.Errorf("vnpay: %w: vnp_Amount %q is not a multiple of 100 (VND × 100)", payment.ErrMalformed, p["vnp_Amount"])
	}
	n.Amount = amt / 100
	return n, nil
}

// parseQuery splits a raw query into its vnp_* parameters (signature
// excluded) and the signature. It decodes like PHP and Go ("+" is a space),
// ignores parameters not starting with vnp_ (and vnp_SecureHashType), and
// refuses a repeated vnp_* key or a bad escape.
func parseQuery(raw string) (map[string]string, string, error) {
	params, err := query.Parse(raw, MaxQueryLen, func(k string) bool {
		return strings.HasPrefix(k, "vnp_") && k != "vnp_SecureHashType"
	})
	if err != nil {
		return nil, "", fmt.Errorf("vnpay: %w", err)
	}
	sig := params["vnp_SecureHash"]
	delete(params, "vnp_SecureHash")
	if sig == "" {
		return nil, "", fmt.Errorf("vnpay: %w: no vnp_SecureHash", payment.ErrMissingSignature)
	}
	return params, sig, nil
}

// canonicalPrefix returns the part of raw before "&vnp_SecureHash=" when
// it is exactly what HashData would build from raw's parameters: vnp_*
// keys in strictly ascending byte order, none empty, none
// vnp_SecureHashType, every key plain and every value in PHP urlencode form
// ([A-Za-z0-9_.-] literal, "+" for a space, uppercase %XX for any other
// byte), and no vnp_* parameter (however spelled) after the signature.
// Then the signed string can be verified as received. Any other query
// takes the general path, with the same result.
func canonicalPrefix(raw string) (string, bool) {
	const mark = "&vnp_SecureHash="
	i := strings.Index(raw, mark)
	if i <= 0 {
		return "", false
	}
	prefix, rest := raw[:i], raw[i+len(mark):]
	if strings.HasSuffix(prefix, "&") {
		return "", false // an empty segment HashData would not write
	}
	if j := strings.IndexByte(rest, '&'); j >= 0 {
		for _, seg := range strings.Split(rest[j+1:], "&") {
			k, _, _ := strings.Cut(seg, "=")
			if strings.HasPrefix(k, "vnp") || strings.ContainsAny(k, "%+") {
				return "", false
			}
		}
	}
	last := ""
	for s := prefix; s != ""; {
		var seg string
		seg, s, _ = strings.Cut(s, "&")
		k, v, ok := strings.Cut(seg, "=")
		if !ok || v == "" || !strings.HasPrefix(k, "vnp_") || k == "vnp_SecureHashType" || k == "vnp_SecureHash" || k <= last || !plainKey(k) || !phpEncoded(v) {
			return "", false
		}
		last = k
	}
	return prefix, true
}

func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if !unreserved(k[i]) {
			return false
		}
	}
	return true
}

// unreserved: the bytes PHP's urlencode leaves as they are.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// phpEncoded reports whether v is Encode of some string: literal
// unreserved bytes, "+" and uppercase %XX escapes of other bytes.
func phpEncoded(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case unreserved(c) || c == '+':
		case c == '%' && i+2 < len(v) && upperHex(v[i+1]) && upperHex(v[i+2]):
			b := unhex(v[i+1])<<4 | unhex(v[i+2])
			if unreserved(b) || b == ' ' {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
