package payment_test

import (
	"crypto/sha512"
	"fmt"
	"time"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// A rotation of the VNPay secret made at 02:00 UTC: the old secret stays
// accepted for VNPay's 24-hour retry window, then is refused.
func ExampleLoadSecretSet() {
	rotatedAt := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	env := secretenv.Map(map[string]string{
		"VNPAY_HASH_SECRET":                "NEWSECRETNEWSECRETNEWSECRET56789",
		"VNPAY_HASH_SECRET_PREVIOUS":       "OLDSECRETOLDSECRETOLDSECRET01234",
		"VNPAY_HASH_SECRET_PREVIOUS_UNTIL": payment.UntilAfterRotation(rotatedAt, payment.VNPayRetryWindow).Format(time.RFC3339),
	})
	set, err := payment.LoadSecretSet(env, payment.NewSecretVars("VNPAY_HASH_SECRET"), secretenv.ProviderSecretRule)
	if err != nil {
		panic(err)
	}
	fmt.Println(set.Previous) // secrets print as fingerprints

	old := payment.SecretSet{Current: set.Previous} // what VNPay still signs with
	sig, _ := old.SignHex(sha512.New, []byte("vnp_Amount=1000000&..."))
	for _, at := range []time.Duration{time.Hour, 25 * time.Hour} {
		slot, err := set.VerifyHex(sha512.New, []byte("vnp_Amount=1000000&..."), sig, rotatedAt.Add(at))
		fmt.Printf("+%v: slot %q, err %v\n", at, slot, err)
	}
	// Output:
	// [secret fp=6d5754837f8c0221]
	// +1h0m0s: slot "previous", err <nil>
	// +25h0m0s: slot "", err payment: signed with the previous secret after its deadline (retired)
}
