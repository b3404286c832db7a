// Package zalopay signs ZaloPay v2 requests (create order, query, refund,
// query refund) with key1 and verifies callbacks and redirects with key2,
// each key a rotation-aware secret set.
//
// The common path:
//
//	cfg, err := zalopay.LoadConfig(secretenv.Env()) // ZALOPAY_APP_ID, ZALOPAY_KEY1[...], ZALOPAY_KEY2[_PREVIOUS[_UNTIL]]
//	cfg.Idempotency = idemredis.New(rdb, "idem:zalopay:") // required: a retried notification reaches the application once
//	c, err := zalopay.New(cfg)
//	o := zalopay.Order{AppTransID: zalopay.AppTransID(time.Now(), "42"), AppUser: "u1", Amount: 50000, Description: "..."}
//	err = c.SignOrder(&o) // then POST o as JSON to SandboxCreateURL
//	http.Handle("/callback/zalopay", c.CallbackHandler(func(ctx context.Context, cb *zalopay.Callback) error {
//		// match cb.Order.AppTransID and cb.Order.Amount with the order, mark it paid
//		return nil // answered {"return_code":1,...}
//	}))
//
// MACs are lowercase-hex HMAC-SHA256 over "|"-joined fields. The callback's
// MAC covers the "data" string exactly as received: the envelope is decoded
// with data kept as a string and data is parsed only after it verified, never
// re-serialized. The query MAC puts key1 inside its own input
// (app_id|app_trans_id|key1), as ZaloPay documents.
//
// Because that MAC covers data byte for byte, data cannot be read as other
// fields the way PayOS's and MoMo's key=value strings can; what can
// happen is signed data that is not one order: a key repeated up to case
// (two JSON readers, two amounts), a field of another type, not JSON. Such
// a callback is not lost: with Config.QueryURL, CallbackHandler asks
// ZaloPay's query API about its app_trans_id and hands the application
// the order as the API reports it (paid), refuses it (failed), or answers
// return_code 0 so that ZaloPay calls again (processing, API down);
// without QueryURL the application gets it marked Unconfirmed
// (Callback.Unconfirmed). Reasons payment.ReasonAmbiguousMismatch and
// ReasonAmbiguousQueryFailed, outcomes counted by a payment.AmbiguityObserver.
//
// After a rotation ZaloPay may re-send callbacks signed with the old key2 for
// up to 48 hours: configure it as Key2.Previous with PreviousUntil =
// UntilAfterRotation(rotatedAt). Signing always uses the current key1.
//
// Importing this package pulls in no database or Redis client.
package zalopay

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
	"github.com/goodgo/rotation/payment/internal/keyedmac"
	"github.com/goodgo/rotation/secretenv"
)

// Provider is the provider label in observer calls and metrics.
const Provider = "zalopay"

// Endpoints of the ZaloPay sandbox.
const (
	SandboxCreateURL      = "https://sb-openapi.zalopay.vn/v2/create"
	SandboxQueryURL       = "https://sb-openapi.zalopay.vn/v2/query"
	SandboxRefundURL      = "https://sb-openapi.zalopay.vn/v2/refund"
	SandboxQueryRefundURL = "https://sb-openapi.zalopay.vn/v2/query_refund"
)

// Environment variables read by LoadConfig.
const (
	EnvAppID = "ZALOPAY_APP_ID"
	EnvKey1  = "ZALOPAY_KEY1"
	EnvKey2  = "ZALOPAY_KEY2"
)

// UntilAfterRotation is the default PreviousUntil for a rotation made at
// rotatedAt: ZaloPay's 48-hour callback retry window.
func UntilAfterRotation(rotatedAt time.Time) time.Time {
	return payment.UntilAfterRotation(rotatedAt, payment.ZaloPayRetryWindow)
}

var vietnam = time.FixedZone("GMT+7", 7*3600)

// AppTransID returns an app_trans_id for an order created at t: the date as
// yymmdd in GMT+7 (as ZaloPay requires), "_", then suffix.
func AppTransID(t time.Time, suffix string) string {
	return t.In(vietnam).Format("060102") + "_" + suffix
}

// Config is what a Client needs.
type Config struct {
	// AppID is the app_id ZaloPay assigned. Required.
	AppID int
	// Key1 signs requests; its Previous is unused (requests are signed with
	// whatever key ZaloPay holds now, the current one).
	Key1 payment.SecretSet
	// Key2 verifies callbacks and redirects.
	Key2 payment.SecretSet
	// Observer is told about every verification; nil ignores them.
	Observer payment.Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Idempotency de-duplicates callbacks: CallbackHandler runs its
	// callback at most once per ZaloPay transaction (app_id, zp_trans_id;
	// an agreement callback by its signed data) and answers a repeat
	// return_code 2 without calling it. Required unless NoIdempotency is
	// set; see payment.IdempotencyStore, payment/idemredis, payment/idempg.
	Idempotency payment.IdempotencyStore
	// NoIdempotency opts out explicitly: every delivery of a callback
	// reaches the application, which must then de-duplicate by itself. A
	// Client that only signs requests sets it.
	NoIdempotency bool
	// IdempotencyLease and IdempotencyKeep override payment.DefaultLease
	// and payment.DefaultKeep.
	IdempotencyLease, IdempotencyKeep time.Duration
	// Logger receives idempotency store failures; nil means slog.Default().
	Logger *slog.Logger
	// QueryURL is ZaloPay's order query API (SandboxQueryURL or
	// production): CallbackHandler confirms an ambiguous callback (see
	// VerifyCallback) through it. Empty: such a callback reaches the
	// application marked Unconfirmed. HTTPClient makes the calls (nil:
	// http.DefaultClient).
	QueryURL   string
	HTTPClient *http.Client
}

// LoadConfig reads ZALOPAY_APP_ID (an integer) and the ZALOPAY_KEY1 and
// ZALOPAY_KEY2 sets (each with _PREVIOUS and _PREVIOUS_UNTIL) from src.
// ZALOPAY_KEY1_PREVIOUS_UNTIL defaults to ZALOPAY_KEY2_PREVIOUS_UNTIL.
func LoadConfig(src secretenv.Source) (Config, error) {
	id, err := secretenv.Require(src, EnvAppID, secretenv.IdentifierRule)
	if err != nil {
		return Config{}, err
	}
	appID, err := strconv.Atoi(string(id.Bytes()))
	if err != nil || appID <= 0 {
		return Config{}, fmt.Errorf("%w: %s must be a positive integer", ErrConfig, EnvAppID)
	}
	k1Vars := payment.NewSecretVars(EnvKey1)
	v, ok, err := src.Lookup(k1Vars.PreviousUntil)
	if err != nil {
		return Config{}, err
	}
	if !ok || v == "" {
		// key1's previous value is never used to verify; one deadline
		// (key2's) serves both.
		k1Vars.PreviousUntil = EnvKey2 + "_PREVIOUS_UNTIL"
	}
	k1, err := payment.LoadSecretSet(src, k1Vars, secretenv.ProviderSecretRule)
	if err != nil {
		return Config{}, err
	}
	k2, err := payment.LoadSecretSet(src, payment.NewSecretVars(EnvKey2), secretenv.ProviderSecretRule)
	if err != nil {
		return Config{}, err
	}
	if err := secretenv.Distinct(secretenv.Named{Var: EnvKey1, Secret: k1.Current}, secretenv.Named{Var: EnvKey2, Secret: k2.Current}); err != nil {
		return Config{}, err
	}
	return Config{AppID: appID, Key1: k1, Key2: k2}, nil
}

// Client signs and verifies for one app. It is safe for concurrent use.
type Client struct {
	appID    int
	app      string
	k1, k2   payment.SecretSet
	k2mac    *keyedmac.Set // k2 keyed once, for callbacks and redirects
	shapes   *shapes
	obs      payment.Observer
	now      func() time.Time
	guard    idem.Guard
	queryURL string
	hc       *http.Client
}

// Errors returned by New and the Sign methods.
var (
	ErrConfig  = errors.New("zalopay: invalid config")
	ErrRequest = errors.New("zalopay: invalid request")
)

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("%w: AppID must be positive; set %s", ErrConfig, EnvAppID)
	}
	if err := cfg.Key1.Validate(); err != nil {
		return nil, fmt.Errorf("%w: key1: %w", ErrConfig, err)
	}
	if err := cfg.Key2.Validate(); err != nil {
		return nil, fmt.Errorf("%w: key2: %w", ErrConfig, err)
	}
	if cfg.Idempotency == nil && !cfg.NoIdempotency {
		return nil, fmt.Errorf("%w: %w (Config.Idempotency or Config.NoIdempotency)", ErrConfig, payment.ErrNoIdempotencyStore)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.QueryURL != "" {
		if u, err := url.Parse(cfg.QueryURL); err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: QueryURL %q is not an absolute URL", ErrConfig, cfg.QueryURL)
		}
	}
	return &Client{appID: cfg.AppID, app: strconv.Itoa(cfg.AppID), k1: cfg.Key1, k2: cfg.Key2, k2mac: keyedmac.NewSet(sha256.New, cfg.Key2), shapes: new(shapes), obs: payment.OrNop(cfg.Observer), now: now,
		guard:    idem.Guard{Provider: Provider, Store: cfg.Idempotency, Lease: cfg.IdempotencyLease, Keep: cfg.IdempotencyKeep, Log: cfg.Logger},
		queryURL: cfg.QueryURL, hc: cfg.HTTPClient}, nil
}

func join(fields ...string) string { return strings.Join(fields, "|") }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (c *Client) mac1(input string) (string, error) { return c.k1.SignHex(sha256.New, []byte(input)) }

// Order is the body of POST /v2/create.
type Order struct {
	AppID       int    `json:"app_id"` // set by SignOrder
	AppUser     string `json:"app_user"`
	AppTransID  string `json:"app_trans_id"` // see AppTransID
	AppTime     int64  `json:"app_time"`     // Unix ms; set by SignOrder when zero
	Amount      int64  `json:"amount"`       // VND
	Item        string `json:"item"`         // JSON array as a string; "[]" when empty
	EmbedData   string `json:"embed_data"`   // JSON object as a string; "{}" when empty
	Description string `json:"description"`
	BankCode    string `json:"bank_code"`
	CallbackURL string `json:"callback_url,omitempty"`
	Mac         string `json:"mac"`
}

// OrderMACInput is the string an order signs:
// app_id|app_trans_id|app_user|amount|app_time|embed_data|item.
func OrderMACInput(o *Order) string {
	return join(strconv.Itoa(o.AppID), o.AppTransID, o.AppUser, itoa(o.Amount), itoa(o.AppTime), o.EmbedData, o.Item)
}

// SignOrder fills AppID, AppTime (when zero), Item and EmbedData (when
// empty) and sets Mac with the current key1.
func (c *Client) SignOrder(o *Order) error {
	if o.Amount <= 0 || o.AppTransID == "" || o.AppUser == "" {
		return fmt.Errorf("%w: an order needs a positive Amount, AppTransID and AppUser", ErrRequest)
	}
	o.AppID = c.appID
	if o.AppTime == 0 {
		o.AppTime = c.now().UnixMilli()
	}
	if o.Item == "" {
		o.Item = "[]"
	}
	if o.EmbedData == "" {
		o.EmbedData = "{}"
	}
	mac, err := c.mac1(OrderMACInput(o))
	o.Mac = mac
	return err
}

// QueryRequest is the body of POST /v2/query.
type QueryRequest struct {
	AppID      int    `json:"app_id"`
	AppTransID string `json:"app_trans_id"`
	Mac        string `json:"mac"`
}

// SignQuery fills AppID and sets Mac = HMAC(key1, app_id|app_trans_id|key1)
// with the current key1, which thus appears inside its own input.
func (c *Client) SignQuery(q *QueryRequest) error {
	if q.AppTransID == "" {
		return fmt.Errorf("%w: a query needs AppTransID", ErrRequest)
	}
	q.AppID = c.appID
	mac, err := c.mac1(join(c.app, q.AppTransID, string(c.k1.Current.Bytes())))
	q.Mac = mac
	return err
}

// RefundRequest is the body of POST /v2/refund.
type RefundRequest struct {
	AppID     int    `json:"app_id"`
	MRefundID string `json:"m_refund_id"` // yymmdd_appid_xxx
	ZPTransID string `json:"zp_trans_id"`
	Amount    int64  `json:"amount"`
	// RefundFeeAmount is the fee the merchant bears for the refund, when
	// the refund charges one. nil sends no refund_fee_amount; set (even to
	// 0) it is sent and signed.
	RefundFeeAmount *int64 `json:"refund_fee_amount,omitempty"`
	Timestamp       int64  `json:"timestamp"` // Unix ms; set by SignRefund when zero
	Description     string `json:"description"`
	Mac             string `json:"mac"`
}

// RefundMACInput is the string a refund signs:
// app_id|zp_trans_id|amount|description|timestamp, or with a
// RefundFeeAmount app_id|zp_trans_id|amount|refund_fee_amount|description|timestamp.
func RefundMACInput(r *RefundRequest) string {
	if r.RefundFeeAmount != nil {
		return join(strconv.Itoa(r.AppID), r.ZPTransID, itoa(r.Amount), itoa(*r.RefundFeeAmount), r.Description, itoa(r.Timestamp))
	}
	return join(strconv.Itoa(r.AppID), r.ZPTransID, itoa(r.Amount), r.Description, itoa(r.Timestamp))
}

// SignRefund fills AppID and Timestamp (when zero) and sets Mac with the
// current key1.
func (c *Client) SignRefund(r *RefundRequest) error {
	if r.Amount <= 0 || r.ZPTransID == "" || r.MRefundID == "" {
		return fmt.Errorf("%w: a refund needs a positive Amount, ZPTransID and MRefundID", ErrRequest)
	}
	if f := r.RefundFeeAmount; f != nil && (*f < 0 || *f > r.Amount) {
		return fmt.Errorf("%w: RefundFeeAmount %d must be between 0 and Amount %d", ErrRequest, *f, r.Amount)
	}
	r.AppID = c.appID
	if r.Timestamp == 0 {
		r.Timestamp = c.now().UnixMilli()
	}
	mac, err := c.mac1(RefundMACInput(r))
	r.Mac = mac
	return err
}

// QueryRefundRequest is the body of POST /v2/query_refund.
type QueryRefundRequest struct {
	AppID     int    `json:"app_id"`
	MRefundID string `json:"m_refund_id"`
	Timestamp int64  `json:"timestamp"`
	Mac       string `json:"mac"`
}

// QueryRefundMACInput is the string a refund query signs:
// app_id|m_refund_id|timestamp.
func QueryRefundMACInput(r *QueryRefundRequest) string {
	return join(strconv.Itoa(r.AppID), r.MRefundID, itoa(r.Timestamp))
}

// SignQueryRefund fills AppID and Timestamp (when zero) and sets Mac with
// the current key1.
func (c *Client) SignQueryRefund(r *QueryRefundRequest) error {
	if r.MRefundID == "" {
		return fmt.Errorf("%w: a refund query needs MRefundID", ErrRequest)
	}
	r.AppID = c.appID
	if r.Timestamp == 0 {
		r.Timestamp = c.now().UnixMilli()
	}
	mac, err := c.mac1(QueryRefundMACInput(r))
	r.Mac = mac
	return err
}
