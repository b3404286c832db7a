package redisreplay_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/webhook/redisreplay"
)

const (
	secret = "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3LXNlY3JldC1uZXct"
	body   = `{"type":"transfer.received","data":{"amount":599000}}`
)

var set = payment.SecretSet{Current: fingerprint.NewSecret([]byte(secret))}

type recorder struct {
	mu       sync.Mutex
	rejected []string
}

func (r *recorder) Verified(string, payment.Slot)          {}
func (r *recorder) SignatureFailed(string, payment.Reason) {}
func (r *recorder) IPNRejected(p string, why payment.Reason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = append(r.rejected, p+"/"+string(why))
}

func (r *recorder) list() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.rejected, ",")
}

func signed(t *testing.T, id string) http.Header {
	t.Helper()
	s, err := webhook.NewSigner(set)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(id, time.Now(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	h.Set(webhook.HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	return h
}

func post(h http.Handler, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
	req.Header = hdr.Clone()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestFirstSeenThenReplay(t *testing.T) {
	r := testsvc.NewRedis(t)
	store := redisreplay.New(r.Client, r.Prefix)
	v, err := webhook.NewVerifier(set, webhook.WithReplayStore(store))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := signed(t, "msg_first")
	if _, err := v.Verify(ctx, h, []byte(body)); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	// TTL set, at least the tolerance window, at most the replay TTL.
	ttl := r.Client.TTL(ctx, store.Key("msg_first")).Val()
	if ttl < webhook.DefaultTolerance || ttl > v.ReplayTTL() {
		t.Fatalf("TTL %v, want between %v and %v", ttl, webhook.DefaultTolerance, v.ReplayTTL())
	}
	_, err = v.Verify(ctx, h, []byte(body))
	var re *webhook.ReplayError
	if !errors.Is(err, payment.ErrReplay) || !errors.As(err, &re) || re.Done {
		t.Fatalf("replay while in progress: %v", err)
	}
	if err := v.Complete(ctx, "msg_first"); err != nil {
		t.Fatal(err)
	}
	if ttl := r.Client.TTL(ctx, store.Key("msg_first")).Val(); ttl < webhook.DefaultTolerance {
		t.Fatalf("TTL after Complete %v", ttl)
	}
	_, err = v.Verify(ctx, h, []byte(body))
	if !errors.As(err, &re) || !re.Done {
		t.Fatalf("replay after completion: %v", err)
	}
	// A bad signature never claims the id (an attacker cannot burn ids).
	bad := signed(t, "msg_unclaimed")
	bad.Set(webhook.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"=")
	if _, err := v.Verify(ctx, bad, []byte(body)); !errors.Is(err, payment.ErrSignatureMismatch) {
		t.Fatal(err)
	}
	if n := r.Client.Exists(ctx, store.Key("msg_unclaimed")).Val(); n != 0 {
		t.Fatal("a forged message claimed its id")
	}
}

func TestHandlerReplayAndRetry(t *testing.T) {
	r := testsvc.NewRedis(t)
	store := redisreplay.New(r.Client, r.Prefix)
	rec := &recorder{}
	v, err := webhook.NewVerifier(set, webhook.WithReplayStore(store), webhook.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var fail atomic.Bool
	h := v.Handler(func(context.Context, webhook.Message) error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("ledger unavailable")
		}
		return nil
	})
	// Processing fails: 500 and the id is released, so the retry goes through.
	fail.Store(true)
	hdr := signed(t, "msg_retry")
	if w := post(h, hdr); w.Code != 500 {
		t.Fatalf("failed callback: %d", w.Code)
	}
	fail.Store(false)
	if w := post(h, hdr); w.Code != 200 {
		t.Fatalf("retry after failure: %d %s", w.Code, w.Body)
	}
	// A replay of a processed message: 200, callback not called again.
	if w := post(h, hdr); w.Code != 200 || !strings.Contains(w.Body.String(), "duplicate") {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	if calls.Load() != 2 {
		t.Fatalf("callback called %d times, want 2", calls.Load())
	}
	// A delivery in progress elsewhere: 409 so the sender retries later.
	if _, err := store.Claim(context.Background(), "msg_busy", time.Minute); err != nil {
		t.Fatal(err)
	}
	if w := post(h, signed(t, "msg_busy")); w.Code != 409 {
		t.Fatalf("in progress: %d", w.Code)
	}
	if got := rec.list(); got != "bank_webhook/callback_error,bank_webhook/replay,bank_webhook/replay" {
		t.Fatalf("observer: %s", got)
	}
}

func TestConcurrentDeliveriesProcessOnce(t *testing.T) {
	r := testsvc.NewRedis(t)
	v, err := webhook.NewVerifier(set, webhook.WithReplayStore(redisreplay.New(r.Client, r.Prefix)))
	if err != nil {
		t.Fatal(err)
	}
	hdr := signed(t, "msg_race")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), hdr, []byte(body)); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, payment.ErrReplay) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d deliveries accepted, want 1", ok.Load())
	}
}

func TestRedisDown(t *testing.T) {
	// A real client on a port where nothing listens.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	store := redisreplay.New(down, "rt:down:")

	t.Run("fail closed", func(t *testing.T) {
		rec := &recorder{}
		var logs bytes.Buffer
		v, _ := webhook.NewVerifier(set, webhook.WithReplayStore(store), webhook.WithObserver(rec),
			webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if _, err := v.Verify(context.Background(), signed(t, "msg_down"), []byte(body)); !errors.Is(err, webhook.ErrReplayStore) {
			t.Fatalf("Verify: %v", err)
		}
		called := false
		w := post(v.Handler(func(context.Context, webhook.Message) error { called = true; return nil }), signed(t, "msg_down"))
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || called {
			t.Fatalf("handler: %d %v called=%v", w.Code, w.Header(), called)
		}
		if rec.list() != "bank_webhook/replay_store_unavailable" {
			t.Fatalf("observer: %s", rec.list())
		}
		if !strings.Contains(logs.String(), "replay store failed") || !strings.Contains(logs.String(), "127.0.0.1:1") {
			t.Fatalf("not logged: %s", logs.String())
		}
		if strings.Contains(logs.String()+w.Body.String(), secret) {
			t.Fatal("secret leaked")
		}
	})
	t.Run("fail open", func(t *testing.T) {
		rec := &recorder{}
		var logs bytes.Buffer
		v, _ := webhook.NewVerifier(set, webhook.WithReplayStore(store), webhook.WithReplayFailOpen(), webhook.WithObserver(rec),
			webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		called := false
		w := post(v.Handler(func(context.Context, webhook.Message) error { called = true; return nil }), signed(t, "msg_down"))
		if w.Code != 200 || !called {
			t.Fatalf("handler: %d called=%v", w.Code, called)
		}
		if rec.list() != "" {
			t.Fatalf("an accepted message was counted as rejected: %s", rec.list())
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "fail open") {
			t.Fatalf("fail-open not reported: %s", logs.String())
		}
	})
}

// Casso and PayOS deliveries carry no id: the handlers key the replay store
// on the signed content, so a replayed (even reformatted) delivery is not
// processed twice, and a failed one can be retried.
func TestNotifierReplays(t *testing.T) {
	r := testsvc.NewRedis(t)
	store := redisreplay.New(r.Client, r.Prefix)
	cassoKey := []byte("casso-key-0123456789abcdef0123456789abcdef")
	payosKey := []byte("payos-key-0123456789abcdef0123456789abcdef")
	c, _ := webhook.NewCasso(payment.SecretSet{Current: fingerprint.NewSecret(cassoKey)}, webhook.WithReplayStore(store))
	p, _ := webhook.NewPayOS(payment.SecretSet{Current: fingerprint.NewSecret(payosKey)}, webhook.WithReplayStore(store))
	var calls atomic.Int32
	var fail atomic.Bool
	cb := func() error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("ledger unavailable")
		}
		return nil
	}
	ch := c.Handler(func(context.Context, webhook.CassoEvent) error { return cb() })
	ph := p.Handler(func(context.Context, webhook.PayOSEvent) error { return cb() })

	cassoBody := `{"error":0,"data":{"id":7,"amount":599000,"description":"don 42"}}`
	sig, _ := webhook.CassoSignature(cassoKey, time.Now(), []byte(cassoBody))
	data := `{"orderCode":42,"amount":599000,"description":"don 42"}`
	psig, _ := webhook.PayOSSignature(payosKey, []byte(data))
	payosBody := `{"code":"00","desc":"success","success":true,"data":` + data + `,"signature":"` + psig + `"}`

	send := func(h http.Handler, body string, hdr map[string]string) int {
		req := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for name, tc := range map[string]struct {
		h     http.Handler
		body  string
		again string // the same content, reformatted
		hdr   map[string]string
	}{
		"casso": {ch, cassoBody, strings.ReplaceAll(cassoBody, ",", " , "), map[string]string{webhook.HeaderCassoSignature: sig}},
		"payos": {ph, payosBody, strings.Replace(payosBody, `"success":true`, `"success":false`, 1), nil},
	} {
		calls.Store(0)
		fail.Store(true)
		if code := send(tc.h, tc.body, tc.hdr); code != 500 {
			t.Fatalf("%s: failed callback answered %d", name, code)
		}
		fail.Store(false)
		if code := send(tc.h, tc.body, tc.hdr); code != 200 {
			t.Fatalf("%s: retry answered %d", name, code)
		}
		if code := send(tc.h, tc.again, tc.hdr); code != 200 || calls.Load() != 2 {
			t.Fatalf("%s: replay answered %d, callback called %d times (want 2)", name, code, calls.Load())
		}
	}
	if keys := r.Client.Keys(context.Background(), r.Prefix+"*").Val(); len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
}
