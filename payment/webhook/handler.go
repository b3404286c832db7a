package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
)

// Handler answers Standard Webhooks deliveries: POST only (405 with Allow
// otherwise), Content-Type application/json (415), body at most
// WithMaxBody (413), then Verify. A bad signature or timestamp is 401, a
// malformed request 400. Then fn runs under an idempotency claim on the
// webhook-id (see WithIdempotencyStore): nil → 200 and the id is marked
// processed; an error → 500 and the id is released so the sender's retry
// reaches fn again. A webhook-id already processed is answered 200
// {"success":true,"duplicate":true} without calling fn; one still being
// processed 409 (the sender retries later); a store outage 503. fn's
// context ends with the claim's lease. Every refusal is reported to the
// observer as IPNRejected.
func (v *Verifier) Handler(fn func(ctx context.Context, m Message) error) http.Handler {
	g := v.cfg.guard(ProviderBank)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &v.cfg, ProviderBank)
		if !ok {
			return
		}
		m, err := v.Verify(r.Context(), r.Header, body)
		if err != nil {
			refuse(w, &v.cfg, ProviderBank, err)
			return
		}
		process(w, r.Context(), &v.cfg, &g, "id:"+m.ID, func(ctx context.Context) error { return fn(ctx, m) })
	})
}

// Handler answers Casso v2 deliveries like Verifier.Handler (405, 415,
// 413, 400, 401), then runs fn under an idempotency claim on the
// transaction (data.id, see CassoEvent): nil → 200 {"success":true}, an
// error → 500 so Casso retries. A transaction already processed is
// answered 200 without calling fn, whatever its t.
func (c *Casso) Handler(fn func(ctx context.Context, ev CassoEvent) error) http.Handler {
	g := c.cfg.guard(ProviderCasso)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &c.cfg, ProviderCasso)
		if !ok {
			return
		}
		ev, err := c.verifyKeyed(r.Header.Get(HeaderCassoSignature), body, true)
		if err != nil {
			refuse(w, &c.cfg, ProviderCasso, err)
			return
		}
		process(w, r.Context(), &c.cfg, &g, ev.idemKey, func(ctx context.Context) error { return fn(ctx, ev) })
	})
}

// Handler answers PayOS webhooks like Verifier.Handler (405, 415, 413,
// 400, 401), then runs fn under an idempotency claim on the payment
// (orderCode, reference): nil → 200 {"success":true} (PayOS's documented
// answer), an error → 500 so PayOS retries. A payment already processed is
// answered 200 without calling fn.
//
// An ambiguous webhook (see Verify) is confirmed through PayOS's API when
// WithPayOSClient is set: confirmed, fn gets it with Unconfirmed false;
// contradicted, it is answered 401 (payment.ReasonAmbiguousMismatch);
// when the API fails, 503 so PayOS retries (ReasonAmbiguousQueryFailed).
// Without a client fn gets it with Unconfirmed true. Each outcome is
// counted by a payment.AmbiguityObserver.
func (p *PayOS) Handler(fn func(ctx context.Context, ev PayOSEvent) error) http.Handler {
	g := p.cfg.guard(ProviderPayOS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, &p.cfg, ProviderPayOS)
		if !ok {
			return
		}
		ev, err := p.verifyKeyed(body, true)
		if errors.Is(err, payment.ErrAmbiguous) {
			ev, err = p.confirm(r.Context(), ev)
		}
		if err != nil {
			refuse(w, &p.cfg, ProviderPayOS, err)
			return
		}
		process(w, r.Context(), &p.cfg, &g, ev.idemKey, func(ctx context.Context) error { return fn(ctx, ev) })
	})
}

// confirm settles an ambiguous PayOS event for the Handler.
func (p *PayOS) confirm(ctx context.Context, ev PayOSEvent) (PayOSEvent, error) {
	if p.cfg.payos == nil {
		payment.ReportAmbiguous(p.cfg.obs, ProviderPayOS, payment.AmbiguousUnconfirmed)
		return ev, nil
	}
	ev, err := p.Confirm(ctx, ev)
	switch {
	case err == nil:
		payment.ReportAmbiguous(p.cfg.obs, ProviderPayOS, payment.AmbiguousConfirmed)
	case errors.Is(err, payment.ErrAmbiguousMismatch):
		payment.ReportAmbiguous(p.cfg.obs, ProviderPayOS, payment.AmbiguousMismatch)
	default:
		payment.ReportAmbiguous(p.cfg.obs, ProviderPayOS, payment.AmbiguousQueryFailed)
		err = fmt.Errorf("%w: %w", errAmbiguousQuery, err)
	}
	return ev, err
}

var errAmbiguousQuery = errors.New("webhook: could not confirm an ambiguous webhook")

// process runs fn under g's claim on key and answers: 200 after fn
// succeeds, 500 after it fails (the claim is released), 200 with
// "duplicate" without calling fn for a key already processed, 409 for a
// key being processed, 503 when the store fails (fail closed).
func process(w http.ResponseWriter, ctx context.Context, cfg *config, g *idem.Guard, key string, fn func(context.Context) error) {
	out, err := g.Run(ctx, idem.Key(g.Provider, key), fn)
	switch out {
	case idem.Duplicate:
		cfg.obs.IPNRejected(g.Provider, payment.ReasonAlreadyProcessed)
		reply(w, http.StatusOK, `{"success":true,"duplicate":true}`)
	case idem.InProgress:
		cfg.obs.IPNRejected(g.Provider, payment.ReasonInProgress)
		w.Header().Set("Retry-After", "10")
		reply(w, http.StatusConflict, jsonMessage("this message is being processed; retry later"))
	case idem.StoreDown:
		refuse(w, cfg, g.Provider, err)
	case idem.Failed:
		callbackFailed(w, cfg, g.Provider, err)
	default:
		reply(w, http.StatusOK, `{"success":true}`)
	}
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
	case errors.Is(err, errAmbiguousQuery):
		reason, code, msg = payment.ReasonAmbiguousQueryFailed, http.StatusServiceUnavailable, "could not confirm the payment with PayOS; retry later"
		w.Header().Set("Retry-After", "30")
	case errors.Is(err, payment.ErrAmbiguousMismatch):
		msg = "PayOS does not confirm this payment"
	case errors.Is(err, payment.ErrStoreUnavailable):
		reason, code, msg = payment.ReasonStoreUnavailable, http.StatusServiceUnavailable, "temporarily unable to check for replays; retry later"
		w.Header().Set("Retry-After", "30")
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
