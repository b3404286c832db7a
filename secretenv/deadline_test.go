package secretenv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/secretenv"
)

// TestDeadlineErrorsAcrossPackages: a payment secret's *_UNTIL time that is
// present but unreadable is ErrBadDeadline, one that is missing or empty is
// ErrNoDeadline, whichever package found it (secretenv.Check in the CLI's
// env check, payment.LoadSecretSet and vnpay.LoadConfig in a service), and
// errors.Is matches the secretenv and the payment name of each.
func TestDeadlineErrorsAcrossPackages(t *testing.T) {
	if payment.ErrBadDeadline != secretenv.ErrBadDeadline {
		t.Fatal("payment.ErrBadDeadline and secretenv.ErrBadDeadline are two values")
	}
	class, ok := secretenv.LookupClass("vnpay")
	if !ok {
		t.Fatal("no vnpay class in the inventory")
	}
	cur, prev := strings.Repeat("N", 32), strings.Repeat("O", 32)
	for _, tc := range []struct {
		name      string
		until     *string // nil: unset
		want, not error
	}{
		{"unreadable", ptr("tomorrow"), secretenv.ErrBadDeadline, secretenv.ErrNoDeadline},
		{"date only", ptr("2026-11-28"), secretenv.ErrBadDeadline, secretenv.ErrNoDeadline},
		{"no zone", ptr("2026-11-28T09:00:00"), secretenv.ErrBadDeadline, secretenv.ErrNoDeadline},
		{"unset", nil, secretenv.ErrNoDeadline, secretenv.ErrBadDeadline},
		{"empty", ptr(""), secretenv.ErrNoDeadline, secretenv.ErrBadDeadline},
	} {
		env := map[string]string{"VNPAY_HASH_SECRET": cur, "VNPAY_TMN_CODE": "DEMOV210", "VNPAY_HASH_SECRET_PREVIOUS": prev}
		if tc.until != nil {
			env["VNPAY_HASH_SECRET_PREVIOUS_UNTIL"] = *tc.until
		}
		src := secretenv.Map(env)
		_, loadErr := payment.LoadSecretSet(src, payment.NewSecretVars("VNPAY_HASH_SECRET"), secretenv.Rule{MinLen: 32})
		_, configErr := vnpay.LoadConfig(src)
		var checkErr error
		for _, f := range secretenv.Check(src, []secretenv.Class{class}) {
			if f.Var == "VNPAY_HASH_SECRET_PREVIOUS" {
				checkErr = f.Err
			}
		}
		payName := map[error]error{secretenv.ErrBadDeadline: payment.ErrBadDeadline, secretenv.ErrNoDeadline: payment.ErrNoDeadline}
		for by, err := range map[string]error{"payment.LoadSecretSet": loadErr, "vnpay.LoadConfig": configErr, "secretenv.Check": checkErr} {
			if !errors.Is(err, tc.want) || !errors.Is(err, payName[tc.want]) {
				t.Errorf("%s, %s: %v: want errors.Is with secretenv's and payment's %v", tc.name, by, err, tc.want)
			}
			if errors.Is(err, tc.not) || errors.Is(err, payName[tc.not]) {
				t.Errorf("%s, %s: %v: matches %v too", tc.name, by, err, tc.not)
			}
			if err != nil && (!strings.Contains(err.Error(), "VNPAY_HASH_SECRET_PREVIOUS_UNTIL") || strings.Contains(err.Error(), prev) || strings.Contains(err.Error(), cur)) {
				t.Errorf("%s, %s: the error does not name the deadline variable, or shows a secret", tc.name, by)
			}
		}
	}
}

func ptr(s string) *string { return &s }
