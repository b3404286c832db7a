package payment_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/idempg"
	"github.com/goodgo/rotation/payment/idemredis"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
)

// provider is one IPN/webhook handler under test: build its handler on a
// store with a callback, and make the request the provider sends for
// transaction n.
type provider struct {
	name    string
	handler func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler
	request func(t *testing.T, n int) *http.Request
	// The provider's answers: processed, already processed, retry.
	ok, dup, retry, busy answer
}

// answer is an HTTP status and a substring of the body.
type answer struct {
	code int
	body string
}

func (a answer) check(t *testing.T, what string, rr *httptest.ResponseRecorder) {
	t.Helper()
	if rr.Code != a.code || !strings.Contains(rr.Body.String(), a.body) {
		t.Fatalf("%s: answered %d %q, want %d containing %q", what, rr.Code, rr.Body.String(), a.code, a.body)
	}
}

func secret(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

const (
	vnpSecret   = "DEMOSECRETKEY0123456789ABCDEFGHI"
	momoSecret  = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
	zaloKey2    = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cassoSecret = "casso-key-0123456789abcdef0123456789abcdef"
	payosSecret = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
)

func providers() []provider {
	vnpCfg := func(store payment.IdempotencyStore) vnpay.Config {
		return vnpay.Config{TmnCode: "DEMOV210", HashSecret: payment.SecretSet{Current: secret(vnpSecret)}, Idempotency: store}
	}
	momoCfg := func(store payment.IdempotencyStore) momo.Config {
		return momo.Config{PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: secret("F8BBA842ECF85")},
			SecretKey: payment.SecretSet{Current: secret(momoSecret)}, Idempotency: store}
	}
	zaloCfg := func(store payment.IdempotencyStore) zalopay.Config {
		return zalopay.Config{AppID: 2553, Key1: payment.SecretSet{Current: secret("PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL")},
			Key2: payment.SecretSet{Current: secret(zaloKey2)}, Idempotency: store}
	}
	post := func(url string, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	hooks := answer{200, `{"success":true}`}
	return []provider{{
		name: "vnpay",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			c := must(vnpay.New(vnpCfg(store)))
			return c.IPNHandler(func(ctx context.Context, n *vnpay.Notification) vnpay.IPNResponse {
				if cb(ctx) != nil {
					return vnpay.UnknownError
				}
				return vnpay.ConfirmSuccess
			})
		},
		request: func(t *testing.T, n int) *http.Request {
			c := must(vnpay.New(vnpay.Config{TmnCode: "DEMOV210", HashSecret: payment.SecretSet{Current: secret(vnpSecret)}, NoIdempotency: true}))
			q := must(c.SignParams(map[string]string{"vnp_Amount": "1806000", "vnp_ResponseCode": "00", "vnp_TmnCode": "DEMOV210",
				"vnp_TransactionNo": fmt.Sprint(14422574 + n), "vnp_TransactionStatus": "00", "vnp_TxnRef": fmt.Sprint("order-", n)}))
			return httptest.NewRequest(http.MethodGet, "/ipn?"+q, nil)
		},
		ok: answer{200, `"RspCode":"00"`}, dup: answer{200, `"RspCode":"02"`}, retry: answer{200, `"RspCode":"99"`}, busy: answer{200, `"RspCode":"99"`},
	}, {
		name: "momo",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			c := must(momo.New(momoCfg(store)))
			return c.IPNHandler(func(ctx context.Context, n *momo.Notification) error { return cb(ctx) })
		},
		request: func(t *testing.T, n int) *http.Request {
			cfg := momoCfg(nil)
			cfg.NoIdempotency = true
			c := must(momo.New(cfg))
			body := must(c.SignIPN(&momo.Notification{PartnerCode: "MOMO", OrderID: fmt.Sprint("ORD-", n), RequestID: "R", Amount: 150000,
				OrderType: "momo_wallet", TransID: 4088878653 + int64(n), Message: "Successful.", PayType: "qr", ResponseTime: 1721720663942}))
			return post("/ipn", body)
		},
		ok: answer{204, ""}, dup: answer{204, ""}, retry: answer{500, "retry"}, busy: answer{503, "being processed"},
	}, {
		name: "zalopay",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			c := must(zalopay.New(zaloCfg(store)))
			return c.CallbackHandler(func(ctx context.Context, _ *zalopay.Callback) error { return cb(ctx) })
		},
		request: func(t *testing.T, n int) *http.Request {
			cfg := zaloCfg(nil)
			cfg.NoIdempotency = true
			c := must(zalopay.New(cfg))
			data := fmt.Sprintf(`{"app_id":2553,"app_trans_id":"240101_%d","app_time":1704067200000,"app_user":"u","amount":50000,"embed_data":"{}","item":"[]","zp_trans_id":%d,"server_time":1704067250000,"channel":38,"merchant_user_id":"","user_fee_amount":0,"discount_amount":0}`, n, 240101000000175+n)
			return post("/callback", must(c.SignCallback(data, zalopay.TypeOrder)))
		},
		ok: answer{200, `"return_code":1`}, dup: answer{200, `"return_code":2`}, retry: answer{200, `"return_code":0`}, busy: answer{200, `"return_code":0`},
	}, {
		name: "standardwebhooks",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			v := must(webhook.NewVerifier(payment.SecretSet{Current: secret(swSecret)}, webhook.WithIdempotencyStore(store)))
			return v.Handler(func(ctx context.Context, _ webhook.Message) error { return cb(ctx) })
		},
		request: func(t *testing.T, n int) *http.Request {
			s := must(webhook.NewSigner(payment.SecretSet{Current: secret(swSecret)}))
			body := []byte(`{"amount":599000}`)
			r := post("/hook", body)
			if err := s.SignRequest(r, fmt.Sprint("msg_", n), body); err != nil {
				t.Fatal(err)
			}
			return r
		},
		ok: hooks, dup: answer{200, `"duplicate":true`}, retry: answer{500, "retry later"}, busy: answer{409, "being processed"},
	}, {
		name: "casso",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			c := must(webhook.NewCasso(payment.SecretSet{Current: secret(cassoSecret)}, webhook.WithIdempotencyStore(store)))
			return c.Handler(func(ctx context.Context, _ webhook.CassoEvent) error { return cb(ctx) })
		},
		request: func(t *testing.T, n int) *http.Request {
			body := []byte(fmt.Sprintf(`{"error":0,"data":{"id":%d,"accountNumber":"88888888","amount":599000,"description":"don %d"}}`, 100+n, n))
			r := post("/casso", body)
			r.Header.Set(webhook.HeaderCassoSignature, must(webhook.CassoSignature([]byte(cassoSecret), time.Now(), body)))
			return r
		},
		ok: hooks, dup: answer{200, `"duplicate":true`}, retry: answer{500, "retry later"}, busy: answer{409, "being processed"},
	}, {
		name: "payos",
		handler: func(t *testing.T, store payment.IdempotencyStore, cb func(context.Context) error) http.Handler {
			p := must(webhook.NewPayOS(payment.SecretSet{Current: secret(payosSecret)}, webhook.WithIdempotencyStore(store)))
			return p.Handler(func(ctx context.Context, _ webhook.PayOSEvent) error { return cb(ctx) })
		},
		request: func(t *testing.T, n int) *http.Request {
			data := fmt.Sprintf(`{"orderCode":%d,"amount":3000,"description":"VQRIO%d","reference":"TF%d","code":"00","desc":"Thành công"}`, n, n, n)
			sig := must(webhook.PayOSSignature([]byte(payosSecret), []byte(data)))
			return post("/payos", []byte(`{"code":"00","desc":"success","success":true,"data":`+data+`,"signature":"`+sig+`"}`))
		},
		ok: hooks, dup: answer{200, `"duplicate":true`}, retry: answer{500, "retry later"}, busy: answer{409, "being processed"},
	}}
}

// must is for test setup that cannot fail with correct code.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// backends are the real stores.
func backends(t *testing.T) map[string]func(t *testing.T) payment.IdempotencyStore {
	return map[string]func(t *testing.T) payment.IdempotencyStore{
		"redis": func(t *testing.T) payment.IdempotencyStore {
			r := testsvc.NewRedis(t)
			return idemredis.New(r.Client, r.Prefix)
		},
		"postgres": func(t *testing.T) payment.IdempotencyStore {
			db := testsvc.Postgres(t)
			if err := idempg.Migrate(context.Background(), db.Pool); err != nil {
				t.Fatal(err)
			}
			return idempg.New(db.Pool)
		},
	}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	return rr
}

// Every handler, on each real store: a repeat of a processed notification
// gets the provider's "already processed" answer without the callback; a
// failed callback releases the claim so the retry reaches the application
// again; of concurrent duplicates exactly one reaches the callback.
func TestHandlersDeduplicate(t *testing.T) {
	for bname, newStore := range backends(t) {
		for _, p := range providers() {
			t.Run(bname+"/"+p.name, func(t *testing.T) {
				store := newStore(t)
				var calls atomic.Int32
				var fail atomic.Bool
				h := p.handler(t, store, func(context.Context) error {
					calls.Add(1)
					if fail.Load() {
						return errors.New("ledger down")
					}
					return nil
				})

				p.ok.check(t, "first delivery", serve(h, p.request(t, 1)))
				p.dup.check(t, "repeat", serve(h, p.request(t, 1)))
				if n := calls.Load(); n != 1 {
					t.Fatalf("callback ran %d times for one transaction", n)
				}

				fail.Store(true)
				p.retry.check(t, "failed callback", serve(h, p.request(t, 2)))
				fail.Store(false)
				p.ok.check(t, "retry after a failure", serve(h, p.request(t, 2)))
				p.dup.check(t, "repeat after the retry", serve(h, p.request(t, 2)))
				if n := calls.Load(); n != 3 {
					t.Fatalf("callback ran %d times, want 3 (1, then 2 failed and retried)", n)
				}
			})
		}
	}
}

func TestConcurrentDuplicatesReachTheCallbackOnce(t *testing.T) {
	for bname, newStore := range backends(t) {
		for _, p := range providers() {
			t.Run(bname+"/"+p.name, func(t *testing.T) {
				store := newStore(t)
				const n = 8
				var calls atomic.Int32
				release := make(chan struct{})
				h := p.handler(t, store, func(ctx context.Context) error {
					calls.Add(1)
					select {
					case <-release:
					case <-time.After(10 * time.Second):
					}
					return nil
				})
				reqs := make([]*http.Request, n)
				for i := range reqs {
					reqs[i] = p.request(t, 7)
				}
				answers := make(chan *httptest.ResponseRecorder, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() { defer wg.Done(); answers <- serve(h, reqs[i]) }()
				}
				for range n - 1 { // the losers answer while the winner's callback runs
					select {
					case rr := <-answers:
						p.busy.check(t, "concurrent duplicate", rr)
					case <-time.After(10 * time.Second):
						t.Fatal("a concurrent duplicate was not answered: more than one delivery reached the callback")
					}
				}
				close(release)
				wg.Wait()
				p.ok.check(t, "the delivery that won", <-answers)
				if c := calls.Load(); c != 1 {
					t.Fatalf("callback ran %d times for %d concurrent duplicates", c, n)
				}
			})
		}
	}
}

// A store outage is answered "retry later" in the provider's terms and
// never reaches the callback (fail closed).
func TestStoreOutageFailsClosed(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	store := idemredis.New(rdb, "x:")
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			var calls atomic.Int32
			h := p.handler(t, store, func(context.Context) error { calls.Add(1); return nil })
			rr := serve(h, p.request(t, 1))
			want := p.busy
			if p.name == "standardwebhooks" || p.name == "casso" || p.name == "payos" || p.name == "momo" {
				want = answer{503, ""}
			}
			want.check(t, "store down", rr)
			if calls.Load() != 0 {
				t.Fatal("the callback ran without duplicate protection")
			}
		})
	}
}

// The constructors refuse to build a handler-bearing client without a
// store unless the application opts out.
func TestConstructorsRequireAStoreOrAnOptOut(t *testing.T) {
	set := payment.SecretSet{Current: secret(momoSecret)}
	errs := map[string]error{}
	_, errs["vnpay"] = vnpay.New(vnpay.Config{TmnCode: "T", HashSecret: set})
	_, errs["momo"] = momo.New(momo.Config{PartnerCode: "P", AccessKey: payment.SecretSet{Current: secret("F8BBA842ECF85")}, SecretKey: set})
	_, errs["zalopay"] = zalopay.New(zalopay.Config{AppID: 1, Key1: payment.SecretSet{Current: secret(zaloKey2)}, Key2: set})
	_, errs["standardwebhooks"] = webhook.NewVerifier(payment.SecretSet{Current: secret(swSecret)})
	_, errs["casso"] = webhook.NewCasso(set)
	_, errs["payos"] = webhook.NewPayOS(set)
	for name, err := range errs {
		if !errors.Is(err, payment.ErrNoIdempotencyStore) {
			t.Errorf("%s without a store: %v, want ErrNoIdempotencyStore", name, err)
		}
	}
	if _, err := webhook.NewVerifier(payment.SecretSet{Current: secret(swSecret)}, webhook.WithoutIdempotency()); err != nil {
		t.Errorf("explicit opt-out refused: %v", err)
	}
	if _, err := vnpay.New(vnpay.Config{TmnCode: "T", HashSecret: set, NoIdempotency: true}); err != nil {
		t.Errorf("explicit opt-out refused: %v", err)
	}
}
