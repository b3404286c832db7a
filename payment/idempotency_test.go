package payment_test

import (
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, payment.NewMemoryStore(nil), "mem:")
}
