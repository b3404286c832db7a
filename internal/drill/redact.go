package drill

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// redactURL hides the password of a service URL: a URL's userinfo password
// becomes "xxxxx" (url.URL.Redacted); a keyword DSN ("host=… password=…")
// or text that does not parse is shown only as "[dsn redacted]". "" stays
// "" (the phase is skipped).
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.Contains(strings.ToLower(u.RawQuery), "password") {
		return "[dsn redacted]"
	}
	return u.Redacted()
}

func (o Options) redacted() string {
	return fmt.Sprintf("drill.Options{env=%s by=%s buddy=%s database=%q redis=%q instances=%d clients=%d rows=%d only=%v}",
		o.Env, o.By, o.Buddy, redactURL(o.DatabaseURL), redactURL(o.RedisURL), o.Instances, o.Clients, o.Rows, o.Only)
}

// Format prints the options with the service URLs' passwords hidden, for
// every fmt verb and flag: DatabaseURL and RedisURL may carry them.
func (o Options) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, o.redacted()) }

// LogValue makes log/slog print the redacted form.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.redacted()) }

// Format prints the role and the password's fingerprint for every fmt verb:
// the password and verifier sit in unexported fields, where fmt would print
// their bytes.
func (c pgCreds) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "drill.pgCreds{role="+c.role+" password="+c.password.Redacted()+"}")
}
