package vnpay

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// The querydr and refund API (POST JSON to SandboxAPIURL or production)
// signs the pipe-joined values of a fixed list of fields with HMAC-SHA512.
// A missing value is an empty string between two pipes.

// QueryDRRequest asks for the state of a transaction (vnp_Command=querydr).
type QueryDRRequest struct {
	RequestID       string `json:"vnp_RequestId"` // unique per request and day
	Version         string `json:"vnp_Version"`   // set by SignQueryDR
	Command         string `json:"vnp_Command"`   // set by SignQueryDR
	TmnCode         string `json:"vnp_TmnCode"`   // set by SignQueryDR
	TxnRef          string `json:"vnp_TxnRef"`
	OrderInfo       string `json:"vnp_OrderInfo"`
	TransactionNo   string `json:"vnp_TransactionNo,omitempty"`
	TransactionDate string `json:"vnp_TransactionDate"` // vnp_CreateDate of the payment, yyyyMMddHHmmss
	CreateDate      string `json:"vnp_CreateDate"`      // now, yyyyMMddHHmmss GMT+7; set by SignQueryDR when empty
	IPAddr          string `json:"vnp_IpAddr"`          // the server's IP address
	SecureHash      string `json:"vnp_SecureHash"`
}

// QueryDRHashData is the string a querydr request signs:
// RequestId|Version|Command|TmnCode|TxnRef|TransactionDate|CreateDate|IpAddr|OrderInfo.
func QueryDRHashData(r *QueryDRRequest) string {
	return strings.Join([]string{r.RequestID, r.Version, r.Command, r.TmnCode, r.TxnRef, r.TransactionDate, r.CreateDate, r.IPAddr, r.OrderInfo}, "|")
}

// SignQueryDR fills Version, Command, TmnCode (and CreateDate when empty)
// and sets SecureHash with the current secret.
func (c *Client) SignQueryDR(r *QueryDRRequest) error {
	if r.RequestID == "" || r.TxnRef == "" || r.TransactionDate == "" || r.IPAddr == "" {
		return fmt.Errorf("%w: querydr needs RequestID, TxnRef, TransactionDate and IPAddr", ErrRequest)
	}
	r.Version, r.Command, r.TmnCode = Version, "querydr", c.tmn
	if r.CreateDate == "" {
		r.CreateDate = FormatDate(c.now())
	}
	sig, err := c.secret.SignHex(sha512.New, []byte(QueryDRHashData(r)))
	r.SecureHash = sig
	return err
}

// Refund transaction types (vnp_TransactionType).
const (
	RefundFull    = "02"
	RefundPartial = "03"
)

// RefundRequest refunds a transaction (vnp_Command=refund). Amount is in
// VND; vnp_Amount is sent × 100.
type RefundRequest struct {
	RequestID       string `json:"vnp_RequestId"`
	Version         string `json:"vnp_Version"`
	Command         string `json:"vnp_Command"`
	TmnCode         string `json:"vnp_TmnCode"`
	TransactionType string `json:"vnp_TransactionType"` // RefundFull or RefundPartial
	TxnRef          string `json:"vnp_TxnRef"`
	Amount          int64  `json:"-"`
	AmountX100      string `json:"vnp_Amount"` // set by SignRefund
	OrderInfo       string `json:"vnp_OrderInfo"`
	TransactionNo   string `json:"vnp_TransactionNo"`
	TransactionDate string `json:"vnp_TransactionDate"`
	CreateBy        string `json:"vnp_CreateBy"`
	CreateDate      string `json:"vnp_CreateDate"`
	IPAddr          string `json:"vnp_IpAddr"`
	SecureHash      string `json:"vnp_SecureHash"`
}

// RefundHashData is the string a refund request signs:
// RequestId|Version|Command|TmnCode|TransactionType|TxnRef|Amount|TransactionNo|TransactionDate|CreateBy|CreateDate|IpAddr|OrderInfo.
func RefundHashData(r *RefundRequest) string {
	return strings.Join([]string{r.RequestID, r.Version, r.Command, r.TmnCode, r.TransactionType, r.TxnRef, r.AmountX100,
		r.TransactionNo, r.TransactionDate, r.CreateBy, r.CreateDate, r.IPAddr, r.OrderInfo}, "|")
}

// SignRefund fills Version, Command, TmnCode, AmountX100 (and CreateDate
// when empty) and sets SecureHash with the current secret.
func (c *Client) SignRefund(r *RefundRequest) error {
	if r.RequestID == "" || r.TxnRef == "" || r.TransactionDate == "" || r.IPAddr == "" || r.CreateBy == "" {
		return fmt.Errorf("%w: refund needs RequestID, TxnRef, TransactionDate, CreateBy and IPAddr", ErrRequest)
	}
	if r.TransactionType != RefundFull && r.TransactionType != RefundPartial {
		return fmt.Errorf("%w: TransactionType %q, want %q (full) or %q (partial)", ErrRequest, r.TransactionType, RefundFull, RefundPartial)
	}
	if r.Amount <= 0 || r.Amount > maxAmount {
		return fmt.Errorf("%w: amount %d VND is out of range", ErrRequest, r.Amount)
	}
	r.Version, r.Command, r.TmnCode = Version, "refund", c.tmn
	r.AmountX100 = strconv.FormatInt(r.Amount*100, 10)
	if r.CreateDate == "" {
		r.CreateDate = FormatDate(c.now())
	}
	sig, err := c.secret.SignHex(sha512.New, []byte(RefundHashData(r)))
	r.SecureHash = sig
	return err
}

// APIResponse is a querydr or refund response. Values are kept as the text
// received, numbers included, because that text is what is signed.
type APIResponse struct {
	ResponseID        string
	Command           string
	ResponseCode      string // "00" = the request was processed
	Message           string
	TmnCode           string
	TxnRef            string
	Amount            string // VND × 100
	BankCode          string
	PayDate           string
	TransactionNo     string
	TransactionType   string
	TransactionStatus string
	OrderInfo         string
	PromotionCode     string // querydr only
	PromotionAmount   string // querydr only
	SecureHash        string
	// Slot is the secret that verified the response.
	Slot secretenv.Slot
}

var responseFields = []string{
	"vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount",
	"vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo",
	"vnp_PromotionCode", "vnp_PromotionAmount",
}

var responseFieldsAndHash = append(responseFields[:len(responseFields):len(responseFields)], "vnp_SecureHash")

// QueryDRResponseHashData is the string a querydr response signs: the 15
// response fields from ResponseId to PromotionAmount, pipe-joined.
func QueryDRResponseHashData(r *APIResponse) string { return strings.Join(r.values(15), "|") }

// RefundResponseHashData is the string a refund response signs: the same
// fields as querydr without the two promotion fields.
func RefundResponseHashData(r *APIResponse) string { return strings.Join(r.values(13), "|") }

func (r *APIResponse) values(n int) []string {
	return []string{r.ResponseID, r.Command, r.ResponseCode, r.Message, r.TmnCode, r.TxnRef, r.Amount, r.BankCode, r.PayDate,
		r.TransactionNo, r.TransactionType, r.TransactionStatus, r.OrderInfo, r.PromotionCode, r.PromotionAmount}[:n]
}

// VerifyQueryDRResponse decodes and verifies a querydr response body.
func (c *Client) VerifyQueryDRResponse(body []byte) (*APIResponse, error) {
	return c.verifyResponse(body, "querydr", QueryDRResponseHashData)
}

// VerifyRefundResponse decodes and verifies a refund response body.
func (c *Client) VerifyRefundResponse(body []byte) (*APIResponse, error) {
	return c.verifyResponse(body, "refund", RefundResponseHashData)
}

func (c *Client) verifyResponse(body []byte, command string, hashData func(*APIResponse) string) (*APIResponse, error) {
	r, err := decodeResponse(body)
	if err == nil {
		var slot secretenv.Slot
		slot, err = c.mac.VerifyHex([]byte(hashData(r)), r.SecureHash, c.now())
		if err == nil {
			c.obs.Verified(Provider, slot)
			r.Slot = slot
			if r.Command != command {
				return nil, fmt.Errorf("vnpay: %w: response to %q, want %q", payment.ErrMalformed, r.Command, command)
			}
			if r.TmnCode != c.tmn {
				return nil, fmt.Errorf("vnpay: %w: vnp_TmnCode %q, configured %q", payment.ErrWrongMerchant, r.TmnCode, c.tmn)
			}
			return r, nil
		}
		err = fmt.Errorf("vnpay: %w", err)
	}
	c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
	return nil, err
}

// decodeResponse reads the response fields as text: a JSON string is taken
// unescaped, a JSON number as written. A field holding "|" is refused: the
// signed string joins fields with "|", so such a value could move text from
// one field to the next without changing the signature.
func decodeResponse(body []byte) (*APIResponse, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("vnpay: %w: response is not a JSON object", payment.ErrMalformed)
	}
	vals := make(map[string]string, len(responseFields)+1)
	for _, f := range responseFieldsAndHash {
		raw, ok := m[f]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, fmt.Errorf("vnpay: %w: %s is neither a string nor a number", payment.ErrMalformed, f)
			}
			s = n.String()
		}
		if strings.Contains(s, "|") {
			return nil, fmt.Errorf("vnpay: %w: %s contains the field separator |", payment.ErrMalformed, f)
		}
		vals[f] = s
	}
	if vals["vnp_SecureHash"] == "" {
		return nil, fmt.Errorf("vnpay: %w: no vnp_SecureHash in the response", payment.ErrMissingSignature)
	}
	return &APIResponse{
		ResponseID: vals["vnp_ResponseId"], Command: vals["vnp_Command"], ResponseCode: vals["vnp_ResponseCode"],
		Message: vals["vnp_Message"], TmnCode: vals["vnp_TmnCode"], TxnRef: vals["vnp_TxnRef"], Amount: vals["vnp_Amount"],
		BankCode: vals["vnp_BankCode"], PayDate: vals["vnp_PayDate"], TransactionNo: vals["vnp_TransactionNo"],
		TransactionType: vals["vnp_TransactionType"], TransactionStatus: vals["vnp_TransactionStatus"],
		OrderInfo: vals["vnp_OrderInfo"], PromotionCode: vals["vnp_PromotionCode"], PromotionAmount: vals["vnp_PromotionAmount"],
		SecureHash: vals["vnp_SecureHash"],
	}, nil
}
