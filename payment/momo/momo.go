// Package momo signs MoMo AIO v2 requests (create, query, refund) and
// verifies IPN and redirect (return URL) results with a rotation-aware pair
// of secret sets: the access key, which is part of every signed string, and
// the secret key, which is the HMAC key.
//
// The common path:
//
//	cfg, err := momo.LoadConfig(secretenv.Env()) // MOMO_PARTNER_CODE, MOMO_ACCESS_KEY[_PREVIOUS[_UNTIL]], MOMO_SECRET_KEY[...]
//	cfg.Idempotency = idemredis.New(rdb, "idem:momo:") // required: a retried notification reaches the application once
//	c, err := momo.New(cfg)
//	req := momo.CreateRequest{RequestID: id, OrderID: id, Amount: 50000, OrderInfo: "...", RedirectURL: ..., IPNURL: ...}
//	err = c.SignCreate(&req) // then POST req as JSON to SandboxCreateURL
//	http.Handle("/ipn/momo", c.IPNHandler(func(ctx context.Context, n *momo.Notification) error {
//		// match n.OrderID and n.Amount with the order; record n.Paid()
//		return nil // answered 204 No Content
//	}))
//
// Signatures are lowercase-hex HMAC-SHA256 over "key=value" pairs in a fixed
// (alphabetical) order joined with "&", values raw (not URL-encoded).
// Amounts, transId and responseTime are integers: they are decoded as JSON
// numbers into int64 and formatted in decimal, never through float64 (which
// would print 5e+07). extraData is signed as the base64 string received.
//
// MoMo's signed string is not injective: a value holding "&amount=" could
// pass text from one field into the next without changing the signature.
// The verifiers therefore refuse any value containing "&<signed key>=".
//
// After a rotation MoMo may re-send IPNs signed with the old keys for up to
// 24 hours: configure them as Previous with PreviousUntil =
// UntilAfterRotation(rotatedAt). Signing always uses the current keys.
//
// Importing this package pulls in no database or Redis client.
package momo

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/payment/internal/jsonkeys"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/secretenv"
)

// Provider is the provider label in observer calls and metrics.
const Provider = "momo"

// Endpoints of the MoMo test environment.
const (
	SandboxCreateURL = "https://test-payment.momo.vn/v2/gateway/api/create"
	SandboxQueryURL  = "https://test-payment.momo.vn/v2/gateway/api/query"
	SandboxRefundURL = "https://test-payment.momo.vn/v2/gateway/api/refund"
)

// Environment variables read by LoadConfig.
const (
	EnvPartnerCode = "MOMO_PARTNER_CODE"
	EnvAccessKey   = "MOMO_ACCESS_KEY"
	EnvSecretKey   = "MOMO_SECRET_KEY"
)

// AccessKeyRule validates MOMO_ACCESS_KEY. MoMo's access keys are shorter
// than its secret keys (the public sandbox one is 13 characters), so the
// minimum is 8 bytes rather than secretenv.ProviderSecretRule's 16.
var AccessKeyRule = secretenv.Rule{Encoding: secretenv.Raw, MinLen: 8}

// UntilAfterRotation is the default PreviousUntil for a rotation made at
// rotatedAt: MoMo's 24-hour IPN retry window.
func UntilAfterRotation(rotatedAt time.Time) time.Time {
	return payment.UntilAfterRotation(rotatedAt, payment.MoMoRetryWindow)
}

// Config is what a Client needs.
type Config struct {
	// PartnerCode is the merchant's partnerCode. Required.
	PartnerCode string
	// AccessKey is signed into every message (not the HMAC key).
	AccessKey payment.SecretSet
	// SecretKey is the HMAC key.
	SecretKey payment.SecretSet
	// Observer is told about every verification; nil ignores them.
	Observer payment.Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Idempotency de-duplicates IPNs: IPNHandler runs its callback at most
	// once per (partnerCode, orderId, transId, resultCode), so the
	// authorized (9000) and the captured (0) IPN of one transaction are
	// both delivered, and answers a repeat 204 without calling it.
	// Required unless NoIdempotency is set; see payment.IdempotencyStore,
	// payment/idemredis, payment/idempg.
	Idempotency payment.IdempotencyStore
	// NoIdempotency opts out explicitly: every delivery of an IPN reaches
	// the callback, which must then de-duplicate by itself. A Client that
	// only signs requests sets it.
	NoIdempotency bool
	// IdempotencyLease and IdempotencyKeep override payment.DefaultLease
	// and payment.DefaultKeep.
	IdempotencyLease, IdempotencyKeep time.Duration
	// Logger receives idempotency store failures; nil means slog.Default().
	Logger *slog.Logger
	// APIURL is the base of MoMo's API (SandboxAPIURL, or
	// https://payment.momo.vn) for Query; IPNHandler then confirms
	// ambiguous IPNs through it. Empty: ambiguous IPNs are handed to the
	// callback marked Unconfirmed.
	APIURL string
	// HTTPClient sends Query requests; nil means a client with the 30 s
	// timeout MoMo asks for.
	HTTPClient *http.Client
}

// LoadConfig reads MOMO_PARTNER_CODE and the MOMO_ACCESS_KEY and
// MOMO_SECRET_KEY sets (each with _PREVIOUS and _PREVIOUS_UNTIL) from src.
// MOMO_ACCESS_KEY_PREVIOUS_UNTIL defaults to MOMO_SECRET_KEY_PREVIOUS_UNTIL,
// since MoMo's keys usually rotate together.
func LoadConfig(src secretenv.Source) (Config, error) {
	code, err := secretenv.Require(src, EnvPartnerCode, secretenv.IdentifierRule)
	if err != nil {
		return Config{}, err
	}
	akVars := payment.NewSecretVars(EnvAccessKey)
	v, ok, err := src.Lookup(akVars.PreviousUntil)
	if err != nil {
		return Config{}, err
	}
	if !ok || v == "" {
		// The two keys usually rotate together: one deadline serves both.
		akVars.PreviousUntil = EnvSecretKey + "_PREVIOUS_UNTIL"
	}
	ak, err := payment.LoadSecretSet(src, akVars, AccessKeyRule)
	if err != nil {
		return Config{}, err
	}
	sk, err := payment.LoadSecretSet(src, payment.NewSecretVars(EnvSecretKey), secretenv.ProviderSecretRule)
	if err != nil {
		return Config{}, err
	}
	return Config{PartnerCode: string(code.Bytes()), AccessKey: ak, SecretKey: sk}, nil
}

// Client signs and verifies for one partner. It is safe for concurrent use.
type Client struct {
	partner string
	ak, sk  payment.SecretSet
	// skMAC keys sk's current and previous secret once (the signed
	// string depends on the access key, so it is built per pair).
	skMAC [2]*keyedmac.MAC
	// ipnShape remembers the keys of the last IPN body (MoMo sends the
	// same keys every time; see jsonkeys.Shape).
	ipnShape *jsonkeys.Shape
	obs      payment.Observer
	now      func() time.Time
	guard    idem.Guard
	apiURL   string
	hc       *http.Client
}

// Errors returned by New and the Sign methods.
var (
	ErrConfig  = errors.New("momo: invalid config")
	ErrRequest = errors.New("momo: invalid request")
)

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.PartnerCode == "" {
		return nil, fmt.Errorf("%w: PartnerCode is empty; set %s", ErrConfig, EnvPartnerCode)
	}
	if err := cfg.AccessKey.Validate(); err != nil {
		return nil, fmt.Errorf("%w: access key: %w", ErrConfig, err)
	}
	if err := cfg.SecretKey.Validate(); err != nil {
		return nil, fmt.Errorf("%w: secret key: %w", ErrConfig, err)
	}
	if cfg.Idempotency == nil && !cfg.NoIdempotency {
		return nil, fmt.Errorf("%w: %w (Config.Idempotency or Config.NoIdempotency)", ErrConfig, payment.ErrNoIdempotencyStore)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{partner: cfg.PartnerCode, ak: cfg.AccessKey, sk: cfg.SecretKey, skMAC: keyMACs(cfg.SecretKey), ipnShape: new(jsonkeys.Shape), obs: payment.OrNop(cfg.Observer), now: now,
		apiURL: strings.TrimSuffix(cfg.APIURL, "/"), hc: hc,
		guard: idem.Guard{Provider: Provider, Store: cfg.Idempotency, Lease: cfg.IdempotencyLease, Keep: cfg.IdempotencyKeep, Log: cfg.Logger}}, nil
}

// raw joins key=value pairs with "&", the MoMo signed-string format.
func raw(kv ...string) string {
	var b strings.Builder
	n := 0
	for _, s := range kv {
		n += len(s) + 1
	}
	b.Grow(n)
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(kv[i+1])
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// sign returns the hex signature of msg under the current secret key.
func (c *Client) sign(msg string) (string, error) {
	return c.sk.SignHex(sha256.New, []byte(msg))
}

func (c *Client) accessKey() string { return string(c.ak.Current.Bytes()) }

// CreateRequest is the body of POST /v2/gateway/api/create.
type CreateRequest struct {
	PartnerCode string `json:"partnerCode"` // set by SignCreate
	PartnerName string `json:"partnerName,omitempty"`
	StoreID     string `json:"storeId,omitempty"`
	RequestID   string `json:"requestId"`
	Amount      int64  `json:"amount"` // VND
	OrderID     string `json:"orderId"`
	OrderInfo   string `json:"orderInfo"`
	RedirectURL string `json:"redirectUrl"`
	IPNURL      string `json:"ipnUrl"`
	RequestType string `json:"requestType"` // default "captureWallet"
	ExtraData   string `json:"extraData"`   // "" or base64 of JSON
	Lang        string `json:"lang,omitempty"`
	// AutoCapture, OrderGroupID and Items are outside MoMo's create
	// signature (see CreateRaw): only the TLS connection protects them.
	//
	// AutoCapture false asks MoMo to authorize only: the IPN then carries
	// ResultAuthorized (9000) and the money moves on a later confirm. nil
	// sends nothing (MoMo's default, true: capture at once).
	AutoCapture *bool `json:"autoCapture,omitempty"`
	// OrderGroupID groups orders for settlement, when MoMo assigned groups
	// to the merchant; 0 sends nothing.
	OrderGroupID int64 `json:"orderGroupId,omitempty"`
	// Items lists the goods, shown to the payer.
	Items     []Item `json:"items,omitempty"`
	Signature string `json:"signature"`
}

// Item is one line of CreateRequest.Items, as MoMo's create API names it.
type Item struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Category     string `json:"category,omitempty"`
	ImageURL     string `json:"imageUrl,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Price        int64  `json:"price"` // VND per unit
	Currency     string `json:"currency,omitempty"`
	Quantity     int    `json:"quantity"`
	Unit         string `json:"unit,omitempty"`
	TotalPrice   int64  `json:"totalPrice"` // VND, Price × Quantity
	TaxAmount    int64  `json:"taxAmount,omitempty"`
}

// CreateRaw is the string a create request signs:
// accessKey, amount, extraData, ipnUrl, orderId, orderInfo, partnerCode,
// redirectUrl, requestId, requestType.
func CreateRaw(accessKey string, r *CreateRequest) string {
	return raw("accessKey", accessKey, "amount", itoa(r.Amount), "extraData", r.ExtraData, "ipnUrl", r.IPNURL,
		"orderId", r.OrderID, "orderInfo", r.OrderInfo, "partnerCode", r.PartnerCode, "redirectUrl", r.RedirectURL,
		"requestId", r.RequestID, "requestType", r.RequestType)
}

// SignCreate fills PartnerCode (and RequestType when empty) and sets
// Signature with the current keys.
func (c *Client) SignCreate(r *CreateRequest) error {
	if r.Amount <= 0 || r.RequestID == "" || r.OrderID == "" || r.IPNURL == "" || r.RedirectURL == "" {
		return fmt.Errorf("%w: create needs a positive Amount, RequestID, OrderID, IPNURL and RedirectURL", ErrRequest)
	}
	for i, it := range r.Items {
		if it.ID == "" || it.Name == "" || it.Quantity <= 0 || it.Price < 0 || it.TotalPrice != it.Price*int64(it.Quantity) {
			return fmt.Errorf("%w: item %d needs an ID, a Name, a positive Quantity and TotalPrice = Price × Quantity", ErrRequest, i)
		}
	}
	r.PartnerCode = c.partner
	if r.RequestType == "" {
		r.RequestType = "captureWallet"
	}
	sig, err := c.sign(CreateRaw(c.accessKey(), r))
	r.Signature = sig
	return err
}

// QueryRequest is the body of POST /v2/gateway/api/query.
type QueryRequest struct {
	PartnerCode string `json:"partnerCode"` // set by SignQuery
	RequestID   string `json:"requestId"`
	OrderID     string `json:"orderId"`
	Lang        string `json:"lang,omitempty"`
	Signature   string `json:"signature"`
}

// QueryRaw is the string a query request signs:
// accessKey, orderId, partnerCode, requestId.
func QueryRaw(accessKey string, r *QueryRequest) string {
	return raw("accessKey", accessKey, "orderId", r.OrderID, "partnerCode", r.PartnerCode, "requestId", r.RequestID)
}

// SignQuery fills PartnerCode and sets Signature with the current keys.
func (c *Client) SignQuery(r *QueryRequest) error {
	if r.RequestID == "" || r.OrderID == "" {
		return fmt.Errorf("%w: query needs RequestID and OrderID", ErrRequest)
	}
	r.PartnerCode = c.partner
	sig, err := c.sign(QueryRaw(c.accessKey(), r))
	r.Signature = sig
	return err
}

// RefundRequest is the body of POST /v2/gateway/api/refund.
type RefundRequest struct {
	PartnerCode string `json:"partnerCode"` // set by SignRefund
	OrderID     string `json:"orderId"`     // a new ID for the refund
	RequestID   string `json:"requestId"`
	Amount      int64  `json:"amount"`  // VND to refund
	TransID     int64  `json:"transId"` // MoMo's transId of the payment
	Lang        string `json:"lang,omitempty"`
	Description string `json:"description"`
	Signature   string `json:"signature"`
}

// RefundRaw is the string a refund request signs:
// accessKey, amount, description, orderId, partnerCode, requestId, transId.
func RefundRaw(accessKey string, r *RefundRequest) string {
	return raw("accessKey", accessKey, "amount", itoa(r.Amount), "description", r.Description, "orderId", r.OrderID,
		"partnerCode", r.PartnerCode, "requestId", r.RequestID, "transId", itoa(r.TransID))
}

// SignRefund fills PartnerCode and sets Signature with the current keys.
func (c *Client) SignRefund(r *RefundRequest) error {
	if r.Amount <= 0 || r.TransID <= 0 || r.RequestID == "" || r.OrderID == "" {
		return fmt.Errorf("%w: refund needs a positive Amount and TransID, RequestID and OrderID", ErrRequest)
	}
	r.PartnerCode = c.partner
	sig, err := c.sign(RefundRaw(c.accessKey(), r))
	r.Signature = sig
	return err
}

// keyPair is one (access key, secret key) combination a signature may use.
type keyPair struct {
	access, secret fingerprint.Secret
	mac            *keyedmac.MAC // secret's
	slot           secretenv.Slot
	live           bool
}

// keyMACs keys sk's current and previous secret (nil for none).
func keyMACs(sk payment.SecretSet) [2]*keyedmac.MAC {
	return [2]*keyedmac.MAC{keyedmac.New(sha256.New, sk.Current), keyedmac.New(sha256.New, sk.Previous)}
}

// pairs returns the current pair and, during a rotation of either key, the
// previous pair (the previous of each rotated key, the current of the
// other). The previous pair is live while every rotated key is.
func (c *Client) pairs(now time.Time) ([2]keyPair, int) {
	ps := [2]keyPair{{c.ak.Current, c.sk.Current, c.skMAC[0], secretenv.SlotCurrent, true}}
	if c.ak.Previous.IsZero() && c.sk.Previous.IsZero() {
		return ps, 1
	}
	p := keyPair{access: c.ak.Current, secret: c.sk.Current, mac: c.skMAC[0], slot: secretenv.SlotPrevious, live: true}
	if !c.ak.Previous.IsZero() {
		p.access, p.live = c.ak.Previous, c.ak.PreviousLive(now)
	}
	if !c.sk.Previous.IsZero() {
		p.secret, p.mac, p.live = c.sk.Previous, c.skMAC[1], p.live && c.sk.PreviousLive(now)
	}
	ps[1] = p
	return ps, 2
}

// Previous returns a client that signs with this client's previous keys
// (the previous of each rotated key, the current of the other), as MoMo
// still does for its retry window after a rotation, and false when neither
// key has a previous value. It is for drills and smoke tests that play the
// provider's side.
func (c *Client) Previous() (*Client, bool) {
	ps, n := c.pairs(c.now())
	if n < 2 {
		return nil, false
	}
	p := *c
	p.ak = payment.SecretSet{Current: ps[1].access}
	p.sk = payment.SecretSet{Current: ps[1].secret}
	p.skMAC = keyMACs(p.sk)
	return &p, true
}

// SignIPN signs n with the current keys as MoMo does and returns the JSON
// body MoMo would POST to the ipnUrl (numbers as JSON numbers). It is for
// drills and smoke tests that play the provider's side.
func (c *Client) SignIPN(n *Notification) ([]byte, error) {
	sig, err := c.sign(NotificationRaw(c.accessKey(), n))
	if err != nil {
		return nil, err
	}
	n.Signature = sig
	return json.Marshal(ipnOut{n.PartnerCode, n.OrderID, n.RequestID, n.Amount, n.OrderInfo, n.OrderType, n.TransID,
		n.ResultCode, n.Message, n.PayType, n.ResponseTime, n.ExtraData, n.Signature})
}

type ipnOut struct {
	PartnerCode  string `json:"partnerCode"`
	OrderID      string `json:"orderId"`
	RequestID    string `json:"requestId"`
	Amount       int64  `json:"amount"`
	OrderInfo    string `json:"orderInfo"`
	OrderType    string `json:"orderType"`
	TransID      int64  `json:"transId"`
	ResultCode   int    `json:"resultCode"`
	Message      string `json:"message"`
	PayType      string `json:"payType"`
	ResponseTime int64  `json:"responseTime"`
	ExtraData    string `json:"extraData"`
	Signature    string `json:"signature"`
}
