package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/goodgo/rotation/payment"
)

// Handler answers Standard Webhooks deliveries: POST only (405 with Allow
// otherwise), Content-Type application/json (415), body at most
// WithMaxBody (413), then Verify. A bad signature or timestamp is 401, a
// malformed request 400. A webhook-id whose first delivery was processed is
// answered 200 without calling fn again; one still in progress 409 (the
// sender retries later); a replay store outage 503. Otherwise fn is called
// with the verified message: nil → 200 and the id is marked processed;
// an error → 500 and the id is released so the sender's retry goes
// through. Every refusal is reported to the observer as IPNRejected.
func (v *Verifier) Handler(fn func(ctx context.Context, m Message) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &v.cfg, ProviderBank)
		if !ok {
			return
		}
		ctx := r.Context()
		m, err := v.Verify(ctx, r.Header, body)
		if err != nil {
			if errors.Is(err, payment.ErrReplay) && isReplayDone(err) {
				v.cfg.obs.IPNRejected(ProviderBank, payment.ReasonReplay)
				reply(w, http.StatusOK, `{"success":true,"duplicate":true}`)
				return
			}
			refuse(w, &v.cfg, ProviderBank, err)
			return
		}
		if err := fn(ctx, m); err != nil {
			callbackFailed(w, &v.cfg, ProviderBank, err)
			if rerr := v.Release(context.WithoutCancel(ctx), m.ID); rerr != nil {
				v.cfg.log.ErrorContext(ctx, "webhook: could not release the webhook-id; the sender's retry will be refused until it expires",
					"provider", ProviderBank, "webhook_id", m.ID, "error", rerr)
			}
			return
		}
		if err := v.Complete(context.WithoutCancel(ctx), m.ID); err != nil {
			v.cfg.log.ErrorContext(ctx, "webhook: could not mark the webhook-id processed", "provider", ProviderBank, "webhook_id", m.ID, "error", err)
		}
		reply(w, http.StatusOK, `{"success":true}`)
	})
}

// Handler answers Casso v2 deliveries like Verifier.Handler (405, 415,
// 413, 400, 401), then calls fn: nil → 200 {"success":true}, an error →
// 500 so Casso retries. With WithReplayStore, signed content already
// processed is answered 200 without calling fn (the key is the SHA-256 of
// t and the canonical body, so reformatting the body does not evade it).
func (c *Casso) Handler(fn func(ctx context.Context, ev CassoEvent) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &c.cfg, ProviderCasso)
		if !ok {
			return
		}
		ev, err := c.Verify(r.Header.Get(HeaderCassoSignature), body)
		if err != nil {
			refuse(w, &c.cfg, ProviderCasso, err)
			return
		}
		process(w, r.Context(), &c.cfg, ProviderCasso, ev.replayKey, c.cfg.replayTTL(), func(ctx context.Context) error { return fn(ctx, ev) })
	})
}

// Handler answers PayOS webhooks like Verifier.Handler (405, 415, 413,
// 400, 401), then calls fn: nil → 200 {"success":true} (PayOS's documented
// answer), an error → 500 so PayOS retries. With WithReplayStore, signed
// data already processed in the last PayOSReplayTTL is answered 200
// without calling fn.
func (p *PayOS) Handler(fn func(ctx context.Context, ev PayOSEvent) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &p.cfg, ProviderPayOS)
		if !ok {
			return
		}
		ev, err := p.Verify(body)
		if err != nil {
			refuse(w, &p.cfg, ProviderPayOS, err)
			return
		}
		process(w, r.Context(), &p.cfg, ProviderPayOS, ev.replayKey, PayOSReplayTTL, func(ctx context.Context) error { return fn(ctx, ev) })
	})
}

// process calls fn under a replay claim on key when a ReplayStore is set,
// and answers: 200 after fn succeeds (the key is marked processed), 500
// after it fails (the key is released so the retry goes through), 200
// without calling fn for content already processed, 409 for content being
// processed, 503 when the store fails (fail closed).
func process(w http.ResponseWriter, ctx context.Context, cfg *config, provider, key string, ttl time.Duration, fn func(context.Context) error) {
	store := cfg.replay
	if store != nil {
		state, err := store.Claim(ctx, key, ttl)
		switch {
		case err != nil && cfg.failOpen:
			cfg.log.ErrorContext(ctx, "webhook: replay store failed; accepting the message without replay protection (fail open)",
				"provider", provider, "error", err)
			store = nil
		case err != nil:
			refuse(w, cfg, provider, fmt.Errorf("%w: %w", ErrReplayStore, err))
			return
		case state == ClaimDone:
			cfg.obs.IPNRejected(provider, payment.ReasonReplay)
			reply(w, http.StatusOK, `{"success":true,"duplicate":true}`)
			return
		case state == ClaimInProgress:
			refuse(w, cfg, provider, &ReplayError{ID: key})
			return
		}
	}
	if err := fn(ctx); err != nil {
		callbackFailed(w, cfg, provider, err)
		if store != nil {
			if err := store.Release(context.WithoutCancel(ctx), key); err != nil {
				cfg.log.ErrorContext(ctx, "webhook: could not release a replay claim; the retry will be refused until it expires", "provider", provider, "error", err)
			}
		}
		return
	}
	if store != nil {
		if err := store.Complete(context.WithoutCancel(ctx), key, ttl); err != nil {
			cfg.log.ErrorContext(ctx, "webhook: could not mark a message processed", "provider", provider, "error", err)
		}
	}
	reply(w, http.StatusOK, `{"success":true}`)
}

func reply(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, body+"\n")
}

// jsonMessage renders {"success":false,"error":msg}.
func jsonMessage(msg string) string {
	return `{"success":false,"error":` + string(appendJSString(nil, msg)) + `}`
}

// readBody applies the method, content type and size checks.
func readBody(w http.ResponseWriter, r *http.Request, cfg *config, provider string) ([]byte, bool) {
	if r.Method != http.MethodPost {
		cfg.obs.IPNRejected(provider, payment.ReasonMethod)
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, jsonMessage("method "+r.Method+" not allowed; webhooks are POSTed"))
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		cfg.obs.IPNRejected(provider, payment.ReasonContentType)
		reply(w, http.StatusUnsupportedMediaType, jsonMessage("Content-Type must be application/json"))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			cfg.obs.IPNRejected(provider, payment.ReasonBodyTooLarge)
			reply(w, http.StatusRequestEntityTooLarge, jsonMessage(payment.ErrBodyTooLarge.Error()))
			return nil, false
		}
		cfg.obs.IPNRejected(provider, payment.ReasonMalformed)
		reply(w, http.StatusBadRequest, jsonMessage("could not read the body"))
		return nil, false
	}
	return body, true
}

// refuse answers a verification error.
func refuse(w http.ResponseWriter, cfg *config, provider string, err error) {
	reason := payment.ReasonOf(err)
	code, msg := http.StatusUnauthorized, "signature verification failed"
	switch {
	case errors.Is(err, ErrReplayStore):
		reason, code, msg = ReasonReplayStore, http.StatusServiceUnavailable, "temporarily unable to check for replays; retry later"
		w.Header().Set("Retry-After", "30")
		cfg.log.Error("webhook: replay store failed; refusing the message (fail closed)", "provider", provider, "error", err)
	case errors.Is(err, payment.ErrReplay):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, payment.ErrTimestamp):
		msg = "timestamp outside the tolerance; check the sender's clock"
	case errors.Is(err, payment.ErrMalformed):
		code, msg = http.StatusBadRequest, err.Error()
	}
	if code != http.StatusServiceUnavailable {
		cfg.log.Warn("webhook: refused", "provider", provider, "reason", string(reason), "error", err)
	}
	cfg.obs.IPNRejected(provider, reason)
	reply(w, code, jsonMessage(msg))
}

func callbackFailed(w http.ResponseWriter, cfg *config, provider string, err error) {
	cfg.log.Error("webhook: callback failed; answering 500 so the sender retries", "provider", provider, "error", err)
	cfg.obs.IPNRejected(provider, payment.ReasonCallback)
	reply(w, http.StatusInternalServerError, jsonMessage("processing failed; retry later"))
}
