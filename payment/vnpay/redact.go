package vnpay

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every output path shows for a Client: the terminal code
// and its hash secret's fingerprints, never the secret.
func (c Client) redacted() string {
	return "vnpay.Client{tmn=" + c.tmn + " hash_secret=" + c.secret.Redacted() + "}"
}

// Format prints the Client by terminal code and secret fingerprints for
// every fmt verb and flag: fmt cannot reach the secret's own redaction
// through the Client's unexported fields, so without it %v would print the
// secret's bytes.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.redacted()) }

// LogValue makes log/slog print the redacted form.
func (c Client) LogValue() slog.Value { return slog.StringValue(c.redacted()) }
