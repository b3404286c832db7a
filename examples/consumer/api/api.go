// Package api is the consumer's HTTP API: a /me endpoint behind the jwtkeys
// middleware.
package api

import (
	"encoding/json"
	"net/http"

	"github.com/goodgo/rotation/jwtkeys"
)

// Claims are the consumer's token claims.
type Claims struct {
	jwtkeys.Claims
	Role string `json:"role"`
}

// Router serves /me (any signed-in user) and /admin (role admin only).
func Router(svc *jwtkeys.Service[Claims]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[Claims](r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"user": c.Subject, "role": c.Role})
	})
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtkeys.ClaimsFrom[Claims](r.Context())
		if c.Role != "admin" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return svc.Middleware(jwtkeys.MiddlewareOptions{Realm: "consumer"})(mux)
}
