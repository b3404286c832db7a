package jwtkeys

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// MaxAuthorizationLen caps the Authorization header BearerToken reads
// (bytes). Longer headers are refused (400 invalid_request) before parsing.
const MaxAuthorizationLen = MaxTokenLen + len("Bearer ")

// BearerToken extracts the token from "Authorization: Bearer <token>" (RFC
// 6750 §2.1; the scheme is case-insensitive). No header, or another scheme,
// gives ErrNoToken; an oversized header, several Authorization headers or an
// empty or non-token68 credential gives ErrBadRequest.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", ErrNoToken
	}
	if len(vals) > 1 {
		return "", ErrBadRequest
	}
	h := vals[0]
	if len(h) > MaxAuthorizationLen {
		return "", ErrBadRequest
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || !token68(tok) {
		return "", ErrBadRequest
	}
	return tok, nil
}

// token68 reports whether s matches RFC 6750's b64token.
func token68(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		case c == '=':
			// Only trailing padding: decide once (checking the rest at
			// every '=' was quadratic in the header length).
			return strings.Trim(s[i:], "=") == ""
		default:
			return false
		}
	}
	return true
}

// MiddlewareOptions configure Service.Middleware. The zero value is valid.
type MiddlewareOptions struct {
	// Realm is the WWW-Authenticate realm (default "api").
	Realm string
	// Extract finds the token in a request (default BearerToken). Return
	// ErrNoToken when there is none.
	Extract func(*http.Request) (string, error)
	// OnError writes the refusal (default ErrorHandler(Realm)). err is
	// ErrNoToken, ErrBadRequest, a *VerifyError, or ErrStatusUnavailable.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Status, when set, refuses disabled users (and answers 503 when their
	// status cannot be known).
	Status *StatusCache
}

type ctxKey struct{}

// Middleware returns net/http middleware that admits requests carrying a
// valid access token and stores its claims in the request context (read
// them with ClaimsFrom[C]). Everything else is refused through OnError:
//   - no token: 401, WWW-Authenticate: Bearer realm="…" (no error code)
//   - bad header: 400, error="invalid_request"
//   - invalid, expired, wrong use, retired key, disabled user: 401,
//     error="invalid_token", error_description="…"
//   - user status unknown (Redis and loader both down): 503.
func (s *Service[C]) Middleware(o MiddlewareOptions) func(http.Handler) http.Handler {
	if o.Realm == "" {
		o.Realm = "api"
	}
	if o.Extract == nil {
		o.Extract = BearerToken
	}
	if o.OnError == nil {
		o.OnError = ErrorHandler(o.Realm)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := o.Extract(r)
			if err != nil {
				o.OnError(w, r, err)
				return
			}
			c, err := s.Verify(Access, tok)
			if err != nil {
				o.OnError(w, r, err)
				return
			}
			if o.Status != nil {
				if err := o.Status.Check(r.Context(), Subject(c)); err != nil {
					o.OnError(w, r, err)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
		})
	}
}

// ClaimsFrom returns the claims Middleware stored in ctx. ok is false when
// there are none or they are of another type.
func ClaimsFrom[C any](ctx context.Context) (claims *C, ok bool) {
	claims, ok = ctx.Value(ctxKey{}).(*C)
	return claims, ok
}

// ErrorHandler returns the default refusal writer for realm (RFC 6750 §3).
// The error_description is a fixed phrase per reason: it never echoes the
// token, a key or a claim.
func ErrorHandler(realm string) func(http.ResponseWriter, *http.Request, error) {
	realm = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm)
	return func(w http.ResponseWriter, r *http.Request, err error) {
		h := w.Header()
		switch {
		case errors.Is(err, ErrNoToken):
			h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
		case errors.Is(err, ErrBadRequest):
			h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_request", error_description="malformed Authorization header"`)
			http.Error(w, "malformed Authorization header", http.StatusBadRequest)
		case errors.Is(err, ErrStatusUnavailable):
			h.Set("Retry-After", "5")
			http.Error(w, "authentication temporarily unavailable", http.StatusServiceUnavailable)
		default:
			desc := description(ReasonOf(err))
			h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token", error_description="`+desc+`"`)
			http.Error(w, desc, http.StatusUnauthorized)
		}
	}
}
