// Package jwtprom exports jwtkeys events as Prometheus metrics, under the
// runbook's names:
//
//	auth_jwt_verify_failure_total{ring,reason}
//	                                        refused tokens and requests, per ring
//	auth_jwt_verified_total{ring,slot,legacy}
//	                                        verified tokens per ring and the slot of the
//	                                        key that verified them; legacy="true" for
//	                                        tokens without kid (Node-minted)
//	auth_login_total{result}                logins, counted by the application (Login)
//	auth_refresh_total                      refresh tokens exchanged
//	auth_jwt_reload_total{result}           keyring reloads (ok, failed)
//	auth_user_status_cache_errors_total     Redis failures of the status cache
//	auth_jwt_watch_mode{mode}               1 for how the keyring follows changes now:
//	                                        events, polling (file events unavailable),
//	                                        signals, stopped (changes are never picked up)
//
// The rate of auth_jwt_verified_total{slot="previous"} (legacy or not) going
// to zero is how an operator knows the previous key is no longer used:
// sum by (ring) (rate(auth_jwt_verified_total{slot="previous"}[5m])).
//
//	obs := jwtprom.New(prometheus.DefaultRegisterer)
//	keys, err := jwtkeys.OpenEnv(jwtkeys.Options{Observer: obs})
package jwtprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
)

// Observer is a jwtkeys.Observer backed by Prometheus counters.
type Observer struct {
	failures    *prometheus.CounterVec
	verified    *prometheus.CounterVec
	refreshed   prometheus.Counter
	reloads     *prometheus.CounterVec
	cacheErrors prometheus.Counter
	watchMode   *prometheus.GaugeVec
	logins      *prometheus.CounterVec
}

var (
	_ jwtkeys.Observer       = (*Observer)(nil)
	_ jwtkeys.LegacyObserver = (*Observer)(nil)
)

// New creates the counters and registers them with reg (nil: not
// registered). Every label value is pre-created at zero so dashboards see
// the series before the first event.
func New(reg prometheus.Registerer) *Observer {
	o := &Observer{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_jwt_verify_failure_total", Help: "JWTs (and requests) refused, by ring and reason.",
		}, []string{"ring", "reason"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_jwt_verified_total", Help: "JWTs verified, by ring and the slot of the key that verified them; legacy=true: token without kid.",
		}, []string{"ring", "slot", "legacy"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_login_total", Help: "Logins, by result (ok, failed), counted by the application.",
		}, []string{"result"}),
		refreshed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auth_refresh_total", Help: "Refresh tokens exchanged for a new pair.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_jwt_reload_total", Help: "Keyring reloads, by result (ok, failed).",
		}, []string{"result"}),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auth_user_status_cache_errors_total", Help: "Redis errors of the user-status cache (the loader was used instead).",
		}),
		watchMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auth_jwt_watch_mode", Help: "1 for the way the keyring follows secret changes now (events, polling, signals, stopped).",
		}, []string{"mode"}),
	}
	o.setMode(jwtkeys.WatchStopped)
	for _, r := range []jwtkeys.Reason{jwtkeys.ReasonMalformed, jwtkeys.ReasonExpired, jwtkeys.ReasonBadSignature,
		jwtkeys.ReasonUnknownKid, jwtkeys.ReasonWrongAlg, jwtkeys.ReasonWrongUse, jwtkeys.ReasonRetiredKey,
		jwtkeys.ReasonInvalidClaims, jwtkeys.ReasonUserDisabled, jwtkeys.ReasonStatusUnavailable} {
		for _, ring := range []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh} {
			o.failures.WithLabelValues(ring.String(), string(r))
		}
	}
	for _, ring := range []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh} {
		for _, s := range []secretenv.Slot{secretenv.SlotNext, secretenv.SlotCurrent, secretenv.SlotPrevious} {
			o.verified.WithLabelValues(ring.String(), s.String(), "false")
			o.verified.WithLabelValues(ring.String(), s.String(), "true")
		}
	}
	o.logins.WithLabelValues("ok")
	o.logins.WithLabelValues("failed")
	o.reloads.WithLabelValues("ok")
	o.reloads.WithLabelValues("failed")
	if reg != nil {
		reg.MustRegister(o.failures, o.verified, o.refreshed, o.reloads, o.cacheErrors, o.watchMode, o.logins)
	}
	return o
}

// Verified counts a token with kid (jwtkeys calls VerifiedToken instead).
func (o *Observer) Verified(r jwtkeys.RingID, s secretenv.Slot) { o.VerifiedToken(r, s, false) }

// VerifiedToken counts a verified token by ring, verifying slot and legacy.
func (o *Observer) VerifiedToken(r jwtkeys.RingID, s secretenv.Slot, legacy bool) {
	l := "false"
	if legacy {
		l = "true"
	}
	o.verified.WithLabelValues(r.String(), s.String(), l).Inc()
}

func (o *Observer) Refused(r jwtkeys.RingID, reason jwtkeys.Reason) {
	o.failures.WithLabelValues(r.String(), string(reason)).Inc()
}

// Login counts a login attempt in auth_login_total{result="ok"|"failed"}:
// the application calls it from its login handler (jwtkeys does not see
// logins), so the runbook's "no spike in 401s" can be read against logins.
func (o *Observer) Login(ok bool) {
	if ok {
		o.logins.WithLabelValues("ok").Inc()
		return
	}
	o.logins.WithLabelValues("failed").Inc()
}

func (o *Observer) Refreshed() { o.refreshed.Inc() }

func (o *Observer) Reloaded(err error) {
	if err != nil {
		o.reloads.WithLabelValues("failed").Inc()
		return
	}
	o.reloads.WithLabelValues("ok").Inc()
}

func (o *Observer) StatusCacheError(error) { o.cacheErrors.Inc() }

func (o *Observer) Watching(h jwtkeys.WatchHealth) { o.setMode(h.Mode) }

func (o *Observer) setMode(m jwtkeys.WatchMode) {
	for _, x := range []jwtkeys.WatchMode{jwtkeys.WatchEvents, jwtkeys.WatchPolling, jwtkeys.WatchSignals, jwtkeys.WatchStopped} {
		v := 0.0
		if x == m {
			v = 1
		}
		o.watchMode.WithLabelValues(string(x)).Set(v)
	}
}
