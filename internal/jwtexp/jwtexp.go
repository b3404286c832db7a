// Package jwtexp reads a compact JWT's exp claim without verifying it, as a
// client does to schedule its refresh. The drill's clients and the CLI
// walkthrough's load use it: exp is in whole seconds, so a token with a 2 s
// TTL may live only a little over 1 s, and a client refreshing by the
// token's age alone holds expired tokens under load.
package jwtexp

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Of returns the token's exp, or the zero time when it has no readable exp.
func Of(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}
