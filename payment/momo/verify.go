package momo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/payment/internal/ipnhttp"
	"github.com/goodgo/rotation/payment/internal/jsonkeys"
	"github.com/goodgo/rotation/payment/internal/query"
	"github.com/goodgo/rotation/secretenv"
)

// Result codes (resultCode) most integrations act on; see MoMo's table.
const (
	ResultSuccess    = 0    // paid
	ResultAuthorized = 9000 // authorized, to be captured (autoCapture=false)
)

// Notification is a verified IPN or redirect result.
type Notification struct {
	PartnerCode  string
	OrderID      string
	RequestID    string
	Amount       int64 // VND
	OrderInfo    string
	OrderType    string
	TransID      int64 // MoMo's transaction ID
	ResultCode   int
	Message      string
	PayType      string
	ResponseTime int64  // Unix milliseconds
	ExtraData    string // base64 as received
	Signature    string
	// Slot is the key pair that verified the signature.
	Slot secretenv.Slot
	// Unconfirmed: a value contains "&<signed key>=", so the signed string
	// reads as other fields too, and MoMo's query API did not confirm
	// them: nothing here is authenticated. Check the order with MoMo
	// (Client.Query) before delivering.
	Unconfirmed bool
}

// Paid reports whether MoMo says the payment went through (resultCode 0).
// The caller must still match OrderID and Amount with the order.
func (n *Notification) Paid() bool { return n.ResultCode == ResultSuccess }

// notificationKeys are the signed keys of an IPN or redirect, in order.
var notificationKeys = []string{"accessKey", "amount", "extraData", "message", "orderId", "orderInfo", "orderType",
	"partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId"}

// NotificationRaw is the string an IPN or redirect result signs: accessKey,
// amount, extraData, message, orderId, orderInfo, orderType, partnerCode,
// payType, requestId, responseTime, resultCode, transId. The access key is
// the merchant's (the IPN body does not carry it).
func NotificationRaw(accessKey string, n *Notification) string {
	return string(appendNotificationRaw(nil, []byte(accessKey), n))
}

// appendNotificationRaw appends NotificationRaw to dst without building
// intermediate strings.
func appendNotificationRaw(dst, accessKey []byte, n *Notification) []byte {
	kv := func(dst []byte, k string, v string) []byte {
		dst = append(dst, k...)
		dst = append(dst, '=')
		return append(dst, v...)
	}
	dst = append(dst, "accessKey="...)
	dst = append(dst, accessKey...)
	dst = append(dst, "&amount="...)
	dst = strconv.AppendInt(dst, n.Amount, 10)
	dst = kv(append(dst, '&'), "extraData", n.ExtraData)
	dst = kv(append(dst, '&'), "message", n.Message)
	dst = kv(append(dst, '&'), "orderId", n.OrderID)
	dst = kv(append(dst, '&'), "orderInfo", n.OrderInfo)
	dst = kv(append(dst, '&'), "orderType", n.OrderType)
	dst = kv(append(dst, '&'), "partnerCode", n.PartnerCode)
	dst = kv(append(dst, '&'), "payType", n.PayType)
	dst = kv(append(dst, '&'), "requestId", n.RequestID)
	dst = append(dst, "&responseTime="...)
	dst = strconv.AppendInt(dst, n.ResponseTime, 10)
	dst = append(dst, "&resultCode="...)
	dst = strconv.AppendInt(dst, int64(n.ResultCode), 10)
	dst = append(dst, "&transId="...)
	return strconv.AppendInt(dst, n.TransID, 10)
}

// ipnWire is the IPN body; numbers are kept as JSON numbers so that they
// are never formatted through float64.
type ipnWire struct {
	PartnerCode  string      `json:"partnerCode"`
	OrderID      string      `json:"orderId"`
	RequestID    string      `json:"requestId"`
	Amount       json.Number `json:"amount"`
	OrderInfo    string      `json:"orderInfo"`
	OrderType    string      `json:"orderType"`
	TransID      json.Number `json:"transId"`
	ResultCode   json.Number `json:"resultCode"`
	Message      string      `json:"message"`
	PayType      string      `json:"payType"`
	ResponseTime json.Number `json:"responseTime"`
	ExtraData    string      `json:"extraData"`
	Signature    string      `json:"signature"`
}

// decode reads an IPN body as json.Unmarshal into ipnWire does (keys
// matched case-insensitively, null leaves a field empty, a number field
// takes a number or a string holding one), without reflection, refusing a
// key repeated exactly or up to case.
// sh may be nil.
func (w *ipnWire) decode(body []byte, sh *jsonkeys.Shape) error {
	t := jsonkeys.NewText(body, "") // the strings are substrings of one copy
	return jsonkeys.FieldsInto(body, sh, nil, func(fold, raw []byte) error {
		var str *string
		var num *json.Number
		switch string(fold) { // jsonkeys.Fold of the field names
		case "PARTNERCODE":
			str = &w.PartnerCode
		case "ORDERID":
			str = &w.OrderID
		case "REQUESTID":
			str = &w.RequestID
		case "AMOUNT":
			num = &w.Amount
		case "ORDERINFO":
			str = &w.OrderInfo
		case "ORDERTYPE":
			str = &w.OrderType
		case "TRANSID":
			num = &w.TransID
		case "RESULTCODE":
			num = &w.ResultCode
		case "MESSAGE":
			str = &w.Message
		case "PAYTYPE":
			str = &w.PayType
		case "RESPONSETIME":
			num = &w.ResponseTime
		case "EXTRADATA":
			str = &w.ExtraData
		case "SIGNATURE":
			str = &w.Signature
		default:
			return nil // unknown fields are ignored, as encoding/json does
		}
		if string(raw) == "null" {
			return nil
		}
		if str != nil {
			return t.String(raw, str)
		}
		if raw[0] == '"' { // encoding/json takes a string holding a number
			var s string
			if err := unquote(raw, &s); err != nil || !isNumber(s) {
				return errors.New("not a number")
			}
			*num = json.Number(s)
			return nil
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return errors.New("not a number")
		}
		*num = json.Number(t.Sub(raw))
		return nil
	})
}

// isNumber reports whether s is exactly a JSON number literal.
func isNumber(s string) bool {
	i := 0
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// unquote decodes the JSON string raw into dst.
func unquote(raw []byte, dst *string) error { return jsonkeys.String(raw, dst) }

// VerifyIPN decodes and verifies an IPN body (JSON). Errors wrap the payment
// sentinels; a valid signature for another partnerCode is ErrWrongMerchant;
// a valid signature over an ambiguous string (a value containing
// "&<signed key>=") returns the notification marked Unconfirmed with an
// error wrapping payment.ErrAmbiguous (confirm it with Confirm, or treat
// it as unconfirmed, never as paid);
// a body whose objects repeat a key, exactly or up to case ("amount" and
// "Amount"), is ErrDuplicateParam, since readers disagree on which wins.
func (c *Client) VerifyIPN(body []byte) (*Notification, error) {
	var w ipnWire
	var n *Notification
	err := w.decode(body, c.ipnShape)
	if errors.Is(err, jsonkeys.ErrDuplicateKey) {
		err = fmt.Errorf("momo: %w: IPN body: %w", payment.ErrDuplicateParam, err)
	}
	if err != nil && !errors.Is(err, payment.ErrDuplicateParam) {
		err = fmt.Errorf("momo: %w: IPN body is not the expected JSON object", payment.ErrMalformed)
	} else if err == nil {
		n, err = fromText(w.PartnerCode, w.OrderID, w.RequestID, w.Amount.String(), w.OrderInfo, w.OrderType, w.TransID.String(),
			w.ResultCode.String(), w.Message, w.PayType, w.ResponseTime.String(), w.ExtraData, w.Signature)
	}
	return c.finish(n, err)
}

// VerifyRedirect verifies the query MoMo appends to the redirectUrl, given as
// received (r.URL.RawQuery). A repeated signed parameter is refused; other
// parameters are ignored.
func (c *Client) VerifyRedirect(rawQuery string) (*Notification, error) {
	v, err := parseQuery(rawQuery)
	var n *Notification
	if err == nil {
		n, err = fromText(v["partnerCode"], v["orderId"], v["requestId"], v["amount"], v["orderInfo"], v["orderType"], v["transId"],
			v["resultCode"], v["message"], v["payType"], v["responseTime"], v["extraData"], v["signature"])
	}
	return c.finish(n, err)
}

// MaxQueryLen caps the redirect query VerifyRedirect accepts.
const MaxQueryLen = 8 << 10

func parseQuery(rawQuery string) (map[string]string, error) {
	signed := make(map[string]bool, len(notificationKeys)+1)
	for _, k := range notificationKeys {
		signed[k] = true
	}
	signed["signature"] = true
	v, err := query.Parse(rawQuery, MaxQueryLen, func(k string) bool { return signed[k] })
	if err != nil {
		return nil, fmt.Errorf("momo: %w", err)
	}
	return v, nil
}

func fromText(partner, orderID, requestID, amount, orderInfo, orderType, transID, resultCode, message, payType, responseTime, extraData, sig string) (*Notification, error) {
	if sig == "" {
		return nil, fmt.Errorf("momo: %w", payment.ErrMissingSignature)
	}
	n := &Notification{PartnerCode: partner, OrderID: orderID, RequestID: requestID, OrderInfo: orderInfo, OrderType: orderType,
		Message: message, PayType: payType, ExtraData: extraData, Signature: sig}
	var err error
	num := func(name, s string, bits int) int64 {
		if v, ok := smallInt(s); ok {
			return v
		}
		v, e := strconv.ParseInt(s, 10, bits)
		if e != nil && err == nil {
			err = fmt.Errorf("momo: %w: %s %q is not an integer", payment.ErrMalformed, name, s)
		}
		return v
	}
	n.Amount = num("amount", amount, 64)
	n.TransID = num("transId", transID, 64)
	n.ResultCode = int(num("resultCode", resultCode, 32))
	n.ResponseTime = num("responseTime", responseTime, 64)
	if err != nil {
		return nil, err
	}
	for _, v := range []string{partner, orderID, requestID, orderInfo, orderType, message, payType, extraData} {
		if i := strings.IndexByte(v, '&'); i >= 0 && ambiguous(v[i:]) {
			n.Unconfirmed = true
		}
	}
	return n, nil
}

// ambiguous reports whether s contains "&k=" for a signed key k.
func ambiguous(s string) bool {
	for _, k := range notificationKeys {
		if strings.Contains(s, "&"+k+"=") {
			return true
		}
	}
	return false
}

// finish verifies n's signature against every key pair and reports to the
// observer.
func (c *Client) finish(n *Notification, err error) (*Notification, error) {
	if err == nil {
		n.Slot, err = c.verify(n)
		if err == nil {
			c.obs.Verified(Provider, n.Slot)
			if n.PartnerCode != c.partner {
				return nil, fmt.Errorf("momo: %w: partnerCode %q, configured %q", payment.ErrWrongMerchant, n.PartnerCode, c.partner)
			}
			if n.Unconfirmed {
				return n, fmt.Errorf("momo: %w", payment.ErrAmbiguous)
			}
			return n, nil
		}
	}
	c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
	return nil, err
}

func (c *Client) verify(n *Notification) (secretenv.Slot, error) {
	var sig [sha256.Size]byte
	if len(n.Signature) != 2*sha256.Size {
		return "", fmt.Errorf("momo: %w: signature is %d characters, want 64 hex digits", payment.ErrMalformed, len(n.Signature))
	}
	if _, err := hex.Decode(sig[:], []byte(n.Signature)); err != nil {
		return "", fmt.Errorf("momo: %w: signature is not hex", payment.ErrMalformed)
	}
	bp := msgBufs.Get().(*[]byte)
	defer msgBufs.Put(bp)
	ps, np := c.pairs(c.now())
	for _, p := range ps[:np] {
		msg := appendNotificationRaw((*bp)[:0], p.access.Bytes(), n)
		*bp = msg
		if p.mac.Equal(msg, sig[:]) {
			if !p.live {
				return "", fmt.Errorf("momo: %w", payment.ErrRetiredKey)
			}
			return p.slot, nil
		}
	}
	return "", fmt.Errorf("momo: %w", payment.ErrBadSignature)
}

// msgBufs holds the buffers signed strings are built in (the hash takes
// them through an interface, so a stack array would escape anyway).
var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// IPNFunc handles a verified IPN. Returning nil answers MoMo 204 No
// Content; an error answers 500 so that MoMo retries.
type IPNFunc func(ctx context.Context, n *Notification) error

// IPNHandler returns the handler for MoMo's ipnUrl: POST with a JSON body
// (capped at 64 KiB). It verifies the body, calls fn and answers 204 as
// MoMo requires. A refused IPN gets 400 with a JSON body saying why and fn
// is not called; another method 405, another content type 415, a larger
// body 413. Each refusal is reported to the observer's IPNRejected.
//
// Duplicates (Config.Idempotency): fn runs at most once per (orderId,
// transId, resultCode). MoMo documents a single answer, 204 No Content, so
// a repeat of a processed IPN is answered 204 without calling fn
// (reported as payment.ReasonAlreadyProcessed). When fn fails the claim is
// released and the answer is 500, so MoMo's retry reaches fn again; a
// repeat arriving while fn still runs, or an idempotency store failure,
// is answered 503 with Retry-After (ReasonInProgress,
// ReasonStoreUnavailable). fn's context ends with the claim's lease.
//
// An ambiguous IPN (see VerifyIPN) is confirmed through MoMo's query API
// when Config.APIURL is set: confirmed, fn gets it with Unconfirmed false;
// contradicted, 400 (payment.ReasonAmbiguousMismatch); the API failing,
// 503 so MoMo retries (ReasonAmbiguousQueryFailed). Without an API URL fn gets
// it with Unconfirmed true. Each outcome is counted by a
// payment.AmbiguityObserver.
func (c *Client) IPNHandler(fn IPNFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reject := func(status int, reason payment.Reason, msg string) {
			c.obs.IPNRejected(Provider, reason)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reject(http.StatusMethodNotAllowed, payment.ReasonMethod, "MoMo sends IPNs with POST, not "+r.Method)
			return
		}
		if !ipnhttp.IsJSON(r) {
			reject(http.StatusUnsupportedMediaType, payment.ReasonContentType, "want Content-Type application/json")
			return
		}
		body, err := ipnhttp.ReadBody(w, r, ipnhttp.MaxBody)
		if err != nil {
			if errors.Is(err, payment.ErrBodyTooLarge) {
				reject(http.StatusRequestEntityTooLarge, payment.ReasonBodyTooLarge, "body too large")
			} else {
				reject(http.StatusBadRequest, payment.ReasonMalformed, "could not read the body")
			}
			return
		}
		n, err := c.VerifyIPN(body)
		if errors.Is(err, payment.ErrAmbiguous) {
			if n, err = c.settle(r.Context(), n); err != nil && errors.Is(err, ErrAPI) {
				w.Header().Set("Retry-After", "30")
				reject(http.StatusServiceUnavailable, payment.ReasonAmbiguousQueryFailed, "could not confirm the payment with MoMo; retry later")
				return
			}
		}
		if err != nil {
			reason := payment.ReasonOf(err)
			msg := "signature refused"
			switch reason {
			case payment.ReasonMalformed:
				msg = "malformed IPN"
			case payment.ReasonWrongMerchant:
				msg = "partnerCode is not this merchant's"
			case payment.ReasonAmbiguousMismatch:
				msg = "MoMo does not confirm this payment"
			}
			reject(http.StatusBadRequest, reason, msg)
			return
		}
		key := idem.Key(Provider, n.PartnerCode, n.OrderID, itoa(n.TransID), strconv.Itoa(n.ResultCode))
		if n.Unconfirmed { // the fields may be another reading of the signed string
			key = idem.Key(Provider, "unconfirmed", n.Signature)
		}
		out, _ := c.guard.Run(r.Context(), key,
			func(ctx context.Context) error { return fn(ctx, n) })
		switch out {
		case idem.Failed:
			reject(http.StatusInternalServerError, payment.ReasonCallback, "not processed, retry later")
			return
		case idem.InProgress:
			w.Header().Set("Retry-After", "10")
			reject(http.StatusServiceUnavailable, payment.ReasonInProgress, "being processed, retry later")
			return
		case idem.StoreDown:
			w.Header().Set("Retry-After", "30")
			reject(http.StatusServiceUnavailable, payment.ReasonStoreUnavailable, "not processed, retry later")
			return
		case idem.Duplicate:
			c.obs.IPNRejected(Provider, payment.ReasonAlreadyProcessed)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// settle confirms an ambiguous notification for IPNHandler.
func (c *Client) settle(ctx context.Context, n *Notification) (*Notification, error) {
	if c.apiURL == "" {
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousUnconfirmed)
		return n, nil
	}
	n, err := c.Confirm(ctx, n)
	switch {
	case err == nil:
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousConfirmed)
	case errors.Is(err, payment.ErrAmbiguousMismatch):
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousMismatch)
	default:
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousQueryFailed)
	}
	return n, err
}

// smallInt parses s when it is an optional '-' then 1 to 9 digits (within
// every field's range, int32 included), the common case; ok false leaves
// s to strconv.
func smallInt(s string) (int64, bool) {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 9 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if s[0] == '-' {
		n = -n
	}
	return n, true
}
