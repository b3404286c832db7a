package webhook

import (
	"strconv"
	"sync"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// recorder is a payment.Observer that remembers every call.
type recorder struct {
	mu       sync.Mutex
	verified []string // provider/slot
	failed   []string // provider/reason
	rejected []string // provider/reason
}

func (r *recorder) Verified(p string, s secretenv.Slot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verified = append(r.verified, p+"/"+string(s))
}

func (r *recorder) SignatureFailed(p string, why payment.Reason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, p+"/"+string(why))
}

func (r *recorder) IPNRejected(p string, why payment.Reason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = append(r.rejected, p+"/"+string(why))
}

func (r *recorder) snapshot() (v, f, rj []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.verified...), append([]string(nil), r.failed...), append([]string(nil), r.rejected...)
}

func secret(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

// Test secrets (64 characters, like "rotate keygen webhook" output).
const (
	oldSecret = "b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQtb2xkLXNlY3JldC1vbGQt"
	newSecret = "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQtbmV3LXNlY3JldC1uZXct"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// rotating is the set of a receiver in the middle of a rotation: new
// current, old previous until t0+24h.
func rotating() payment.SecretSet {
	return payment.SecretSet{Current: secret(newSecret), Previous: secret(oldSecret), PreviousUntil: t0.Add(24 * time.Hour)}
}

// must is for test setup that cannot fail with correct code.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
