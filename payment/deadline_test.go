package payment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/secretenv"
)

// TestErrNoDeadlineIsOneValue: a previous secret without its deadline is one
// error whichever package found it. The CLI's env check (secretenv.Check) and
// a service's load (payment.LoadSecretSet, vnpay.LoadConfig) refuse the same
// environment, and errors.Is matches both names on both errors.
func TestErrNoDeadlineIsOneValue(t *testing.T) {
	if payment.ErrNoDeadline != secretenv.ErrNoDeadline {
		t.Fatal("payment.ErrNoDeadline and secretenv.ErrNoDeadline are two values")
	}
	cur, prev := strings.Repeat("N", 32), strings.Repeat("O", 32)
	env := map[string]string{"VNPAY_HASH_SECRET": cur, "VNPAY_TMN_CODE": "DEMOV210", "VNPAY_HASH_SECRET_PREVIOUS": prev}

	_, loadErr := payment.LoadSecretSet(secretenv.Map(env), payment.Vars("VNPAY_HASH_SECRET"), secretenv.Rule{MinLen: 32})
	_, configErr := vnpay.LoadConfig(secretenv.Map(env))
	class, ok := secretenv.LookupClass("vnpay")
	if !ok {
		t.Fatal("no vnpay class in the inventory")
	}
	var checkErr error
	for _, f := range secretenv.Check(secretenv.Map(env), []secretenv.Class{class}) {
		if f.Var == "VNPAY_HASH_SECRET_PREVIOUS" {
			checkErr = f.Err
		}
	}
	for name, err := range map[string]error{"payment.LoadSecretSet": loadErr, "vnpay.LoadConfig": configErr, "secretenv.Check": checkErr} {
		if !errors.Is(err, payment.ErrNoDeadline) || !errors.Is(err, secretenv.ErrNoDeadline) {
			t.Errorf("%s: %v: want errors.Is with payment.ErrNoDeadline and secretenv.ErrNoDeadline", name, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "VNPAY_HASH_SECRET_PREVIOUS_UNTIL") || strings.Contains(err.Error(), prev) || strings.Contains(err.Error(), cur)) {
			t.Errorf("%s: the error does not name the deadline variable, or shows a secret", name)
		}
	}
}
