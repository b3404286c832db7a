package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
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
	set   payment.SecretSet
	mac   *keyedmac.Set // set keyed once
	cfg   config
	shape atomic.Pointer[payosShape] // the last data shape verified
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
	return &PayOS{set: set, mac: keyedmac.NewSet(sha256.New, set), cfg: cfg}, nil
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
	Slot                   secretenv.Slot
	// Unconfirmed: the signed string was ambiguous (a value contains
	// "&<key>=") and PayOS's query API did not confirm the fields: they
	// are not authenticated. Check the order with PayOS before delivering.
	Unconfirmed bool

	idemKey string // the payment, for the idempotency store
	// signed is the signed string, "k1=v1&k2=v2…"; ends holds where its
	// i-th value ends (keys are [A-Za-z0-9_]+, so a member's key ends at
	// its first '='). The string fields alias signed: one allocation,
	// without pointers, for all of data's rendered members.
	signed string
	ends   string // each value's end in signed, 4 bytes little-endian
}

// nfields returns the number of data's members.
func (ev *PayOSEvent) nfields() int { return len(ev.ends) / 4 }

// end returns where data's i-th member (in signed order) ends in signed.
func (ev *PayOSEvent) end(i int) int {
	e := ev.ends[4*i : 4*i+4]
	return int(uint32(e[0]) | uint32(e[1])<<8 | uint32(e[2])<<16 | uint32(e[3])<<24)
}

// member returns data's i-th member in signed (sorted) order.
func (ev *PayOSEvent) member(i int) (key, val string) {
	start := 0
	if i > 0 {
		start = ev.end(i-1) + 1 // after the '&'
	}
	kv := ev.signed[start:ev.end(i)]
	eq := strings.IndexByte(kv, '=')
	return kv[:eq], kv[eq+1:]
}

// value returns the value of data's i-th member in signed order, whose
// key is n bytes long.
func (ev *PayOSEvent) value(i, n int) string {
	start := 0
	if i > 0 {
		start = ev.end(i-1) + 1
	}
	return ev.signed[start+n+1 : ev.end(i)]
}

// Field returns the signed field key of data as the signature renders it
// (numbers as JavaScript prints them, null as ""), also for fields this
// package does not know, and whether data has it.
func (ev *PayOSEvent) Field(key string) (string, bool) {
	for i := range ev.nfields() {
		if k, v := ev.member(i); k == key {
			return v, true
		}
	}
	return "", false
}

// Fields returns every signed field of data, rendered as Field renders
// it, in a new map.
func (ev *PayOSEvent) Fields() map[string]string {
	m := make(map[string]string, ev.nfields())
	for i := range ev.nfields() {
		k, v := ev.member(i)
		m[k] = v
	}
	return m
}

// payosCanon renders data's canonical string into dst and returns where
// each value ends in it (offsets from len(dst), in sorted order), and
// whether a value contains "&<key>=" (which makes the string readable as
// other fields).
func payosCanon(dst []byte, data *jvalue) (_ []byte, ends []uint32, amb bool, _ error) {
	dst, ends, amb, _, err := payosCanonShape(dst, nil, data, nil)
	return dst, ends, amb, err
}

// payosShape is the key order of one data object: its keys as received
// (all valid) and their sorted order. PayOS sends the same keys in the
// same order every time, so a verifier keeps the last shape and skips
// re-sorting and re-checking keys that match it.
type payosShape struct {
	keys  []string
	order []int
	ids   []uint8 // each key's payosFieldID
}

// matches reports whether ms (of document d) has exactly sh's keys in
// sh's order.
func (sh *payosShape) matches(d *jdoc, ms []jmember) bool {
	if sh == nil || len(sh.keys) != len(ms) {
		return false
	}
	for i := range ms {
		if d.str(ms[i].key) != sh.keys[i] {
			return false
		}
	}
	return true
}

// payosCanonShape is payosCanon with the last shape seen (nil: none),
// appending the ends to ends[:0]; it returns the shape of data, sh itself
// when it matched.
func payosCanonShape(dst []byte, ends []uint32, data *jvalue, sh *payosShape) (_ []byte, _ []uint32, amb bool, _ *payosShape, _ error) {
	if data.kind != jObj {
		return dst, nil, false, nil, fmt.Errorf("%w: \"data\" is not an object", payment.ErrMalformed)
	}
	d, ms := data.d, data.members()
	if !sh.matches(d, ms) {
		var err error
		if sh, err = newPayOSShape(d, ms); err != nil {
			return dst, nil, false, nil, err
		}
	}
	ends = slices.Grow(ends[:0], len(ms))[:len(ms)]
	base := len(dst)
	for i, j := range sh.order {
		key := sh.keys[j]
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, key...)
		dst = append(dst, '=')
		start := len(dst)
		var err error
		n := &ms[j].val
		if dst, err = payosValue(dst, d, n); err != nil {
			return dst, nil, false, nil, fmt.Errorf("%w: data.%s: %w", payment.ErrMalformed, key, err)
		}
		amb = amb || ambiguous(dst[start:])
		ends[i] = uint32(len(dst) - base)
	}
	return dst, ends, amb, sh, nil
}

// newPayOSShape checks the keys of ms and sorts them.
func newPayOSShape(d *jdoc, ms []jmember) (*payosShape, error) {
	sh := &payosShape{keys: make([]string, len(ms)), order: make([]int, len(ms)), ids: make([]uint8, len(ms))}
	for i := range ms {
		k := d.str(ms[i].key)
		if !payosKey(k) {
			return nil, fmt.Errorf("%w: data key %q is not [A-Za-z0-9_]+", payment.ErrMalformed, k)
		}
		// A copy: the shape outlives the body (a substring would keep
		// all of it in memory).
		sh.keys[i], sh.order[i], sh.ids[i] = strings.Clone(k), i, payosFieldID(k)
	}
	slices.SortFunc(sh.order, func(a, b int) int { return strings.Compare(sh.keys[a], sh.keys[b]) })
	return sh, nil
}

// payosKeyByte marks [A-Za-z0-9_].
var payosKeyByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	return t
}()

func payosKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !payosKeyByte[k[i]] {
			return false
		}
	}
	return true
}

// ambiguous reports whether v contains '&', then key characters, then '='.
func ambiguous(v []byte) bool {
	for i := 0; i < len(v); i++ {
		k := bytes.IndexByte(v[i:], '&')
		if k < 0 {
			return false // most values hold no '&': one vectorised scan
		}
		i += k
		j := i + 1
		for j < len(v) && payosKeyByte[v[j]] {
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

// payosValue appends the value n of document d as PayOS signs it.
func payosValue(dst []byte, d *jdoc, n *jnode) ([]byte, error) {
	switch n.kind {
	case jNull:
		return dst, nil
	case jStr:
		s := d.str(n.s)
		if s == "null" || s == "undefined" {
			return dst, nil
		}
		return append(dst, s...), nil
	case jNum:
		return appendJSNumber(dst, n.f), nil
	case jBool:
		if n.b {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case jArr:
		v := d.value(n)
		dst = append(dst, '[')
		for i := range v.len() {
			_, el := v.member(i)
			if el.kind != jObj {
				return dst, errString("array element is not an object")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			// Top-level keys of each element sorted, deeper levels as received
			// (sortObjDataByKey is shallow).
			var buf [24]int
			dst = appendMembers(dst, el, keyOrder(&el, buf[:0]), false)
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
	return p.verifyKeyed(body, false)
}

// verifyKeyed is Verify, naming the payment for the idempotency store too
// when keyed (the Handler's need, not verification's).
func (p *PayOS) verifyKeyed(body []byte, keyed bool) (PayOSEvent, error) {
	ev, err := p.verify(body, keyed)
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

func (p *PayOS) verify(body []byte, keyed bool) (PayOSEvent, error) {
	doc := getDoc()
	defer doc.release()
	// Read in place: what the event keeps is copied (signed, shape keys),
	// errors quote with %q, which copies.
	root, err := doc.parseView(body)
	if err != nil {
		return PayOSEvent{}, fmt.Errorf("%w: body: %w", payment.ErrMalformed, err)
	}
	if root.kind != jObj {
		return PayOSEvent{}, fmt.Errorf("%w: body is not a JSON object", payment.ErrMalformed)
	}
	// One pass over the top-level members for both (keys are unique).
	var sv, data jvalue
	var hasSig, hasData bool
	for i := range root.len() {
		switch root.key(i) {
		case "signature":
			_, sv = root.member(i)
			hasSig = true
		case "data":
			_, data = root.member(i)
			hasData = true
		}
	}
	if !hasSig || sv.kind == jNull || (sv.kind == jStr && sv.s == "") {
		return PayOSEvent{}, fmt.Errorf("%w: no \"signature\"", payment.ErrMissingSignature)
	}
	var sig [sha256.Size]byte
	if sv.kind != jStr || len(sv.s) != 2*sha256.Size {
		return PayOSEvent{}, fmt.Errorf("%w: \"signature\" must be %d hex digits", payment.ErrMalformed, 2*sha256.Size)
	}
	if _, err := hex.AppendDecode(sig[:0], []byte(sv.s)); err != nil {
		return PayOSEvent{}, fmt.Errorf("%w: \"signature\" must be %d hex digits", payment.ErrMalformed, 2*sha256.Size)
	}
	if !hasData {
		return PayOSEvent{}, fmt.Errorf("%w: no \"data\"", payment.ErrMalformed)
	}
	old := p.shape.Load()
	msg, ends, amb, sh, err := payosCanonShape(doc.buf[:0], doc.ends, &data, old)
	doc.buf, doc.ends = msg, ends
	if err != nil {
		return PayOSEvent{}, err
	}
	if sh != old {
		p.shape.Store(sh)
	}
	slot, err := p.mac.VerifyMAC(msg, sig[:], p.cfg.now())
	if err != nil {
		return PayOSEvent{}, err
	}
	// One allocation for the event's strings: the signed string, then
	// where each value ends in it.
	all := msg
	for _, e := range ends {
		all = binary.LittleEndian.AppendUint32(all, e)
	}
	doc.buf = all
	text := string(all)
	ev := PayOSEvent{Slot: slot, Unconfirmed: amb, signed: text[:len(msg)], ends: text[len(msg):]}
	if err := ev.fill(data.members(), sh); err != nil {
		return PayOSEvent{}, err
	}
	if amb {
		// The fields may be another reading of the signed string: key the
		// delivery on the string itself until the query API confirms it.
		if keyed {
			sum := sha256.Sum256(msg)
			ev.idemKey = "data:" + hex.EncodeToString(sum[:16])
		}
		return ev, fmt.Errorf("payos: %w", payment.ErrAmbiguous)
	}
	if !keyed {
		return ev, nil
	}
	if ev.Reference != "" {
		ev.idemKey = "order:" + strconv.FormatInt(ev.OrderCode, 10) + ":" + ev.Reference
	} else {
		sum := sha256.Sum256(msg)
		ev.idemKey = "data:" + hex.EncodeToString(sum[:16])
	}
	return ev, nil
}

// fill sets ev's typed fields from data's members ms and their rendered
// values in ev.signed, whose order is sh's (one pass).
func (ev *PayOSEvent) fill(ms []jmember, sh *payosShape) error {
	var f fields
	for i, j := range sh.order {
		id := sh.ids[j]
		if id == pfNone {
			continue // signed, but not a field of PayOSEvent (Field has it)
		}
		key, n := sh.keys[j], &ms[j].val
		switch id {
		// Integers must be JSON numbers: the string "3000" signs the same
		// as 3000, so accepting both would let one be swapped for the other.
		case pfOrderCode:
			ev.OrderCode = f.int(&jvalue{kind: n.kind, f: n.f}, key)
		case pfAmount:
			ev.Amount = f.int(&jvalue{kind: n.kind, f: n.f}, key)
		default:
			f.str(&jvalue{kind: n.kind}, key) // type check: string or null
			*ev.stringField(id) = ev.value(i, len(key))
		}
	}
	return f.err
}

// The data members fill reads, numbered for payosShape.ids.
const (
	pfNone uint8 = iota
	pfOrderCode
	pfAmount
	pfDescription
	pfAccountNumber
	pfReference
	pfTransactionDateTime
	pfCurrency
	pfPaymentLinkID
	pfCode
	pfDesc
	pfCounterAccountBankID
	pfCounterAccountBankName
	pfCounterAccountName
	pfCounterAccountNumber
	pfVirtualAccountName
	pfVirtualAccountNumber
)

// payosFieldID numbers a data key as fill reads it.
func payosFieldID(key string) uint8 {
	switch key {
	case "orderCode":
		return pfOrderCode
	case "amount":
		return pfAmount
	case "description":
		return pfDescription
	case "accountNumber":
		return pfAccountNumber
	case "reference":
		return pfReference
	case "transactionDateTime":
		return pfTransactionDateTime
	case "currency":
		return pfCurrency
	case "paymentLinkId":
		return pfPaymentLinkID
	case "code":
		return pfCode
	case "desc":
		return pfDesc
	case "counterAccountBankId":
		return pfCounterAccountBankID
	case "counterAccountBankName":
		return pfCounterAccountBankName
	case "counterAccountName":
		return pfCounterAccountName
	case "counterAccountNumber":
		return pfCounterAccountNumber
	case "virtualAccountName":
		return pfVirtualAccountName
	case "virtualAccountNumber":
		return pfVirtualAccountNumber
	}
	return pfNone
}

// stringField returns the string field numbered id.
func (ev *PayOSEvent) stringField(id uint8) *string {
	switch id {
	case pfDescription:
		return &ev.Description
	case pfAccountNumber:
		return &ev.AccountNumber
	case pfReference:
		return &ev.Reference
	case pfTransactionDateTime:
		return &ev.TransactionDateTime
	case pfCurrency:
		return &ev.Currency
	case pfPaymentLinkID:
		return &ev.PaymentLinkID
	case pfCode:
		return &ev.Code
	case pfDesc:
		return &ev.Desc
	case pfCounterAccountBankID:
		return &ev.CounterAccountBankID
	case pfCounterAccountBankName:
		return &ev.CounterAccountBankName
	case pfCounterAccountName:
		return &ev.CounterAccountName
	case pfCounterAccountNumber:
		return &ev.CounterAccountNumber
	case pfVirtualAccountName:
		return &ev.VirtualAccountName
	}
	return &ev.VirtualAccountNumber // pfVirtualAccountNumber
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
