package zalopay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/payment/internal/ipnhttp"
	"github.com/goodgo/rotation/payment/internal/jsonkeys"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/payment/internal/query"
	"github.com/goodgo/rotation/secretenv"
)

// Callback types.
const (
	TypeOrder     = 1
	TypeAgreement = 2
)

// Callback is a verified callback.
type Callback struct {
	// Type is TypeOrder or TypeAgreement. It is NOT authenticated: ZaloPay's
	// MAC covers only Data. VerifyCallback refuses other values and checks
	// Data's app_id for both types, so a changed type cannot smuggle another
	// app's callback; never base a decision on Type alone.
	Type int
	// Data is the signed "data" string exactly as received.
	Data string
	// Order is Data parsed, for TypeOrder callbacks.
	Order OrderData
	// Slot is the key2 that verified the MAC.
	Slot secretenv.Slot
	// Unconfirmed: the MAC verified, but Data cannot be read as one order
	// (it repeats a key, exactly or up to case, so readers disagree on
	// its value; a field has another type than documented; it is not
	// JSON), and ZaloPay's query API did not confirm it: Order holds at
	// most the AppTransID every reading agrees on, nothing is
	// authenticated. Check the order with ZaloPay (Query) before
	// delivering.
	Unconfirmed bool
}

// OrderData is the data of an order callback: ZaloPay received the money.
type OrderData struct {
	AppID          int    `json:"app_id"`
	AppTransID     string `json:"app_trans_id"`
	AppTime        int64  `json:"app_time"`
	AppUser        string `json:"app_user"`
	Amount         int64  `json:"amount"` // VND received
	EmbedData      string `json:"embed_data"`
	Item           string `json:"item"`
	ZPTransID      int64  `json:"zp_trans_id"`
	ServerTime     int64  `json:"server_time"` // Unix ms
	Channel        int    `json:"channel"`
	MerchantUserID string `json:"merchant_user_id"`
	UserFeeAmount  int64  `json:"user_fee_amount"`
	DiscountAmount int64  `json:"discount_amount"`
}

// envelope is the callback body. Data stays a string: the MAC covers it as
// received, so it is never re-serialized.
type envelope struct {
	// data is the "data" string decoded (nil when absent or null), in
	// the scratch buffer decode was given.
	data []byte
	// mac is the "mac" string decoded: a slice of the body when it has
	// no escapes.
	mac     []byte
	typ     int
	hasType bool // a type other than null
}

// decode reads a callback body as json.Unmarshal into
// struct{Data *string; Mac string; Type *int} does, without reflection
// (keys matched up to case, a repeated key refused); data is decoded into
// *scratch (which the caller keeps until it is done with e.data).
func (e *envelope) decode(body []byte, scratch *[]byte, sh *jsonkeys.Shape) error {
	into := func(fold []byte) *[]byte {
		if string(fold) == "DATA" {
			return scratch // a string data is decoded while it is checked
		}
		return nil
	}
	return jsonkeys.FieldsInto(body, sh, into, func(fold, raw []byte) error {
		switch string(fold) { // jsonkeys.Fold of the field names
		case "DATA":
			if string(raw) == "null" {
				e.data = nil // as encoding/json sets a pointer to nil
				return nil
			}
			if raw[0] != '"' {
				return errors.New("not a string")
			}
			e.data = *scratch // decoded by FieldsInto
		case "MAC":
			if string(raw) == "null" {
				return nil
			}
			if jsonkeys.Plain(raw) {
				e.mac = raw[1 : len(raw)-1]
				return nil
			}
			var s string
			if err := jsonkeys.String(raw, &s); err != nil {
				return err
			}
			e.mac = []byte(s)
		case "TYPE":
			if string(raw) == "null" {
				e.typ, e.hasType = 0, false
				return nil
			}
			var n int64
			if err := jsonkeys.Int(raw, &n); err != nil {
				return err
			}
			e.typ, e.hasType = int(n), true
		}
		return nil
	})
}

// dataBufs holds the buffers callback data is decoded into.
var dataBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// shapes remembers the keys of the last callback body and order data
// (jsonkeys.Shape: ZaloPay sends the same keys every time).
type shapes struct{ env, data jsonkeys.Shape }

// decodeText reads order data as json.Unmarshal into OrderData does,
// without reflection; s is string(data) when the caller has it, or "";
// sh may be nil.
func (o *OrderData) decodeText(data []byte, s string, sh *jsonkeys.Shape) error {
	t := jsonkeys.NewText(data, s) // the strings are substrings of one copy
	return jsonkeys.FieldsInto(data, sh, nil, func(fold, raw []byte) error {
		i := -1
		switch string(fold) { // jsonkeys.Fold of the keys, in set's numbering
		case "APP_ID":
			i = 0
		case "APP_TRANS_ID":
			i = 1
		case "APP_TIME":
			i = 2
		case "APP_USER":
			i = 3
		case "AMOUNT":
			i = 4
		case "EMBED_DATA":
			i = 5
		case "ITEM":
			i = 6
		case "ZP_TRANS_ID":
			i = 7
		case "SERVER_TIME":
			i = 8
		case "CHANNEL":
			i = 9
		case "MERCHANT_USER_ID":
			i = 10
		case "USER_FEE_AMOUNT":
			i = 11
		case "DISCOUNT_AMOUNT":
			i = 12
		default:
			return nil
		}
		return o.set(t, i, raw)
	})
}

// set stores raw in the field numbered i by decodeText's key switch.
func (o *OrderData) set(t jsonkeys.Text, i int, raw []byte) error {
	switch i {
	case 1:
		return t.String(raw, &o.AppTransID)
	case 3:
		return t.String(raw, &o.AppUser)
	case 5:
		return t.String(raw, &o.EmbedData)
	case 6:
		return t.String(raw, &o.Item)
	case 10:
		return t.String(raw, &o.MerchantUserID)
	case 2:
		return jsonkeys.Int(raw, &o.AppTime)
	case 4:
		return jsonkeys.Int(raw, &o.Amount)
	case 7:
		return jsonkeys.Int(raw, &o.ZPTransID)
	case 8:
		return jsonkeys.Int(raw, &o.ServerTime)
	case 11:
		return jsonkeys.Int(raw, &o.UserFeeAmount)
	case 12:
		return jsonkeys.Int(raw, &o.DiscountAmount)
	}
	n := int64(o.AppID)
	if i == 9 {
		n = int64(o.Channel)
	}
	if err := jsonkeys.Int(raw, &n); err != nil {
		return err
	}
	if i == 0 {
		o.AppID = int(n)
	} else {
		o.Channel = int(n)
	}
	return nil
}

// VerifyCallback decodes and verifies a callback body. The MAC is checked
// with key2 over the data string as received before data is parsed. Errors
// wrap the payment sentinels; a valid MAC over another app's data is
// ErrWrongMerchant, whatever the (unsigned) type says; a type other than
// TypeOrder and TypeAgreement is ErrMalformed. A body whose object repeats
// a key, exactly or up to case, is ErrDuplicateParam (which data was
// signed is unclear), as is an agreement's data repeating one.
//
// An order callback whose MAC verifies but whose data is not one order (a
// key repeated up to case, so that two JSON readers see two amounts, a
// field of another type than documented, or not JSON at all) is returned
// with Unconfirmed set and an error wrapping payment.ErrAmbiguous: ZaloPay
// signed it, so it must not be lost, but its fields are not
// authenticated. CallbackHandler confirms it through the query API
// (Config.QueryURL); otherwise treat it as unconfirmed, never as paid.
// (ZaloPay's MAC covers the data string byte for byte, so unlike
// PayOS's and MoMo's key=value strings it cannot be read as other
// fields: a parse of the data is the only ambiguity.)
func (c *Client) VerifyCallback(body []byte) (*Callback, error) {
	var env envelope
	bp := dataBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 16<<10 { // else a hostile body's buffer is dropped
			dataBufs.Put(bp)
		}
	}()
	if err := env.decode(body, bp, &c.shapes.env); errors.Is(err, jsonkeys.ErrDuplicateKey) {
		err = fmt.Errorf("zalopay: %w: callback body: %w", payment.ErrDuplicateParam, err)
		c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
		return nil, err
	} else if err != nil || env.data == nil {
		err := fmt.Errorf("zalopay: %w: callback body is not {\"data\": \"…\", \"mac\": \"…\", \"type\": n}", payment.ErrMalformed)
		c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
		return nil, err
	}
	slot, err := c.k2mac.VerifyHexBytes(env.data, env.mac, c.now())
	if err != nil {
		err = fmt.Errorf("zalopay: %w", err)
		c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
		return nil, err
	}
	c.obs.Verified(Provider, slot)
	cb := &Callback{Type: TypeOrder, Data: string(env.data), Slot: slot}
	if env.hasType {
		cb.Type = env.typ
	}
	// type is outside the MAC: it only chooses how data is read, and data
	// (signed) must name this app whatever type says.
	if cb.Type != TypeOrder && cb.Type != TypeAgreement {
		return nil, fmt.Errorf("zalopay: %w: callback type %d is neither %d (order) nor %d (agreement)", payment.ErrMalformed, cb.Type, TypeOrder, TypeAgreement)
	}
	if cb.Type == TypeOrder {
		if err := cb.Order.decodeText(env.data, cb.Data, &c.shapes.data); err != nil {
			// Signed by ZaloPay, yet not one order: never trusted as it
			// reads, never dropped either (see Unconfirmed).
			cb.Order = OrderData{AppTransID: agreedString(env.data, "APP_TRANS_ID")}
			cb.Unconfirmed = true
			if errors.Is(err, jsonkeys.ErrDuplicateKey) {
				return cb, fmt.Errorf("zalopay: %w: callback data: %w", payment.ErrAmbiguous, err)
			}
			return cb, fmt.Errorf("zalopay: %w: callback data is not an order object", payment.ErrAmbiguous)
		}
		if cb.Order.AppID != c.appID {
			return nil, fmt.Errorf("zalopay: %w: app_id %d, configured %d", payment.ErrWrongMerchant, cb.Order.AppID, c.appID)
		}
		return cb, nil
	}
	if err := jsonkeys.Check([]byte(cb.Data)); errors.Is(err, jsonkeys.ErrDuplicateKey) {
		return nil, fmt.Errorf("zalopay: %w: callback data: %w", payment.ErrDuplicateParam, err)
	}
	var app struct {
		AppID *int `json:"app_id"`
	}
	if err := json.Unmarshal([]byte(cb.Data), &app); err != nil || app.AppID == nil {
		return nil, fmt.Errorf("zalopay: %w: callback data is not an object with app_id", payment.ErrMalformed)
	}
	if *app.AppID != c.appID {
		return nil, fmt.Errorf("zalopay: %w: app_id %d, configured %d", payment.ErrWrongMerchant, *app.AppID, c.appID)
	}
	return cb, nil
}

// agreedString returns the string value of the top-level keys of data
// folding to key (jsonkeys.Fold) when every one of them holds the same
// string, else "".
func agreedString(data []byte, fold string) string {
	d := json.NewDecoder(bytes.NewReader(data))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	out, seen := "", false
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return ""
		}
		var raw json.RawMessage
		if d.Decode(&raw) != nil {
			return ""
		}
		k, _ := t.(string)
		if string(jsonkeys.Fold(nil, []byte(k))) != fold {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil || seen && s != out {
			return ""
		}
		out, seen = s, true
	}
	return out
}

// CallbackResponse is the JSON ZaloPay expects in answer to a callback.
type CallbackResponse struct {
	ReturnCode    int    `json:"return_code"`
	ReturnMessage string `json:"return_message"`
}

// The documented answers.
var (
	// CallbackOK: processed; ZaloPay stops.
	CallbackOK = CallbackResponse{1, "success"}
	// CallbackInvalid: the MAC (or the body) is invalid; ZaloPay does not
	// retry.
	CallbackInvalid = CallbackResponse{-1, "mac not equal"}
	// CallbackRetry: not processed now; ZaloPay calls back again (at most
	// 3 times).
	CallbackRetry = CallbackResponse{0, "retry"}
	// CallbackAlreadyProcessed: the transaction (zp_trans_id) was
	// processed before; ZaloPay stops. Sent by CallbackHandler for a
	// repeat.
	CallbackAlreadyProcessed = CallbackResponse{2, "already processed"}
)

// Write sends r as JSON with the given HTTP status.
func (r CallbackResponse) Write(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}

// CallbackFunc handles a verified callback. nil answers return_code 1; an
// error answers return_code 0 so that ZaloPay calls back again.
type CallbackFunc func(ctx context.Context, cb *Callback) error

// CallbackHandler returns the handler for ZaloPay's callback URL: POST,
// application/json, body capped at 64 KiB. It verifies the body, calls fn
// and answers with the documented JSON: return_code 1 on success, -1 for a
// bad MAC or body (fn not called), 0 when fn fails. Another method gets 405
// and another content type 415, both with return_code -1; a larger body 413.
// Each refusal is reported to the observer's IPNRejected.
//
// Duplicates (Config.Idempotency): fn runs at most once per zp_trans_id
// (an agreement callback: per signed data). A repeat of a processed
// callback is answered return_code 2 (CallbackAlreadyProcessed) without
// calling fn; when fn fails the claim is released and the answer is
// return_code 0, so ZaloPay's retry reaches fn again; a repeat arriving
// while fn still runs, or an idempotency store failure, is answered
// return_code 0 as well. These are reported to IPNRejected with
// payment.ReasonAlreadyProcessed, ReasonCallback, ReasonInProgress and
// ReasonStoreUnavailable. fn's context ends with the claim's lease.
func (c *Client) CallbackHandler(fn CallbackFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reject := func(status int, reason payment.Reason, resp CallbackResponse) {
			c.obs.IPNRejected(Provider, reason)
			resp.Write(w, status)
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reject(http.StatusMethodNotAllowed, payment.ReasonMethod, CallbackResponse{-1, "ZaloPay sends callbacks with POST, not " + r.Method})
			return
		}
		if !ipnhttp.IsJSON(r) {
			reject(http.StatusUnsupportedMediaType, payment.ReasonContentType, CallbackResponse{-1, "want Content-Type application/json"})
			return
		}
		body, err := ipnhttp.ReadBody(w, r, ipnhttp.MaxBody)
		if err != nil {
			if errors.Is(err, payment.ErrBodyTooLarge) {
				reject(http.StatusRequestEntityTooLarge, payment.ReasonBodyTooLarge, CallbackResponse{-1, "body too large"})
			} else {
				reject(http.StatusBadRequest, payment.ReasonMalformed, CallbackResponse{-1, "could not read the body"})
			}
			return
		}
		cb, err := c.VerifyCallback(body)
		if errors.Is(err, payment.ErrAmbiguous) {
			if cb, err = c.settle(r.Context(), cb); errors.Is(err, errRetry) {
				reject(http.StatusOK, payment.ReasonAmbiguousQueryFailed, CallbackResponse{0, "could not confirm the order with ZaloPay; retry"})
				return
			}
		}
		if err != nil {
			reason := payment.ReasonOf(err)
			resp := CallbackInvalid
			switch reason {
			case payment.ReasonMalformed:
				resp = CallbackResponse{-1, "malformed callback"}
			case payment.ReasonWrongMerchant:
				resp = CallbackResponse{-1, "app_id is not this merchant's"}
			case payment.ReasonAmbiguousMismatch:
				resp = CallbackResponse{-1, "ZaloPay does not confirm this order"}
			}
			reject(http.StatusOK, reason, resp)
			return
		}
		out, _ := c.guard.Run(r.Context(), c.idemKey(cb), func(ctx context.Context) error { return fn(ctx, cb) })
		switch out {
		case idem.Failed:
			reject(http.StatusOK, payment.ReasonCallback, CallbackRetry)
		case idem.InProgress:
			reject(http.StatusOK, payment.ReasonInProgress, CallbackResponse{0, "being processed; retry"})
		case idem.StoreDown:
			reject(http.StatusOK, payment.ReasonStoreUnavailable, CallbackRetry)
		case idem.Duplicate:
			reject(http.StatusOK, payment.ReasonAlreadyProcessed, CallbackAlreadyProcessed)
		default:
			CallbackOK.Write(w, http.StatusOK)
		}
	})
}

var errRetry = errors.New("zalopay: query API did not answer; retry")

// settle confirms an ambiguous order callback for CallbackHandler through
// ZaloPay's query API: paid (return_code 1), the callback goes on with
// Order as the API reports it (amount, zp_trans_id, server_time, discount)
// and Unconfirmed false; failed (2), it is refused with an error wrapping
// payment.ErrAmbiguousMismatch; still processing (3), or the API failing, the
// answer is "retry" (errRetry). Without Config.QueryURL, or without an
// app_trans_id every reading of the data agrees on, it goes on marked
// Unconfirmed. Each outcome is counted by a payment.AmbiguityObserver.
func (c *Client) settle(ctx context.Context, cb *Callback) (*Callback, error) {
	if c.queryURL == "" || cb.Order.AppTransID == "" {
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousUnconfirmed)
		return cb, nil
	}
	q, err := c.Query(ctx, cb.Order.AppTransID)
	switch {
	case err != nil || q.ReturnCode == 3 || q.IsProcessing:
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousQueryFailed)
		return cb, errRetry
	case q.ReturnCode != 1:
		payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousMismatch)
		return cb, fmt.Errorf("zalopay: %w: order %q: return_code %d", payment.ErrAmbiguousMismatch, cb.Order.AppTransID, q.ReturnCode)
	}
	payment.ReportAmbiguous(c.obs, Provider, payment.AmbiguousConfirmed)
	confirmed := *cb
	confirmed.Order = OrderData{AppID: c.appID, AppTransID: cb.Order.AppTransID, Amount: q.Amount, ZPTransID: q.ZPTransID,
		ServerTime: q.ServerTime, DiscountAmount: q.DiscountAmount}
	confirmed.Unconfirmed = false
	return &confirmed, nil
}

// idemKey names a callback's transaction in the idempotency store.
func (c *Client) idemKey(cb *Callback) string {
	if cb.Unconfirmed { // the fields may be another reading of the data
		sum := sha256.Sum256([]byte(cb.Data))
		return idem.Key(Provider+"-unconfirmed", c.app, hex.EncodeToString(sum[:16]))
	}
	if cb.Type == TypeOrder {
		return idem.Key(Provider, c.app, strconv.FormatInt(cb.Order.ZPTransID, 10))
	}
	return idem.Key(Provider+"-agreement", c.app, cb.Data)
}

// Redirect is a verified redirect to the merchant's page after payment.
// It is for display only: fulfil orders from the callback.
type Redirect struct {
	AppID          int
	AppTransID     string
	PmcID          string
	BankCode       string
	Amount         int64
	DiscountAmount int64
	Status         int // 1 = success
	Slot           secretenv.Slot
}

// MaxQueryLen caps the redirect query VerifyRedirect accepts.
const MaxQueryLen = 4 << 10

var redirectKeys = []string{"appid", "apptransid", "pmcid", "bankcode", "amount", "discountamount", "status", "checksum"}

// VerifyRedirect verifies the query ZaloPay appends to the redirect URL,
// given as received: checksum = HMAC(key2,
// appid|apptransid|pmcid|bankcode|amount|discountamount|status). A repeated
// parameter, or a "|" inside a value (which could move text across the
// separator), is refused.
func (c *Client) VerifyRedirect(rawQuery string) (*Redirect, error) {
	r, verified, err := c.verifyRedirect(rawQuery)
	if err != nil && !verified {
		c.obs.SignatureFailed(Provider, payment.ReasonOf(err))
	}
	return r, err
}

func (c *Client) verifyRedirect(rawQuery string) (r *Redirect, verified bool, err error) {
	v, err := query.Parse(rawQuery, MaxQueryLen, func(k string) bool { return slices.Contains(redirectKeys, k) })
	if err != nil {
		return nil, false, fmt.Errorf("zalopay: %w", err)
	}
	for _, k := range redirectKeys {
		if strings.Contains(v[k], "|") {
			return nil, false, fmt.Errorf("zalopay: %w: %s contains the separator |", payment.ErrMalformed, k)
		}
	}
	if v["checksum"] == "" {
		return nil, false, fmt.Errorf("zalopay: %w: no checksum", payment.ErrMissingSignature)
	}
	input := join(v["appid"], v["apptransid"], v["pmcid"], v["bankcode"], v["amount"], v["discountamount"], v["status"])
	slot, err := c.k2mac.VerifyHex([]byte(input), v["checksum"], c.now())
	if err != nil {
		return nil, false, fmt.Errorf("zalopay: %w", err)
	}
	c.obs.Verified(Provider, slot)
	r = &Redirect{AppTransID: v["apptransid"], PmcID: v["pmcid"], BankCode: v["bankcode"], Slot: slot}
	var errs []error
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		errs = append(errs, err)
		return n
	}
	r.AppID = int(num(v["appid"]))
	r.Amount = num(v["amount"])
	r.DiscountAmount = num(v["discountamount"])
	r.Status = int(num(v["status"]))
	if errors.Join(errs...) != nil {
		return nil, true, fmt.Errorf("zalopay: %w: appid, amount, discountamount and status must be integers", payment.ErrMalformed)
	}
	if r.AppID != c.appID {
		return nil, true, fmt.Errorf("zalopay: %w: appid %d, configured %d", payment.ErrWrongMerchant, r.AppID, c.appID)
	}
	return r, true, nil
}

// SignCallback signs data with the current key2 as ZaloPay does and returns
// the callback body ZaloPay would POST. It is for drills and smoke tests
// that play the provider's side.
func (c *Client) SignCallback(data string, typ int) ([]byte, error) {
	mac, err := c.k2.SignHex(sha256.New, []byte(data))
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Data string `json:"data"`
		Mac  string `json:"mac"`
		Type int    `json:"type"`
	}{data, mac, typ})
}

// Previous returns a client whose key2 is this client's previous key2, as
// ZaloPay still signs callbacks with for its retry window after a rotation,
// and false when there is none. It is for drills and smoke tests that play
// the provider's side.
func (c *Client) Previous() (*Client, bool) {
	if c.k2.Previous.IsZero() {
		return nil, false
	}
	p := *c
	p.k2 = payment.SecretSet{Current: c.k2.Previous}
	p.k2mac = keyedmac.NewSet(sha256.New, p.k2)
	return &p, true
}
