// Package testsvc gives tests real services, isolated per test: a fresh
// Postgres database, unique role names, a Redis key prefix and a running
// PgBouncer. Nothing is mocked.
//
// Services are found through DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and REDIS_URL
// (default redis://127.0.0.1:6379/0). When a service cannot be reached the
// test is skipped with a message naming the variable to set; when the CI
// environment variable is set it fails instead, so CI never passes by
// skipping. scripts/test.sh prepares everything on a fresh machine.
package testsvc

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"unicode"
)

// DefaultDatabaseURL and DefaultRedisURL are used when the variables are unset.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// DatabaseURL returns DATABASE_URL or its default: a superuser connection used
// to create the per-test databases.
func DatabaseURL() string { return envOr("DATABASE_URL", DefaultDatabaseURL) }

// RedisURL returns REDIS_URL or its default.
func RedisURL() string { return envOr("REDIS_URL", DefaultRedisURL) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// InCI reports whether the CI environment variable is set: unreachable
// services then fail tests instead of skipping them.
func InCI() bool { return os.Getenv("CI") != "" }

// unavailable skips t (or fails it under CI) because a service is missing.
func unavailable(t testing.TB, what, hint string, err error) {
	t.Helper()
	msg := what + " unavailable (" + hint + ")"
	if err != nil {
		msg += ": " + err.Error()
	}
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Suffix returns 8 random lowercase hex characters, for unique names.
func Suffix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("testsvc: crypto/rand failed: " + err.Error()) // test-only helper
	}
	return hex.EncodeToString(b[:])
}

// slug turns a test name into a short lowercase identifier fragment.
func slug(name string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
		if b.Len() >= max {
			break
		}
	}
	return strings.Trim(b.String(), "_")
}
