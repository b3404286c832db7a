package redisreplay_test

import (
	"context"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/webhook/redisreplay"
	"github.com/goodgo/rotation/secretenv"
)

// Receiving our own bank-transfer webhooks with replay protection: a
// webhook-id is processed once across every replica; a Redis outage
// answers 503 (fail closed) so the sender retries later.
func ExampleNew() {
	set, err := webhook.LoadSecretSet(secretenv.Env())
	if err != nil {
		log.Fatal(err) // names the variable and the fingerprint, never the value
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	v, err := webhook.NewVerifier(set, webhook.WithReplayStore(redisreplay.New(rdb, "bank-webhook:")))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /webhooks/bank", v.Handler(func(ctx context.Context, m webhook.Message) error {
		log.Printf("transfer %s verified with the %s secret", m.ID, m.Slot)
		return nil
	}))
}
