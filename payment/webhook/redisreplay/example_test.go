package redisreplay_test

import (
	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/webhook/redisreplay"
)

// Existing code keeps compiling; new code uses idemredis.New.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	set := payment.SecretSet{Current: fingerprint.NewSecret([]byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))}
	_, err := webhook.NewVerifier(set, webhook.WithIdempotencyStore(redisreplay.New(rdb, "bank-webhook:")))
	if err != nil {
		panic(err)
	}
}
