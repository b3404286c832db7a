package drill

import (
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/leakcheck"
)

// TestNoSecretInOutput: Options (with passwords in its service URLs, in
// both URL and keyword form) and a generated login, printed with any fmt
// verb or logged through slog, show no password in any encoding.
func TestNoSecretInOutput(t *testing.T) {
	pgPw, redisPw := "drill-pg-password-S1d2f3g4", "drill-redis-password-Z9x8c7v6"
	for _, o := range []Options{
		{DatabaseURL: "postgres://postgres:" + pgPw + "@127.0.0.1:5432/postgres", RedisURL: "redis://default:" + redisPw + "@127.0.0.1:6379/0"},
		{DatabaseURL: "host=127.0.0.1 user=postgres password=" + pgPw, RedisURL: "redis://127.0.0.1:6379/0?password=" + redisPw},
	} {
		leakcheck.Check(t, "Options", o, []byte(pgPw), []byte(redisPw))
		leakcheck.Check(t, "*Options", &o, []byte(pgPw), []byte(redisPw))
	}
	if s := redactURL("postgres://postgres:" + pgPw + "@db:5432/postgres"); s != "postgres://postgres:xxxxx@db:5432/postgres" {
		t.Errorf("redacted URL %q", s)
	}
	c, err := newCreds("drill_app")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Trim(c.verifier.SQLLiteral(), "'")
	leakcheck.Check(t, "pgCreds", c, c.password.Bytes(), []byte(text))
	leakcheck.Check(t, "[]pgCreds", []any{c, &c}, c.password.Bytes(), []byte(text))
}
