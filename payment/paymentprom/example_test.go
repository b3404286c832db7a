package paymentprom_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/paymentprom"
	"github.com/goodgo/rotation/secretenv"
)

func Example() {
	reg := prometheus.NewRegistry() // prometheus.DefaultRegisterer in a service
	obs, err := paymentprom.New(reg)
	if err != nil {
		panic(err)
	}
	// Pass obs as Observer in vnpay.Config, momo.Config, zalopay.Config or
	// webhook.WithObserver. Here, by hand:
	obs.Verified("vnpay", secretenv.SlotPrevious)
	obs.SignatureFailed("vnpay", payment.ReasonRetiredKey)
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
	}
	// Output:
	// payment_signature_failure_reason_total 1
	// payment_signature_failure_total 1
	// payment_signature_verified_total 1
}
