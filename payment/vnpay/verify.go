package vnpay

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/query"
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
	Slot payment.Slot
}

// Paid reports whether VNPay says the payment went through: vnp_ResponseCode
// and vnp_TransactionStatus both "00". The caller must still compare Amount
// with the order and check the order is pending.
func (n *Notification) Paid() bool {
	return n.ResponseCode == "00" && n.TransactionStatus == "00"
}

// VerifyQuery verifies a Return URL or IPN query, given raw as received
// (r.URL.RawQuery). Only vnp_* parameters take part; vnp_SecureHash and
// vnp_SecureHashType are excluded; a repeated vnp_* parameter is refused
// (ErrDuplicateParam). The signature is accepted under the current secret,
// or the previous one inside its window (Slot says which).
//
// Errors wrap the payment sentinels: ErrMissingSignature,
// ErrSignatureMismatch, ErrPreviousExpired, ErrDuplicateParam, ErrMalformed,
// ErrBodyTooLarge, and ErrWrongMerchant for a valid signature over another
// terminal's code.
func (c *Client) VerifyQuery(raw string) (*Notification, error) {
	params, sig, err := parseQuery(raw)
	if err == nil {
		var slot payment.Slot
		var emptySigned bool
		slot, emptySigned, err = c.verifyParams(params, sig)
		if err == nil {
			if !emptySigned {
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
func (c *Client) verifyParams(params map[string]string, sig string) (slot payment.Slot, emptySigned bool, err error) {
	now := c.now()
	slot, err = c.secret.VerifyHex(sha512.New, []byte(hashData(params, false)), sig, now)
	if errors.Is(err, payment.ErrSignatureMismatch) && hasEmpty(params) {
		// The official PHP IPN demo signs empty vnp_* values too ("k=&");
		// the .NET and Java libraries skip them. Accept either form.
		slot, err = c.secret.VerifyHex(sha512.New, []byte(hashData(params, true)), sig, now)
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

func (c *Client) notification(p map[string]string, slot payment.Slot) (*Notification, error) {
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
