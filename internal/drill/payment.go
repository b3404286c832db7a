package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
	"github.com/goodgo/rotation/secretenv"
)

// vietnam is the providers' time zone (GMT+7): VNPay's dates and ZaloPay's
// yymmdd id prefixes are of the day there.
var vietnam = time.FixedZone("ICT", 7*3600)

// clock is the drill's adjustable clock for payment deadlines: the drill's
// own clock (Options.Now) plus what the drill advanced it by.
type clock struct {
	base   func() time.Time
	offset atomic.Int64
}

func (c *clock) now() time.Time          { return c.base().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// slotCounter is a payment.Observer that counts verifications by slot.
type slotCounter struct {
	payment.NopObserver
	mu       sync.Mutex
	verified map[secretenv.Slot]int
	failed   map[payment.Reason]int
}

func newSlotCounter() *slotCounter {
	return &slotCounter{verified: map[secretenv.Slot]int{}, failed: map[payment.Reason]int{}}
}

func (s *slotCounter) Verified(_ string, slot secretenv.Slot) {
	s.mu.Lock()
	s.verified[slot]++
	s.mu.Unlock()
}

func (s *slotCounter) SignatureFailed(_ string, r payment.Reason) {
	s.mu.Lock()
	s.failed[r]++
	s.mu.Unlock()
}

// provider is one payment provider as the drill plays it: our receiving
// endpoint built on a secret set, and the provider's side that signs a
// callback with a given secret.
type provider struct {
	name   string
	window time.Duration
	// receiver builds our callback endpoint for the set of the secret that
	// rotates (the other secrets of the provider stay fixed).
	receiver func(set payment.SecretSet, obs payment.Observer, now func() time.Time) (http.Handler, error)
	// send builds the provider's callback number n, signed with secret, as
	// the provider sends it at now (its dates and ids are of that day).
	send func(secret string, n int, now time.Time) (*http.Request, error)
	// accepted reads our answer.
	accepted func(*http.Response) bool
}

// providerSecrets returns n stand-ins for provider-issued secrets: 32
// characters each from crypto/rand.
func providerSecrets(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = keygen.New(keygen.DB); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func secret(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

func vnpayProvider() provider {
	const tmn = "DRILL001"
	return provider{
		name: "vnpay", window: payment.VNPayRetryWindow,
		receiver: func(set payment.SecretSet, obs payment.Observer, now func() time.Time) (http.Handler, error) {
			c, err := vnpay.New(vnpay.Config{NoIdempotency: true, TmnCode: tmn, HashSecret: set, Observer: obs, Now: now})
			if err != nil {
				return nil, err
			}
			return c.IPNHandler(func(context.Context, *vnpay.Notification) vnpay.IPNResponse { return vnpay.ConfirmSuccess }), nil
		},
		send: func(s string, n int, now time.Time) (*http.Request, error) {
			c, err := vnpay.New(vnpay.Config{NoIdempotency: true, TmnCode: tmn, HashSecret: payment.SecretSet{Current: secret(s)}})
			if err != nil {
				return nil, err
			}
			q, err := c.SignParams(map[string]string{
				"vnp_Amount": "10000000", "vnp_BankCode": "NCB", "vnp_CardType": "ATM", "vnp_OrderInfo": "Thanh toan don hang " + strconv.Itoa(n),
				"vnp_PayDate": now.In(vietnam).Format("20060102150405"), "vnp_ResponseCode": "00", "vnp_TmnCode": tmn, "vnp_TransactionNo": strconv.Itoa(14000000 + n),
				"vnp_TransactionStatus": "00", "vnp_TxnRef": "ORD" + strconv.Itoa(n),
			})
			if err != nil {
				return nil, err
			}
			return httptest.NewRequest(http.MethodGet, "/ipn/vnpay?"+q, nil), nil
		},
		accepted: func(r *http.Response) bool {
			var v vnpay.IPNResponse
			return r.StatusCode == http.StatusOK && json.NewDecoder(r.Body).Decode(&v) == nil && v.RspCode == vnpay.ConfirmSuccess.RspCode
		},
	}
}

// momoProvider plays MoMo; accessKey stays fixed in this drill, the secret
// key rotates.
func momoProvider(accessKey string) provider {
	const partner = "DRILLMOMO"
	return provider{
		name: "momo", window: payment.MoMoRetryWindow,
		receiver: func(set payment.SecretSet, obs payment.Observer, now func() time.Time) (http.Handler, error) {
			c, err := momo.New(momo.Config{NoIdempotency: true, PartnerCode: partner, AccessKey: payment.SecretSet{Current: secret(accessKey)}, SecretKey: set, Observer: obs, Now: now})
			if err != nil {
				return nil, err
			}
			return c.IPNHandler(func(context.Context, *momo.Notification) error { return nil }), nil
		},
		send: func(s string, n int, now time.Time) (*http.Request, error) {
			c, err := momo.New(momo.Config{NoIdempotency: true, PartnerCode: partner, AccessKey: payment.SecretSet{Current: secret(accessKey)}, SecretKey: payment.SecretSet{Current: secret(s)}})
			if err != nil {
				return nil, err
			}
			body, err := c.SignIPN(&momo.Notification{PartnerCode: partner, OrderID: "ORD" + strconv.Itoa(n), RequestID: "REQ" + strconv.Itoa(n),
				Amount: 50000, OrderInfo: "Thanh toán qua MoMo", OrderType: "momo_wallet", TransID: 4088878653 + int64(n), ResultCode: 0,
				Message: "Thành công.", PayType: "qr", ResponseTime: now.UnixMilli()})
			if err != nil {
				return nil, err
			}
			req := httptest.NewRequest(http.MethodPost, "/ipn/momo", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		},
		accepted: func(r *http.Response) bool { return r.StatusCode == http.StatusNoContent },
	}
}

// zalopayProvider plays ZaloPay; key1 stays fixed, key2 (callbacks) rotates.
func zalopayProvider(key1 string) provider {
	const app = 2553
	return provider{
		name: "zalopay", window: payment.ZaloPayRetryWindow,
		receiver: func(set payment.SecretSet, obs payment.Observer, now func() time.Time) (http.Handler, error) {
			c, err := zalopay.New(zalopay.Config{NoIdempotency: true, AppID: app, Key1: payment.SecretSet{Current: secret(key1)}, Key2: set, Observer: obs, Now: now})
			if err != nil {
				return nil, err
			}
			return c.CallbackHandler(func(context.Context, *zalopay.Callback) error { return nil }), nil
		},
		send: func(s string, n int, now time.Time) (*http.Request, error) {
			c, err := zalopay.New(zalopay.Config{NoIdempotency: true, AppID: app, Key1: payment.SecretSet{Current: secret(key1)}, Key2: payment.SecretSet{Current: secret(s)}})
			if err != nil {
				return nil, err
			}
			// app_trans_id and zp_trans_id start with yymmdd of the day in Vietnam, as ZaloPay requires.
			day := now.In(vietnam).Format("060102")
			zpTrans, _ := strconv.ParseInt(day+fmt.Sprintf("%09d", n), 10, 64)
			data, _ := json.Marshal(zalopay.OrderData{AppID: app, AppTransID: day + "_" + strconv.Itoa(n), AppTime: now.Add(-time.Minute).UnixMilli(),
				AppUser: "user" + strconv.Itoa(n), Amount: 50000, EmbedData: "{}", Item: "[]", ZPTransID: zpTrans, ServerTime: now.UnixMilli(), Channel: 38})
			body, err := c.SignCallback(string(data), zalopay.TypeOrder)
			if err != nil {
				return nil, err
			}
			req := httptest.NewRequest(http.MethodPost, "/ipn/zalopay", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		},
		accepted: func(r *http.Response) bool {
			var v struct {
				ReturnCode int `json:"return_code"`
			}
			return r.StatusCode == http.StatusOK && json.NewDecoder(r.Body).Decode(&v) == nil && v.ReturnCode == 1
		},
	}
}

// deliver sends provider callback n signed with s to h and reports whether
// we accepted it.
func (pv provider) deliver(h http.Handler, s string, n int, now time.Time) (bool, error) {
	req, err := pv.send(s, n, now)
	if err != nil {
		return false, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	defer resp.Body.Close()
	ok := pv.accepted(resp)
	_, _ = io.Copy(io.Discard, resp.Body)
	return ok, nil
}

// paymentRotation rotates each provider's secret while the provider retries
// callbacks signed with the old secret: they must all be accepted within the
// retry window, refused after it and in incident mode.
func paymentRotation(_ context.Context, o *Options, p *Phase) error {
	const inFlight, fresh = 20, 20
	sec, err := providerSecrets(12)
	if err != nil {
		return err
	}
	var problems []string
	for i, pv := range []provider{vnpayProvider(), momoProvider(sec[0][:16]), zalopayProvider(sec[1])} {
		clk := &clock{base: o.Now}
		old, nw := sec[2+2*i], sec[3+2*i]
		obs := newSlotCounter()
		p.FP(pv.name+" secret (new)", fingerprint.OfString(nw))
		before, err := pv.receiver(payment.SecretSet{Current: secret(old)}, obs, clk.now)
		if err != nil {
			return fmt.Errorf("%s: %w", pv.name, err)
		}
		for n := 0; n < inFlight; n++ {
			if ok, err := pv.deliver(before, old, n, clk.now()); err != nil || !ok {
				return fmt.Errorf("%s: callback %d refused before the rotation (%v)", pv.name, n, err)
			}
		}
		rotatedAt := clk.now()
		set := payment.SecretSet{Current: secret(nw), Previous: secret(old), PreviousUntil: rotatedAt.Add(pv.window)}
		after, err := pv.receiver(set, obs, clk.now)
		if err != nil {
			return fmt.Errorf("%s: %w", pv.name, err)
		}
		p.Event("%s: secret rotated in the portal and deployed as current; old kept as previous until +%s", pv.name, pv.window)
		failures := 0
		// Retries of callbacks signed before the rotation, interleaved with
		// new callbacks signed with the new secret, over the retry window.
		for n := 0; n < inFlight+fresh; n++ {
			s := nw
			if n < inFlight {
				s = old
				clk.advance(pv.window / 2 / inFlight)
			}
			ok, err := pv.deliver(after, s, n, clk.now())
			if err != nil {
				return err
			}
			if !ok {
				failures++
			}
		}
		p.PaymentFailures += failures
		prevUsed := obs.verified[secretenv.SlotPrevious]
		clk.advance(pv.window) // past the deadline
		lateOK, err := pv.deliver(after, old, 999, clk.now())
		if err != nil {
			return err
		}
		incident, err := pv.receiver(payment.SecretSet{Current: secret(nw), Previous: secret(old), PreviousUntil: clk.now().Add(time.Hour), Incident: true}, obs, clk.now)
		if err != nil {
			return err
		}
		incidentOK, err := pv.deliver(incident, old, 1000, clk.now())
		if err != nil {
			return err
		}
		// The runbook's atomic swap: no previous secret at all.
		swap, err := pv.receiver(payment.SecretSet{Current: secret(nw)}, newSlotCounter(), clk.now)
		if err != nil {
			return err
		}
		swapFailures := 0
		for n := 0; n < inFlight; n++ {
			if ok, _ := pv.deliver(swap, old, n, clk.now()); !ok {
				swapFailures++
			}
		}
		p.Fact("%s: %d retries signed with the old secret and %d new callbacks during the %s window: %d accepted via previous, %d failed; after the deadline old signature accepted=%v; incident mode accepted=%v; runbook atomic swap would have refused %d/%d retries",
			pv.name, inFlight, fresh, pv.window, prevUsed, failures, lateOK, incidentOK, swapFailures, inFlight)
		p.Event("%s: first IPN signed with the new secret verified; old-secret retries verified as previous", pv.name)
		if failures > 0 || lateOK || incidentOK || prevUsed != inFlight {
			problems = append(problems, pv.name)
		}
	}
	// Bank-transfer webhook: our own secret, the sender signs with both.
	old, nw := "whsec_"+sec[8]+sec[9], "whsec_"+sec[10]+sec[11] // whsec_ + 64 base64 characters, as keygen webhook makes
	p.FP("BANK_TRANSFER_WEBHOOK_SECRET (new)", fingerprint.OfString(nw))
	signer, err := webhook.NewSigner(payment.SecretSet{Current: secret(nw), Previous: secret(old), PreviousUntil: o.Now().Add(time.Hour)}, webhook.WithClock(o.Now))
	if err != nil {
		return err
	}
	oldRecv, err := webhook.NewVerifier(payment.SecretSet{Current: secret(old)}, webhook.WithoutIdempotency(), webhook.WithClock(o.Now))
	if err != nil {
		return err
	}
	newRecv, err := webhook.NewVerifier(payment.SecretSet{Current: secret(nw)}, webhook.WithoutIdempotency(), webhook.WithClock(o.Now))
	if err != nil {
		return err
	}
	body := []byte(`{"type":"transfer.received","amount":500000,"description":"CK don hang 42"}`)
	sentAt := o.Now()
	sig, err := signer.Sign("msg_drill_1", sentAt, body)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(sentAt.Unix(), 10)
	_, errOld := oldRecv.VerifyParts("msg_drill_1", ts, sig, body)
	_, errNew := newRecv.VerifyParts("msg_drill_1", ts, sig, body)
	p.Fact("bank webhook: message signed with both secrets during the overlap: receiver on the old secret ok=%v, on the new secret ok=%v", errOld == nil, errNew == nil)
	if errOld != nil || errNew != nil {
		problems = append(problems, "bank webhook")
	}
	if len(problems) > 0 {
		return fmt.Errorf("payment rotation misbehaved for %v", problems)
	}
	p.Learn("Payment secrets rotated with no checkout freeze and no drain: every IPN retry signed with the old secret inside the provider's retry window was accepted (slot previous); after the window and in incident mode it is refused.")
	return nil
}
