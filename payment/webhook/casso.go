package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/secretenv"
)

// HeaderCassoSignature carries Casso webhook v2 signatures.
const HeaderCassoSignature = "X-Casso-Signature"

// Casso verifies Casso webhook v2 deliveries.
//
// Casso signs HMAC-SHA512(key, t + "." + JSON) where t is the header's
// millisecond timestamp and JSON is the whole body {"error":…,"data":{…}}
// with object keys sorted at every depth, printed compactly the way
// JavaScript's JSON.stringify prints it (no HTML escaping, non-ASCII as
// is), hex-encoded (Casso's published samples,
// github.com/CassoHQ/casso-webhook-v2-verify-signature). The key is Casso's
// "Key bảo mật" as raw bytes.
//
// De-duplication and the timestamp. Casso documents no tolerance for t and
// its verification samples check none, so a retry may carry the t of the
// first attempt; a window of 5 minutes would refuse every retry made later
// (and a fresh t would evade a de-duplication on t). So the Handler
// de-duplicates on Casso's transaction id (data.accountNumber and data.id,
// through the idempotency store), not on t, and t only bounds how long a
// captured delivery verifies: CassoTolerance (72 hours, both ways) unless
// WithTolerance says otherwise, always shorter than the store's keep
// period (payment.DefaultKeep, 30 days). A retry with the same t after
// 5 minutes, or with a fresh t, of a transaction whose first delivery
// failed reaches the application; of a processed transaction it is
// answered 200 without reaching it. The samples' differences on
// characters Go's json.Marshal escapes (&<> and U+2028/9) are settled in
// favour of the JavaScript sample. Numbers are printed as JavaScript prints
// the received value (599000, 1.5, 1e+21); integers beyond 2^53-1 in the
// typed fields, duplicate keys, lone surrogate escapes and invalid UTF-8
// are refused.
// Where the samples disagree on shapes Casso does not send, arrays stay
// arrays (Go and Python samples; the JavaScript one turns them into
// objects) and keys sort by bytes (JavaScript would put integer-like keys
// such as "2" before "10" first): such a delivery could be refused, never
// wrongly accepted.
type Casso struct {
	set payment.SecretSet
	mac [2]*keyedmac.MAC // set's current and previous, keyed once
	cfg config
}

// CassoTolerance is the default window for Casso's t, both ways (see
// Casso).
const CassoTolerance = 72 * time.Hour

// NewCasso returns a Casso verifier for set. Options used: WithClock,
// WithTolerance (default CassoTolerance), WithObserver, WithMaxBody,
// WithLogger, WithIdempotencyStore or WithoutIdempotency (one is
// required), WithIdempotencyFailOpen.
func NewCasso(set payment.SecretSet, opts ...Option) (*Casso, error) {
	if err := set.Validate(); err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	if err := cfg.checkIdempotency(); err != nil {
		return nil, err
	}
	if !cfg.toleranceSet {
		cfg.tolerance = CassoTolerance
	}
	if cfg.store != nil && (cfg.tolerance <= 0 || cfg.tolerance >= payment.DefaultKeep) {
		return nil, fmt.Errorf("webhook: Casso tolerance %s must be positive and shorter than the idempotency keep period %s, or a replay could outlive its record", cfg.tolerance, payment.DefaultKeep)
	}
	return &Casso{set: set, mac: [2]*keyedmac.MAC{keyedmac.New(sha512.New, set.Current), keyedmac.New(sha512.New, set.Previous)}, cfg: cfg}, nil
}

// CassoEvent is a verified Casso v2 delivery.
type CassoEvent struct {
	Error     int64
	Data      CassoTransaction
	Timestamp time.Time // the t of X-Casso-Signature
	Slot      secretenv.Slot
	// Body is the raw body as received (only its canonical form is signed:
	// whitespace and key order are not).
	Body []byte

	idemKey string // the transaction, for the idempotency store
}

// CassoTransaction is the "data" object of a Casso v2 delivery.
type CassoTransaction struct {
	ID                     int64
	Reference              string
	Description            string
	Amount                 int64 // VND; negative for outgoing transfers
	RunningBalance         int64
	TransactionDateTime    string // "2006-01-02 15:04:05", Vietnam time
	AccountNumber          string
	BankName               string
	BankAbbreviation       string
	VirtualAccountNumber   string
	VirtualAccountName     string
	CounterAccountName     string
	CounterAccountNumber   string
	CounterAccountBankID   string
	CounterAccountBankName string
}

// cassoHeader is a parsed X-Casso-Signature.
type cassoHeader struct {
	t    string // digits, as received
	ms   int64
	sigs [][sha512.Size]byte
}

// parseCassoHeader parses "t=<ms>,v1=<hex>"; several v1 entries are
// allowed (like Stripe's, for a rotation) and unknown keys are ignored.
func parseCassoHeader(h string) (cassoHeader, error) {
	var out cassoHeader
	if h == "" {
		return out, fmt.Errorf("%w: no %s header", payment.ErrMissingSignature, HeaderCassoSignature)
	}
	if len(h) > MaxSignatureHeaderLen {
		return out, fmt.Errorf("%w: %s longer than %d bytes", payment.ErrMalformed, HeaderCassoSignature, MaxSignatureHeaderLen)
	}
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return out, fmt.Errorf("%w: %s: want t=<ms>,v1=<hex>", payment.ErrMalformed, HeaderCassoSignature)
		}
		switch k {
		case "t":
			if out.t != "" {
				return out, fmt.Errorf("%w: %s: t given twice", payment.ErrMalformed, HeaderCassoSignature)
			}
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < 0 || len(v) > 16 || v[0] == '+' || (len(v) > 1 && v[0] == '0') {
				return out, fmt.Errorf("%w: %s: t must be unix milliseconds", payment.ErrMalformed, HeaderCassoSignature)
			}
			out.t, out.ms = v, ms
		case "v1":
			var s [sha512.Size]byte
			if len(v) != 2*sha512.Size {
				return out, fmt.Errorf("%w: %s: v1 must be %d hex digits", payment.ErrMalformed, HeaderCassoSignature, 2*sha512.Size)
			}
			if _, err := hex.Decode(s[:], []byte(v)); err != nil {
				return out, fmt.Errorf("%w: %s: v1 must be %d hex digits", payment.ErrMalformed, HeaderCassoSignature, 2*sha512.Size)
			}
			out.sigs = append(out.sigs, s)
		}
	}
	if out.t == "" {
		return out, fmt.Errorf("%w: %s: no t", payment.ErrMalformed, HeaderCassoSignature)
	}
	if len(out.sigs) == 0 {
		return out, fmt.Errorf("%w: %s: no v1", payment.ErrMissingSignature, HeaderCassoSignature)
	}
	return out, nil
}

// cassoMessage returns the signed string t "." canonical-JSON(body).
func cassoMessage(dst []byte, t string, body *jvalue) []byte {
	dst = append(dst, t...)
	dst = append(dst, '.')
	return appendCanonical(dst, *body, true)
}

// Verify checks a delivery: header is the X-Casso-Signature value, body
// the raw request body. It reports Verified or SignatureFailed.
func (c *Casso) Verify(header string, body []byte) (CassoEvent, error) {
	return c.verifyKeyed(header, body, false)
}

// verifyKeyed is Verify, naming the transaction for the idempotency store
// too when keyed (the Handler's need, not verification's).
func (c *Casso) verifyKeyed(header string, body []byte, keyed bool) (CassoEvent, error) {
	ev, err := c.verify(header, body, keyed)
	if err != nil {
		c.cfg.obs.SignatureFailed(ProviderCasso, payment.ReasonOf(err))
		return CassoEvent{}, err
	}
	c.cfg.obs.Verified(ProviderCasso, ev.Slot)
	return ev, nil
}

func (c *Casso) verify(header string, body []byte, keyed bool) (CassoEvent, error) {
	h, err := parseCassoHeader(header)
	if err != nil {
		return CassoEvent{}, err
	}
	now := c.cfg.now()
	ts := time.UnixMilli(h.ms)
	if !c.cfg.inWindow(ts, now) {
		return CassoEvent{}, fmt.Errorf("%w: %s t=%s is more than %s from now", payment.ErrTimestamp, HeaderCassoSignature, h.t, c.cfg.tolerance)
	}
	doc := getDoc()
	defer doc.release()
	root, err := doc.parse(body)
	if err != nil {
		return CassoEvent{}, fmt.Errorf("%w: body: %w", payment.ErrMalformed, err)
	}
	if root.kind != jObj {
		return CassoEvent{}, fmt.Errorf("%w: body is not a JSON object", payment.ErrMalformed)
	}
	msg := cassoMessage(doc.buf[:0], h.t, &root)
	doc.buf = msg
	var curBuf, prevBuf [sha512.Size]byte
	cur, prev := c.mac[0].Sum(curBuf[:0], msg), []byte(nil)
	if c.mac[1] != nil {
		prev = c.mac[1].Sum(prevBuf[:0], msg)
	}
	var okCur, okPrev bool
	for i := range h.sigs {
		okCur = hmac.Equal(h.sigs[i][:], cur) || okCur
		if prev != nil {
			okPrev = hmac.Equal(h.sigs[i][:], prev) || okPrev
		}
	}
	slot, err := slotOf(&c.set, okCur, okPrev, now)
	if err != nil {
		return CassoEvent{}, err
	}
	ev := CassoEvent{Timestamp: ts, Slot: slot, Body: body}
	if err := ev.fill(&root); err != nil {
		return CassoEvent{}, err
	}
	if !keyed {
		return ev, nil
	}
	if ev.Data.ID != 0 {
		ev.idemKey = "tx:" + ev.Data.AccountNumber + ":" + strconv.FormatInt(ev.Data.ID, 10)
	} else {
		// No transaction id: the signed content without t, so a fresh t
		// does not make it new.
		sum := sha256.Sum256(msg[len(h.t)+1:])
		ev.idemKey = "body:" + hex.EncodeToString(sum[:16])
	}
	return ev, nil
}

func (ev *CassoEvent) fill(root *jvalue) error {
	var f fields
	if v, ok := root.get("error"); ok {
		ev.Error = f.int(&v, "error")
	}
	d, ok := root.get("data")
	if !ok || d.kind != jObj {
		return fmt.Errorf("%w: body has no \"data\" object", payment.ErrMalformed)
	}
	t := &ev.Data
	for i := range d.len() {
		key, val := d.member(i)
		switch key {
		case "id":
			t.ID = f.int(&val, key)
		case "amount":
			t.Amount = f.int(&val, key)
		case "runningBalance":
			t.RunningBalance = f.int(&val, key)
		case "reference":
			t.Reference = f.str(&val, key)
		case "description":
			t.Description = f.str(&val, key)
		case "transactionDateTime":
			t.TransactionDateTime = f.str(&val, key)
		case "accountNumber":
			t.AccountNumber = f.str(&val, key)
		case "bankName":
			t.BankName = f.str(&val, key)
		case "bankAbbreviation":
			t.BankAbbreviation = f.str(&val, key)
		case "virtualAccountNumber":
			t.VirtualAccountNumber = f.str(&val, key)
		case "virtualAccountName":
			t.VirtualAccountName = f.str(&val, key)
		case "counterAccountName":
			t.CounterAccountName = f.str(&val, key)
		case "counterAccountNumber":
			t.CounterAccountNumber = f.str(&val, key)
		case "counterAccountBankId":
			t.CounterAccountBankID = f.str(&val, key)
		case "counterAccountBankName":
			t.CounterAccountBankName = f.str(&val, key)
		}
	}
	return f.err
}

// fields extracts typed values, remembering the first type error.
type fields struct{ err error }

func (f *fields) int(v *jvalue, name string) int64 {
	switch v.kind {
	case jNull:
		return 0
	case jNum:
		if v.f == math.Trunc(v.f) && math.Abs(v.f) < 1<<53 {
			return int64(v.f)
		}
	}
	if f.err == nil {
		f.err = fmt.Errorf("%w: %q must be an integer", payment.ErrMalformed, name)
	}
	return 0
}

func (f *fields) str(v *jvalue, name string) string {
	switch v.kind {
	case jNull:
		return ""
	case jStr:
		return v.s
	}
	if f.err == nil {
		f.err = fmt.Errorf("%w: %q must be a string", payment.ErrMalformed, name)
	}
	return ""
}

// CassoSignature returns the X-Casso-Signature value Casso would send for
// body at time t with key: for tests, drills and replaying a delivery to a
// staging receiver. body must be a JSON object.
func CassoSignature(key []byte, t time.Time, body []byte) (string, error) {
	root, err := parseJSON(body)
	if err != nil {
		return "", fmt.Errorf("%w: body: %w", payment.ErrMalformed, err)
	}
	if root.kind != jObj {
		return "", fmt.Errorf("%w: body is not a JSON object", payment.ErrMalformed)
	}
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	m := hmac.New(sha512.New, key)
	m.Write(cassoMessage(nil, ts, &root))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil)), nil
}
