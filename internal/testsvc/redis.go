package testsvc

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// quietRedis drops go-redis's own log lines ("failed to dial after 5
// attempts"), which tests of a dead Redis provoke on purpose; the errors
// themselves reach the tests.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

// Redis is a client on the REDIS_URL server and a key prefix that belongs to
// one test. Keys under the prefix are deleted when the test ends.
type Redis struct {
	Client *redis.Client
	Prefix string // "rt:<test>:<random>:"
}

// NewRedis connects to REDIS_URL for t.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testsvc: REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		unavailable(t, "Redis", "set REDIS_URL, or run ./scripts/test.sh", err)
	}
	r := &Redis{Client: c, Prefix: "rt:" + slug(t.Name(), 40) + ":" + Suffix() + ":"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, r.Prefix+"*", 10000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				c.Unlink(ctx, batch...)
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			c.Unlink(ctx, batch...)
		}
		c.Close()
	})
	return r
}
