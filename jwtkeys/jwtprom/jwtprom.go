// Package jwtprom exports jwtkeys events as Prometheus metrics, under the
// runbook's names:
//
//	auth_jwt_verify_failure_total{reason}   refused tokens and requests
//	auth_jwt_verified_total{ring,slot}      verified tokens per ring and slot
//	auth_refresh_total                      refresh tokens exchanged
//	auth_jwt_reload_total{result}           keyring reloads (ok, failed)
//	auth_user_status_cache_errors_total     Redis failures of the status cache
//	auth_jwt_watch_mode{mode}               1 for how the keyring follows changes now:
//	                                        events, polling (file events unavailable),
//	                                        signals, stopped (changes are never picked up)
//
// auth_jwt_verified_total{slot="previous"} (and slot="legacy-no-kid") going to
// zero is how an operator knows the previous key is no longer used.
//
//	obs := jwtprom.New(prometheus.DefaultRegisterer)
//	keys, err := jwtkeys.FromEnv(jwtkeys.Options{Observer: obs})
package jwtprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/jwtkeys"
)

// Observer is a jwtkeys.Observer backed by Prometheus counters.
type Observer struct {
	failures    *prometheus.CounterVec
	verified    *prometheus.CounterVec
	refreshed   prometheus.Counter
	reloads     *prometheus.CounterVec
	cacheErrors prometheus.Counter
	watchMode   *prometheus.GaugeVec
}

var _ jwtkeys.Observer = (*Observer)(nil)

// New creates the counters and registers them with reg (nil: not
// registered). Every label value is pre-created at zero so dashboards see
// the series before the first event.
func New(reg prometheus.Registerer) *Observer {
	o := &Observer{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_jwt_verify_failure_total", Help: "JWTs (and requests) refused, by reason.",
		}, []string{"reason"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_jwt_verified_total", Help: "JWTs verified, by ring and key slot (legacy-no-kid: token without kid).",
		}, []string{"ring", "slot"}),
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
		jwtkeys.ReasonInvalidClaims, jwtkeys.ReasonUserDisabled, jwtkeys.ReasonUnavailable} {
		o.failures.WithLabelValues(string(r))
	}
	for _, ring := range []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh} {
		for _, s := range []jwtkeys.Slot{jwtkeys.SlotNext, jwtkeys.SlotCurrent, jwtkeys.SlotPrevious, jwtkeys.SlotLegacy} {
			o.verified.WithLabelValues(ring.String(), s.String())
		}
	}
	o.reloads.WithLabelValues("ok")
	o.reloads.WithLabelValues("failed")
	if reg != nil {
		reg.MustRegister(o.failures, o.verified, o.refreshed, o.reloads, o.cacheErrors, o.watchMode)
	}
	return o
}

func (o *Observer) Verified(r jwtkeys.RingID, s jwtkeys.Slot) {
	o.verified.WithLabelValues(r.String(), s.String()).Inc()
}

func (o *Observer) Refused(_ jwtkeys.RingID, reason jwtkeys.Reason) {
	o.failures.WithLabelValues(string(reason)).Inc()
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
