// Package vnpay signs VNPay (API v2.1.0) payment URLs, querydr and refund
// requests, and verifies Return URL and IPN queries and API responses with a
// rotation-aware secret set.
//
// The common path:
//
//	cfg, err := vnpay.LoadConfig(secretenv.Env()) // VNPAY_TMN_CODE, VNPAY_HASH_SECRET[_PREVIOUS[_UNTIL]]
//	cfg.Idempotency = idemredis.New(rdb, "idem:vnpay:") // required: a retried notification reaches the application once
//	c, err := vnpay.New(cfg)
//	url, err := c.PaymentURL(vnpay.SandboxURL, vnpay.PaymentRequest{Amount: 10000, TxnRef: "42", ...})
//	http.Handle("/ipn/vnpay", c.IPNHandler(func(ctx context.Context, n *vnpay.Notification) vnpay.IPNResponse {
//		// look the order up by n.TxnRef, compare n.Amount, mark it paid if n.Paid()
//		return vnpay.ConfirmSuccess
//	}))
//
// Signatures are HMAC-SHA512 in lowercase hex over the vnp_* parameters
// sorted by byte order, empty values skipped, each key and value encoded as
// PHP's urlencode does (space as "+", everything but [A-Za-z0-9-_.]
// percent-encoded with uppercase hex). Verification reads the raw query:
// only vnp_* parameters count (a Return URL may carry its own), a repeated
// vnp_* parameter is refused, and the hex signature is compared in constant
// time whatever its case.
//
// After a rotation VNPay keeps re-sending IPNs signed with the old secret for
// up to 24 hours: give the old secret as HashSecret.Previous with
// PreviousUntil = UntilAfterRotation(rotatedAt), and such IPNs verify with
// slot "previous". Signing always uses the current secret.
//
// Unlike PayOS's and MoMo's key=value strings (see payment.ErrAmbiguous),
// a VNPay signed string cannot be read two ways: every key and value is
// percent-encoded before the pairs are joined, so a "&" or "=" inside a
// value never reaches the string as a separator, and one signed string
// has exactly one set of vnp_* parameters (encodings of one value, "~" or
// "%7E", sign and read alike; parameters outside the signature are
// dropped, a repeated vnp_* one refused). No IPN therefore needs QueryDR
// to tell its readings apart, and IPNHandler never queries. QueryDR is for
// what the IPN cannot settle: an IPN that never came, and results VNPay
// reports as not final (vnp_TransactionStatus 01 incomplete, 04 reversed
// — the bank charged the payer, VNPay did not complete —, 07 held as
// suspected fraud). Those reach IPNFunc as verified notifications with
// Paid false; leave the order pending and confirm it later with QueryDR.
// A signed IPN refused after its signature (a vnp_Amount that is not a
// multiple of 100, a missing vnp_TxnRef) is answered RspCode 99, so VNPay
// retries it and it is not lost silently.
//
// Importing this package pulls in no database or Redis client.
package vnpay

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/secretenv"
)

// Provider is the provider label in observer calls and metrics.
const Provider = "vnpay"

// Version is the API version this package speaks.
const Version = "2.1.0"

// Endpoints of the VNPay sandbox.
const (
	SandboxURL    = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
	SandboxAPIURL = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
)

// MaxQueryLen caps the raw query VerifyIPN and the IPN handler accept.
// VNPay's IPN queries are well under 2 KiB.
const MaxQueryLen = 8 << 10

// Environment variables read by LoadConfig.
const (
	EnvTmnCode    = "VNPAY_TMN_CODE"
	EnvHashSecret = "VNPAY_HASH_SECRET"
)

// UntilAfterRotation is the default PreviousUntil for a rotation made at
// rotatedAt: VNPay's 24-hour IPN retry window.
func UntilAfterRotation(rotatedAt time.Time) time.Time {
	return payment.UntilAfterRotation(rotatedAt, payment.VNPayRetryWindow)
}

// vietnam is GMT+7, the zone of every VNPay date.
var vietnam = time.FixedZone("GMT+7", 7*3600)

// dateLayout is VNPay's yyyyMMddHHmmss.
const dateLayout = "20060102150405"

// FormatDate formats t as VNPay wants dates: yyyyMMddHHmmss in GMT+7.
func FormatDate(t time.Time) string { return t.In(vietnam).Format(dateLayout) }

// Config is what a Client needs.
type Config struct {
	// TmnCode is the merchant terminal code (vnp_TmnCode). Required.
	TmnCode string
	// HashSecret is vnp_HashSecret and, during a rotation, the previous one.
	HashSecret payment.SecretSet
	// Observer is told about every verification; nil ignores them.
	Observer payment.Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Idempotency de-duplicates IPNs: IPNHandler runs its callback at most
	// once per transaction (vnp_TmnCode, vnp_TxnRef, vnp_TransactionNo,
	// vnp_TransactionStatus) and answers a repeat RspCode 02 "Order already
	// confirmed" without calling it. Required unless NoIdempotency is set;
	// see payment.IdempotencyStore, payment/idemredis, payment/idempg.
	Idempotency payment.IdempotencyStore
	// NoIdempotency opts out explicitly: every delivery of an IPN reaches
	// the callback, which must then de-duplicate by itself. A Client that
	// only signs payment URLs sets it.
	NoIdempotency bool
	// IdempotencyLease and IdempotencyKeep override payment.DefaultLease
	// and payment.DefaultKeep.
	IdempotencyLease, IdempotencyKeep time.Duration
	// Logger receives idempotency store failures; nil means slog.Default().
	Logger *slog.Logger
	// APIURL is VNPay's merchant API (SandboxAPIURL or production), which
	// QueryDR calls; empty: QueryDR is ErrConfig. HTTPClient makes the calls
	// (nil: http.DefaultClient).
	APIURL     string
	HTTPClient *http.Client
}

// LoadConfig reads VNPAY_TMN_CODE and the VNPAY_HASH_SECRET set
// (VNPAY_HASH_SECRET_PREVIOUS, VNPAY_HASH_SECRET_PREVIOUS_UNTIL) from src,
// validated like every provider secret.
func LoadConfig(src secretenv.Source) (Config, error) {
	code, err := secretenv.Require(src, EnvTmnCode, secretenv.IdentifierRule)
	if err != nil {
		return Config{}, err
	}
	set, err := payment.LoadSecretSet(src, payment.NewSecretVars(EnvHashSecret), secretenv.ProviderSecretRule)
	if err != nil {
		return Config{}, err
	}
	return Config{TmnCode: string(code.Bytes()), HashSecret: set}, nil
}

// Client signs and verifies for one terminal. It is safe for concurrent use.
type Client struct {
	tmn    string
	secret payment.SecretSet
	mac    *keyedmac.Set // secret keyed once (HMAC-SHA512), for verifying
	obs    payment.Observer
	now    func() time.Time
	guard  idem.Guard
	apiURL string
	hc     *http.Client
}

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("vnpay: invalid config")

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.TmnCode == "" {
		return nil, fmt.Errorf("%w: TmnCode is empty; set %s", ErrConfig, EnvTmnCode)
	}
	if err := cfg.HashSecret.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.Idempotency == nil && !cfg.NoIdempotency {
		return nil, fmt.Errorf("%w: %w (Config.Idempotency or Config.NoIdempotency)", ErrConfig, payment.ErrNoIdempotencyStore)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.APIURL != "" {
		if u, err := url.Parse(cfg.APIURL); err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: APIURL %q is not an absolute URL", ErrConfig, cfg.APIURL)
		}
	}
	return &Client{tmn: cfg.TmnCode, secret: cfg.HashSecret, mac: keyedmac.NewSet(sha512.New, cfg.HashSecret), obs: payment.OrNop(cfg.Observer), now: now,
		guard:  idem.Guard{Provider: Provider, Store: cfg.Idempotency, Lease: cfg.IdempotencyLease, Keep: cfg.IdempotencyKeep, Log: cfg.Logger},
		apiURL: cfg.APIURL, hc: cfg.HTTPClient}, nil
}

// Encode is PHP's urlencode, the encoding VNPay hashes: Go's
// url.QueryEscape with "~" also escaped as %7E.
func Encode(s string) string {
	e := url.QueryEscape(s)
	if strings.IndexByte(e, '~') < 0 {
		return e
	}
	return strings.ReplaceAll(e, "~", "%7E")
}

// HashData returns the string VNPay signs for params: the vnp_* entries
// except vnp_SecureHash and vnp_SecureHashType, empty values skipped, sorted
// by key in byte order, each key and value passed through Encode, joined as
// k=v with "&". A payment URL's query is this string followed by
// "&vnp_SecureHash=" and the signature.
func HashData(params map[string]string) string {
	return hashData(params, false)
}

func hashData(params map[string]string, includeEmpty bool) string {
	keys := make([]string, 0, len(params))
	n := 0
	for k, v := range params {
		if !signed(k) || (v == "" && !includeEmpty) {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n + n/4)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(Encode(k))
		b.WriteByte('=')
		b.WriteString(Encode(params[k]))
	}
	return b.String()
}

// signed reports whether the parameter k takes part in the signature.
func signed(k string) bool {
	return strings.HasPrefix(k, "vnp_") && k != "vnp_SecureHash" && k != "vnp_SecureHashType"
}

// SignParams returns the signed query string for params: HashData(params)
// followed by "&vnp_SecureHash=<hex>", signed with the current secret.
func (c *Client) SignParams(params map[string]string) (string, error) {
	data := HashData(params)
	sig, err := c.secret.SignHex(sha512.New, []byte(data))
	if err != nil {
		return "", err
	}
	return data + "&vnp_SecureHash=" + sig, nil
}

// PaymentRequest is one checkout. Amount is in VND; the package sends
// vnp_Amount = Amount × 100 as VNPay requires.
type PaymentRequest struct {
	Amount    int64  // VND, > 0
	TxnRef    string // the merchant's order reference, unique per day
	OrderInfo string // VNPay asks for unaccented Vietnamese without special characters: see StripDiacritics
	OrderType string // default "other"
	ReturnURL string // where the customer lands afterwards
	IPAddr    string // the customer's IP address
	Locale    string // "vn" (default) or "en"
	CurrCode  string // default "VND"
	BankCode  string // optional: skip VNPay's bank choice
	// CreateDate defaults to the client's clock; ExpireDate to 15 minutes
	// after it.
	CreateDate time.Time
	ExpireDate time.Time
	// Extra holds further vnp_* parameters (e.g. vnp_Bill_Mobile); keys
	// must start with "vnp_".
	Extra map[string]string
}

// ErrRequest is returned for a request that cannot be signed as given.
var ErrRequest = errors.New("vnpay: invalid request")

// maxAmount keeps Amount × 100 inside int64.
const maxAmount = (1<<63 - 1) / 100

// PaymentURL returns base with the signed query of r: the URL to redirect
// the customer to.
func (c *Client) PaymentURL(base string, r PaymentRequest) (string, error) {
	if r.Amount <= 0 || r.Amount > maxAmount {
		return "", fmt.Errorf("%w: amount %d VND is out of range", ErrRequest, r.Amount)
	}
	for name, v := range map[string]string{"TxnRef": r.TxnRef, "OrderInfo": r.OrderInfo, "ReturnURL": r.ReturnURL, "IPAddr": r.IPAddr} {
		if v == "" {
			return "", fmt.Errorf("%w: %s is required", ErrRequest, name)
		}
	}
	create := r.CreateDate
	if create.IsZero() {
		create = c.now()
	}
	expire := r.ExpireDate
	if expire.IsZero() {
		expire = create.Add(15 * time.Minute)
	}
	p := map[string]string{
		"vnp_Version":    Version,
		"vnp_Command":    "pay",
		"vnp_TmnCode":    c.tmn,
		"vnp_Amount":     strconv.FormatInt(r.Amount*100, 10),
		"vnp_CurrCode":   or(r.CurrCode, "VND"),
		"vnp_TxnRef":     r.TxnRef,
		"vnp_OrderInfo":  r.OrderInfo,
		"vnp_OrderType":  or(r.OrderType, "other"),
		"vnp_Locale":     or(r.Locale, "vn"),
		"vnp_ReturnUrl":  r.ReturnURL,
		"vnp_IpAddr":     r.IPAddr,
		"vnp_CreateDate": FormatDate(create),
		"vnp_ExpireDate": FormatDate(expire),
	}
	if r.BankCode != "" {
		p["vnp_BankCode"] = r.BankCode
	}
	for k, v := range r.Extra {
		if !signed(k) {
			return "", fmt.Errorf("%w: extra parameter %q does not start with vnp_ (or is the signature itself)", ErrRequest, k)
		}
		if _, dup := p[k]; dup {
			return "", fmt.Errorf("%w: extra parameter %q is set by the request fields", ErrRequest, k)
		}
		p[k] = v
	}
	q, err := c.SignParams(p)
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Previous returns a client that signs with this client's previous secret,
// as VNPay still does for its retry window after a rotation, and false when
// there is no previous secret. It is for drills and smoke tests that play
// the provider's side.
func (c *Client) Previous() (*Client, bool) {
	if c.secret.Previous.IsZero() {
		return nil, false
	}
	p := *c
	p.secret = payment.SecretSet{Current: c.secret.Previous}
	p.mac = keyedmac.NewSet(sha512.New, p.secret)
	return &p, true
}
