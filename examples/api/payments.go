package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/idemredis"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/paymentprom"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
	"github.com/goodgo/rotation/secretenv"
)

// ledger is the example's order book: which payments were confirmed. A real
// service checks the order exists, the amount matches and it is still
// pending, in one transaction.
type ledger struct {
	paid map[string]int64 // provider:order → amount
}

func (a *App) confirm(provider, order string, amount int64) (already bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ledger.paid == nil {
		a.ledger.paid = map[string]int64{}
	}
	key := provider + ":" + order
	_, already = a.ledger.paid[key]
	a.ledger.paid[key] = amount
	return already
}

// Paid returns the amount recorded for an order, for tests.
func (a *App) Paid(provider, order string) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.ledger.paid[provider+":"+order]
	return v, ok
}

// mountPayments adds the IPN and webhook endpoints of every provider whose
// secrets are configured. A provider whose current secret is unset is left
// out; an invalid one stops the service at start.
func (a *App) mountPayments() error {
	obs, err := paymentprom.New(a.registry)
	if err != nil {
		return err
	}
	now := a.cfg.Now
	if now == nil {
		now = time.Now
	}
	skip := func(err error) bool { return secretenv.IsMissing(err) }
	// Provider retries reach each callback once: in Redis when configured
	// (shared by replicas), in this process's memory otherwise.
	var store payment.IdempotencyStore = payment.NewMemoryStore(now)
	if a.rdb != nil {
		prefix := a.cfg.IdemPrefix
		if prefix == "" {
			prefix = "api:idem:"
		}
		store = idemredis.New(a.rdb, prefix)
	}

	if cfg, err := vnpay.LoadConfig(a.src); err == nil {
		cfg.Observer, cfg.Now, cfg.Idempotency = obs, now, store
		c, err := vnpay.New(cfg)
		if err != nil {
			return fmt.Errorf("vnpay: %w", err)
		}
		a.mux.Handle("GET /ipn/vnpay", c.IPNHandler(func(_ context.Context, n *vnpay.Notification) vnpay.IPNResponse {
			if !n.Paid() {
				return vnpay.ConfirmSuccess // recorded as failed by a real service
			}
			if a.confirm("vnpay", n.TxnRef, n.Amount) {
				return vnpay.OrderAlreadyConfirmed
			}
			return vnpay.ConfirmSuccess
		}))
	} else if !skip(err) {
		return fmt.Errorf("vnpay: %w", err)
	}

	if cfg, err := momo.LoadConfig(a.src); err == nil {
		cfg.Observer, cfg.Now, cfg.Idempotency = obs, now, store
		c, err := momo.New(cfg)
		if err != nil {
			return fmt.Errorf("momo: %w", err)
		}
		a.mux.Handle("POST /ipn/momo", c.IPNHandler(func(_ context.Context, n *momo.Notification) error {
			if n.Paid() {
				a.confirm("momo", n.OrderID, n.Amount)
			}
			return nil
		}))
	} else if !skip(err) {
		return fmt.Errorf("momo: %w", err)
	}

	if cfg, err := zalopay.LoadConfig(a.src); err == nil {
		cfg.Observer, cfg.Now, cfg.Idempotency = obs, now, store
		c, err := zalopay.New(cfg)
		if err != nil {
			return fmt.Errorf("zalopay: %w", err)
		}
		a.mux.Handle("POST /ipn/zalopay", c.CallbackHandler(func(_ context.Context, cb *zalopay.Callback) error {
			a.confirm("zalopay", cb.Order.AppTransID, cb.Order.Amount)
			return nil
		}))
	} else if !skip(err) {
		return fmt.Errorf("zalopay: %w", err)
	}

	opts := []webhook.Option{webhook.WithObserver(obs), webhook.WithClock(now), webhook.WithLogger(a.cfg.Log), webhook.WithIdempotencyStore(store)}
	if set, err := webhook.LoadSecrets(a.src); err == nil {
		v, err := webhook.NewVerifier(set, opts...)
		if err != nil {
			return fmt.Errorf("bank webhook: %w", err)
		}
		a.mux.Handle("POST /webhook/bank", v.Handler(func(_ context.Context, m webhook.Message) error {
			a.confirm("bank", m.ID, 0)
			return nil
		}))
	} else if !skip(err) {
		return fmt.Errorf("bank webhook: %w", err)
	}
	if set, err := payment.LoadSecretSet(a.src, webhook.CassoVars, secretenv.ProviderSecretRule); err == nil {
		c, err := webhook.NewCasso(set, opts...)
		if err != nil {
			return fmt.Errorf("casso: %w", err)
		}
		a.mux.Handle("POST /webhook/casso", c.Handler(func(_ context.Context, ev webhook.CassoEvent) error { return nil }))
	} else if !skip(err) {
		return fmt.Errorf("casso: %w", err)
	}
	if set, err := payment.LoadSecretSet(a.src, webhook.PayOSVars, secretenv.ProviderSecretRule); err == nil {
		p, err := webhook.NewPayOS(set, opts...)
		if err != nil {
			return fmt.Errorf("payos: %w", err)
		}
		a.mux.Handle("POST /webhook/payos", p.Handler(func(_ context.Context, ev webhook.PayOSEvent) error { return nil }))
	} else if !skip(err) {
		return fmt.Errorf("payos: %w", err)
	}
	return nil
}
