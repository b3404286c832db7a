// Package jwtkeys makes JWT secret rotation zero-downtime: staged HMAC
// keyrings for access and refresh tokens, a token service, net/http
// middleware, hot reload of mounted secrets, a Redis user-status cache and
// the incident flush of that cache.
//
// The common path:
//
//	keys, err := jwtkeys.OpenEnv(jwtkeys.Options{Observer: jwtprom.New(prometheus.DefaultRegisterer)})
//	svc, err := jwtkeys.NewService[AppClaims](keys) // AppClaims embeds jwtkeys.Claims
//	status := jwtkeys.NewStatusCache(rdb, loadUserStatus, jwtkeys.StatusOptions{})
//	mux.Handle("/api/", svc.Middleware(jwtkeys.MiddlewareOptions{Realm: "api", Status: status})(api))
//	claims, _ := jwtkeys.ClaimsFrom[AppClaims](r.Context()) // in api's handlers
//	refresher, err := jwtkeys.NewRefresher(svc, jwtkeys.RefresherConfig[AppClaims]{
//		Store: refreshpg.New(pool), Status: status, Claims: loadClaims})
//	pair, err := refresher.Issue(ctx, userID, AppClaims{Role: "customer"}) // login
//	pair, err = refresher.Refresh(ctx, pair.Refresh)                      // each refresh token works once
//
// # Rings and slots
//
// Each ring (access: JWT_SECRET*, refresh: JWT_REFRESH_SECRET*) has three
// slots: next (…_NEXT, verifies only), current (signs and verifies) and
// previous (…_PREVIOUS, verifies until its retire time). Every minted token
// carries kid = the key's fingerprint, so verification is one exact map
// lookup; an unknown kid is refused without trying any key, a kid longer than
// MaxKidLen or outside [A-Za-z0-9_-] is never looked up, and a non-string kid
// is malformed. A token without kid (minted by the service before this
// library) is parsed once and its signature tried against the ring's live
// keys, current first; its use is decided by the ring that verified it.
//
// The rotation is staged, because a one-step change breaks sessions during a
// rolling restart (new pods sign with a key old pods do not know):
//
//  1. Stage: JWT_SECRET_NEXT=new on every instance (all verify it).
//  2. Promote: JWT_SECRET=new, JWT_SECRET_PREVIOUS=old, JWT_SECRET_NEXT
//     unset, instance by instance.
//  3. Retire: after the previous key's retire time (Slots), unset
//     JWT_SECRET_PREVIOUS. The previous key stops verifying at that time
//     anyway.
//
// Same for JWT_REFRESH_SECRET*. TestRollingDeployStagedRotation proves zero
// 401s for this procedure and TestRollingDeploySingleStepBreaksSessions shows
// the 401s of the one-step procedure.
//
// # Retire time
//
// previous retire time = when it left current + the ring's TTL (AccessTTL or
// RefreshTTL) + RetireMargin (24 h). "When it left current" is, in order:
// JWT_SECRET_PREVIOUS_SINCE / JWT_REFRESH_SECRET_PREVIOUS_SINCE (RFC 3339,
// set by the operator at promotion; the same names as files in a secrets
// directory); else, within one process, the time a reload moved the key into
// previous; else the load time. A restart without *_SINCE therefore moves the
// retire time later, never earlier. LiveKeyring.Slots lists every slot with
// its fingerprint, state, since and retire time.
//
// # Validation and security
//
// Secrets load through package secretenv: at least as long as the hash
// output (32 bytes for HS256), an empty variable is an absent slot (never an
// empty key: golang-jwt would accept one), no secret in two slots or in both
// rings, and errors name the variable and fingerprint, never the value. The
// algorithm is pinned (HS256 by default; HS384 or HS512 via Options), exp is
// required, iat may not be in the future, Leeway applies to both, iss and
// aud are checked when configured, and token_use keeps refresh and access
// tokens apart. The signature is checked before any claim, so a forged
// expired token is reported as a bad signature, never as expired.
//
// Registered claims follow RFC 7519 strictly: names are case-sensitive (a
// top-level "EXP", "Sub" or "ſub" is refused, though encoding/json would
// match it), exp, nbf and iat must be JSON numbers (NumericDate; a string
// "9999999999" is refused, as Node's jsonwebtoken does), and a registered
// claim given twice is refused.
//
// Clock skew against Node's jsonwebtoken: jsonwebtoken's clockTolerance is
// 0 by default and applies to exp and nbf only; it never checks iat. Here
// Leeway (30 s by default) applies to exp, nbf and iat, and a token whose
// iat is more than Leeway in the future is refused. So a Node host whose
// clock runs more than 30 s fast mints tokens this package refuses until
// its clock catches up ("token used before issued"), while jsonwebtoken
// accepts them; keep the fleet on NTP, or raise Leeway.
//
// # Reload
//
// LiveKeyring holds the live keyring behind an atomic pointer. Reload re-reads the
// source and swaps only if the whole new configuration is valid; Watch calls
// it on changes in a secrets directory (including a Kubernetes "..data"
// symlink swap) and on SIGHUP. Failures keep the old keyring and go to
// Observer.Reloaded.
//
// # Redis
//
// StatusCache keeps auth:user_status:v1:<sub> ("active" or "disabled") with
// a TTL, filled by the caller's loader. Redis down: the loader answers and
// Observer.StatusCacheError is told. Both down: the middleware answers 503,
// never allows. FlushPrefix is the incident-rotation flush of that prefix
// (SCAN on one connection while UNLINK batches run on others, so Redis
// always has work and no command blocks it for more than milliseconds; on
// every master of a cluster).
//
// # Metrics
//
// Observer receives every outcome; package jwtprom exports them as
// auth_jwt_verify_failure_total{ring,reason},
// auth_jwt_verified_total{ring,slot,legacy} (slot: the key that verified
// the token, with or without kid), auth_refresh_total and, from the
// application's login handler, auth_login_total{result}. When the rate of
// auth_jwt_verified_total{slot="previous"} stays at zero, the previous key
// is no longer used, by tokens with kid or by legacy (Node) tokens.
package jwtkeys
