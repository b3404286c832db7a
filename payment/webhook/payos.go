package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// PayOS verifies PayOS payment webhooks.
//
// The body is {"code","desc","success","data":{…},"signature"}; the
// signature covers "data" only: HMAC-SHA256(checksum key as raw bytes,
// "k1=v1&k2=v2…") over data's keys sorted, hex. Values are rendered as
// PayOS's official Node SDK renders them (payOSHQ/payos-lib-node,
// convert-obj-to-query-str.ts), which the PHP sample in PayOS's docs
// matches:
//   - strings as they are, except "null" and "undefined", which become
//     empty, like null;
//   - numbers as JavaScript's String(n) (3000, 0.5, 1e+21);
//   - true and false;
//   - an array as JSON.stringify of its elements, each an object with its
//     top-level keys sorted.
//
// Because that string cannot tell "a=1&b=2" from {"a":"1&b=2"}, and the
// Node SDK signs a nested object as "[object Object]" (the Go SDK as JSON),
// this verifier refuses, as malformed, a key that is not [A-Za-z0-9_]+, a
// rendered value containing "&<key>=", a nested object and an array
// element that is not an object: none occurs in a PayOS payment webhook,
// and each would let a modified body pass. The top-level code, desc and
// success fields are not signed and are not exposed. PayOS has no
// timestamp, so a captured webhook verifies forever: the Handler
// de-duplicates on orderCode and reference through the idempotency store,
// and the application must still refuse to pay an order twice after the
// store's keep period.
type PayOS struct {
	set payment.SecretSet
	cfg config
}

// NewPayOS returns a PayOS verifier for set. Options used: WithClock
// (for the previous key's deadline), WithObserver, WithMaxBody, WithLogger,
// WithIdempotencyStore or WithoutIdempotency (one is required),
// WithIdempotencyFailOpen.
func NewPayOS(set payment.SecretSet, opts ...Option) (*PayOS, error) {
	if err := set.Validate(); err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	if err := cfg.checkIdempotency(); err != nil {
		return nil, err
	}
	return &PayOS{set: set, cfg: cfg}, nil
}

// PayOSEvent is the verified "data" of a PayOS webhook.
type PayOSEvent struct {
	OrderCode              int64
	Amount                 int64
	Description            string
	AccountNumber          string
	Reference              string
	TransactionDateTime    string
	Currency               string
	PaymentLinkID          string
	Code                   string // "00" = success
	Desc                   string
	CounterAccountBankID   string
	CounterAccountBankName string
	CounterAccountName     string
	CounterAccountNumber   string
	VirtualAccountName     string
	VirtualAccountNumber   string
	// Fields holds every signed field of data as the signature renders it
	// (including ones this package does not know).
	Fields map[string]string
	Slot   secretenv.Slot
	// Unconfirmed: the signed string was ambiguous (a value contains
	// "&<key>=") and PayOS's query API did not confirm the fields: they
	// are not authenticated. Check the order with PayOS before delivering.
	Unconfirmed bool

	idemKey string // the payment, for the idempotency store
}

// payosCanon renders data's canonical string into dst and returns the
// rendered values by key, and whether a value contains "&<key>=" (which
// makes the string readable as other fields).
func payosCanon(dst []byte, data *jvalue) (_ []byte, _ map[string]string, amb bool, _ error) {
	if data.kind != jObj {
		return dst, nil, false, fmt.Errorf("%w: \"data\" is not an object", payment.ErrMalformed)
	}
	var buf [24]int
	order := keyOrder(data.obj, buf[:0])
	type span struct {
		key        string
		start, end int
	}
	var spanBuf [24]span
	spans := spanBuf[:0]
	base := len(dst)
	for i, j := range order {
		m := &data.obj[j]
		if !payosKey(m.key) {
			return dst, nil, false, fmt.Errorf("%w: data key %q is not [A-Za-z0-9_]+", payment.ErrMalformed, m.key)
		}
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, m.key...)
		dst = append(dst, '=')
		start := len(dst)
		var err error
		if dst, err = payosValue(dst, &m.val); err != nil {
			return dst, nil, false, fmt.Errorf("%w: data.%s: %w", payment.ErrMalformed, m.key, err)
		}
		amb = amb || ambiguous(dst[start:])
		spans = append(spans, span{m.key, start - base, len(dst) - base})
	}
	// One string for the whole message; the values are slices of it.
	all := string(dst[base:])
	vals := make(map[string]string, len(spans))
	for _, sp := range spans {
		vals[sp.key] = all[sp.start:sp.end]
	}
	return dst, vals, amb, nil
}

func payosKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ambiguous reports whether v contains '&', then key characters, then '='.
func ambiguous[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '&' {
			continue
		}
		j := i + 1
		for j < len(v) && payosKey(string(v[j:j+1])) {
			j++
		}
		if j < len(v) && v[j] == '=' {
			return true
		}
	}
	return false
}

type errString string

func (e errString) Error() string { return string(e) }

func payosValue(dst []byte, v *jvalue) ([]byte, error) {
	switch v.kind {
	case jNull:
		return dst, nil
	case jStr:
		if v.s == "null" || v.s == "undefined" {
			return dst, nil
		}
		return append(dst, v.s...), nil
	case jNum, jBool:
		return appendCanonical(dst, v, false), nil
	case jArr:
		dst = append(dst, '[')
		for i := range v.obj {
			el := &v.obj[i].val
			if el.kind != jObj {
				return dst, errString("array element is not an object")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			// Top-level keys of each element sorted, deeper levels as received
			// (sortObjDataByKey is shallow).
			var buf [24]int
			dst = appendMembers(dst, el.obj, keyOrder(el.obj, buf[:0]), false)
		}
		return append(dst, ']'), nil
	}
	return dst, errString("nested object (PayOS's SDKs disagree on how to sign it)")
}

// Verify checks a webhook body and returns its data. It reports Verified
// or SignatureFailed.
//
// A validly signed body whose data has a value containing "&<key>=" (a
// payer's memo "a&b=c", a URL with a query) is returned with
// Unconfirmed set and an error wrapping payment.ErrAmbiguous: its fields
// are not authenticated. Confirm it (Confirm, or Handler with
// WithPayOSClient) or treat it as unconfirmed; never as paid.
func (p *PayOS) Verify(body []byte) (PayOSEvent, error) {
	ev, err := p.verify(body)
	if errors.Is(err, payment.ErrAmbiguous) {
		p.cfg.obs.Verified(ProviderPayOS, ev.Slot)
		return ev, err
	}
	if err != nil {
		p.cfg.obs.SignatureFailed(ProviderPayOS, payment.ReasonOf(err))
		return PayOSEvent{}, err
	}
	p.cfg.obs.Verified(ProviderPayOS, ev.Slot)
	return ev, nil
}

func (p *PayOS) verify(body []byte) (PayOSEvent, error) {
	root, err := parseJSON(body)
	if err != nil {
		return PayOSEvent{}, fmt.Errorf("%w: body: %w", payment.ErrMalformed, err)
	}
	if root.kind != jObj {
		return PayOSEvent{}, fmt.Errorf("%w: body is not a JSON object", payment.ErrMalformed)
	}
	sv, ok := root.get("signature")
	if !ok || sv.kind == jNull || (sv.kind == jStr && sv.s == "") {
		return PayOSEvent{}, fmt.Errorf("%w: no \"signature\"", payment.ErrMissingSignature)
	}
	var sig [sha256.Size]byte
	if sv.kind != jStr || len(sv.s) != 2*sha256.Size {
		return PayOSEvent{}, fmt.Errorf("%w: \"signature\" must be %d hex digits", payment.ErrMalformed, 2*sha256.Size)
	}
	if _, err := hex.Decode(sig[:], []byte(sv.s)); err != nil {
		return PayOSEvent{}, fmt.Errorf("%w: \"signature\" must be %d hex digits", payment.ErrMalformed, 2*sha256.Size)
	}
	data, ok := root.get("data")
	if !ok {
		return PayOSEvent{}, fmt.Errorf("%w: no \"data\"", payment.ErrMalformed)
	}
	var buf [1024]byte
	msg, vals, amb, err := payosCanon(buf[:0], data)
	if err != nil {
		return PayOSEvent{}, err
	}
	slot, err := p.set.VerifyMAC(sha256.New, msg, sig[:], p.cfg.now())
	if err != nil {
		return PayOSEvent{}, err
	}
	ev := PayOSEvent{Fields: vals, Slot: slot, Unconfirmed: amb}
	if err := ev.fill(data, vals); err != nil {
		return PayOSEvent{}, err
	}
	if amb {
		// The fields may be another reading of the signed string: key the
		// delivery on the string itself until the query API confirms it.
		sum := sha256.Sum256(msg)
		ev.idemKey = "data:" + hex.EncodeToString(sum[:16])
		return ev, fmt.Errorf("payos: %w", payment.ErrAmbiguous)
	}
	if ev.Reference != "" {
		ev.idemKey = "order:" + strconv.FormatInt(ev.OrderCode, 10) + ":" + ev.Reference
	} else {
		sum := sha256.Sum256(msg)
		ev.idemKey = "data:" + hex.EncodeToString(sum[:16])
	}
	return ev, nil
}

func (ev *PayOSEvent) fill(data *jvalue, vals map[string]string) error {
	var f fields
	// Integers must be JSON numbers: the string "3000" signs the same as
	// 3000, so accepting both would let one be swapped for the other.
	if v, ok := data.get("orderCode"); ok {
		ev.OrderCode = f.int(v, "orderCode")
	}
	if v, ok := data.get("amount"); ok {
		ev.Amount = f.int(v, "amount")
	}
	for _, s := range []struct {
		key string
		dst *string
	}{
		{"description", &ev.Description}, {"accountNumber", &ev.AccountNumber}, {"reference", &ev.Reference},
		{"transactionDateTime", &ev.TransactionDateTime}, {"currency", &ev.Currency},
		{"paymentLinkId", &ev.PaymentLinkID}, {"code", &ev.Code}, {"desc", &ev.Desc},
		{"counterAccountBankId", &ev.CounterAccountBankID}, {"counterAccountBankName", &ev.CounterAccountBankName},
		{"counterAccountName", &ev.CounterAccountName}, {"counterAccountNumber", &ev.CounterAccountNumber},
		{"virtualAccountName", &ev.VirtualAccountName}, {"virtualAccountNumber", &ev.VirtualAccountNumber},
	} {
		v, ok := data.get(s.key)
		if !ok {
			continue
		}
		f.str(v, s.key) // type check: string or null
		*s.dst = vals[s.key]
	}
	return f.err
}

// PayOSSignature returns the "signature" PayOS would send for the JSON
// object data with key: for tests, drills and replays to staging.
func PayOSSignature(key []byte, data []byte) (string, error) {
	root, err := parseJSON(data)
	if err != nil {
		return "", fmt.Errorf("%w: data: %w", payment.ErrMalformed, err)
	}
	msg, _, _, err := payosCanon(nil, &root)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil)), nil
}
