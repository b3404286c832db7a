package payment_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
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

	_, loadErr := payment.LoadSecretSet(secretenv.Map(env), payment.NewSecretVars("VNPAY_HASH_SECRET"), secretenv.Rule{MinLen: 32})
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

// TestSecretSetErrorsAreOneValue: a missing current secret and a previous
// secret equal to the current one are each one error, whether the set was
// refused at load (payment.LoadSecretSet, vnpay.LoadConfig: secretenv found
// it) or built by hand and checked (Validate, a verifier's constructor, a
// verify or sign call): errors.Is matches the payment and the secretenv name
// on every path, and no message shows the secret.
func TestSecretSetErrorsAreOneValue(t *testing.T) {
	if payment.ErrNoSecret != secretenv.ErrMissing || payment.ErrSameSecret != secretenv.ErrDuplicate {
		t.Fatal("payment.ErrNoSecret / ErrSameSecret are not secretenv.ErrMissing / ErrDuplicate")
	}
	cur := strings.Repeat("N", 32)
	rule := secretenv.Rule{MinLen: 32}
	same := map[string]string{"VNPAY_HASH_SECRET": cur, "VNPAY_TMN_CODE": "DEMOV210", "VNPAY_HASH_SECRET_PREVIOUS": cur, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T02:00:00+07:00"}
	none := map[string]string{"VNPAY_TMN_CODE": "DEMOV210"}
	set := payment.SecretSet{Current: fingerprint.NewSecret([]byte(cur)), Previous: fingerprint.NewSecret([]byte(cur))}

	_, sameLoad := payment.LoadSecretSet(secretenv.Map(same), payment.NewSecretVars("VNPAY_HASH_SECRET"), rule)
	_, sameConfig := vnpay.LoadConfig(secretenv.Map(same))
	_, sameNew := vnpay.New(vnpay.Config{TmnCode: "DEMOV210", HashSecret: set, NoIdempotency: true})
	_, noneLoad := payment.LoadSecretSet(secretenv.Map(none), payment.NewSecretVars("VNPAY_HASH_SECRET"), rule)
	_, noneConfig := vnpay.LoadConfig(secretenv.Map(none))
	_, noneNew := vnpay.New(vnpay.Config{TmnCode: "DEMOV210", NoIdempotency: true})
	_, noneVerify := payment.SecretSet{}.VerifyHex(sha256.New, []byte("m"), "00", time.Unix(0, 0))
	_, noneSign := payment.SecretSet{}.SignHex(sha256.New, []byte("m"))

	for _, c := range []struct {
		name      string
		err       error
		pay, senv error
	}{
		{"same: payment.LoadSecretSet", sameLoad, payment.ErrSameSecret, secretenv.ErrDuplicate},
		{"same: vnpay.LoadConfig", sameConfig, payment.ErrSameSecret, secretenv.ErrDuplicate},
		{"same: SecretSet.Validate", set.Validate(), payment.ErrSameSecret, secretenv.ErrDuplicate},
		{"same: vnpay.New", sameNew, payment.ErrSameSecret, secretenv.ErrDuplicate},
		{"none: payment.LoadSecretSet", noneLoad, payment.ErrNoSecret, secretenv.ErrMissing},
		{"none: vnpay.LoadConfig", noneConfig, payment.ErrNoSecret, secretenv.ErrMissing},
		{"none: SecretSet.Validate", payment.SecretSet{}.Validate(), payment.ErrNoSecret, secretenv.ErrMissing},
		{"none: vnpay.New", noneNew, payment.ErrNoSecret, secretenv.ErrMissing},
		{"none: SecretSet.VerifyHex", noneVerify, payment.ErrNoSecret, secretenv.ErrMissing},
		{"none: SecretSet.SignHex", noneSign, payment.ErrNoSecret, secretenv.ErrMissing},
	} {
		if !errors.Is(c.err, c.pay) || !errors.Is(c.err, c.senv) {
			t.Errorf("%s: %v: want errors.Is with both names", c.name, c.err)
		}
		if c.err != nil && strings.Contains(c.err.Error(), cur) {
			t.Errorf("%s: the error shows the secret", c.name)
		}
	}
	if r := payment.ReasonOf(noneVerify); r != payment.ReasonNoSecret {
		t.Errorf("ReasonOf(%v) = %q, want %q", noneVerify, r, payment.ReasonNoSecret)
	}
}
