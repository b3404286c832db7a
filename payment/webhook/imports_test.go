package webhook_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Importing payment/webhook must not pull in a database or Redis client:
// the Redis idempotency store lives in payment/idemredis.
func TestNoDatabaseOrRedisImport(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("suspiciously few dependencies: %v", deps)
	}
	for _, d := range deps {
		for _, bad := range []string{"github.com/redis/", "github.com/jackc/", "database/sql", "github.com/lib/pq", "github.com/prometheus/"} {
			if strings.HasPrefix(d, bad) {
				t.Errorf("payment/webhook depends on %s", d)
			}
		}
	}
	// And the check itself works: idemredis does pull in go-redis.
	out, err = exec.Command(goBin, "list", "-deps", "../idemredis").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/redis/go-redis/v9") {
		t.Fatalf("idemredis deps: %v\n%s", err, out)
	}
}
