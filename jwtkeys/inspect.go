package jwtkeys

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// Inspection is what an operator needs to know about one token: its
// header, which ring and slot verify it, its claims and expiry, or exactly
// why it is refused. It holds no key.
type Inspection struct {
	Alg, Kid, Typ string
	// Ring and Slot that verified the token (Slot is the key's real slot
	// even for a legacy token; Legacy says it had no kid).
	Ring     RingID
	Slot     secretenv.Slot
	Legacy   bool
	Verified bool
	// Claims is the decoded payload, shown even when verification failed
	// (then it is unauthenticated). nil when it cannot be decoded.
	Claims    map[string]any
	ExpiresAt time.Time // zero when there is no numeric exp
	// Err is the refusal (a *VerifyError) when Verified is false.
	Err error
}

// Inspect decodes and verifies token against both rings. A kid picks the
// ring it belongs to; a token without kid is tried on the access ring, then
// on the refresh ring. Not for the request path (it decodes into maps).
func (kr *Keyring) Inspect(token string) Inspection {
	var in Inspection
	parts := strings.Split(token, ".")
	if len(token) <= MaxTokenLen && len(parts) == 3 {
		var hdr map[string]any
		if b, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil && json.Unmarshal(b, &hdr) == nil {
			in.Alg, _ = hdr["alg"].(string)
			in.Kid, _ = hdr["kid"].(string)
			in.Typ, _ = hdr["typ"].(string)
		}
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			d := json.NewDecoder(strings.NewReader(string(b)))
			d.UseNumber()
			if d.Decode(&in.Claims) == nil {
				if n, ok := in.Claims["exp"].(json.Number); ok {
					if f, err := n.Float64(); err == nil {
						in.ExpiresAt = time.Unix(int64(f), 0).UTC()
					}
				}
			}
		}
	}
	rings := []RingID{Access, Refresh}
	if k := kr.byKid[in.Kid]; k != nil {
		rings = []RingID{k.ring}
	}
	var first *VerifyError
	for _, r := range rings {
		var c Claims
		v, err := kr.verifyInto(r, token, &c, &c)
		if err == nil {
			in.Ring, in.Slot, in.Legacy, in.Verified = r, v.key.slot, v.legacy, true
			return in
		}
		if first == nil || (first.Reason == ReasonBadSignature && err.Reason != ReasonBadSignature) {
			first = err
		}
	}
	in.Ring, in.Err = first.Ring, first
	return in
}
