package momo

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every output path shows for a Client: the partner code
// and its keys' fingerprints, never a key.
func (c Client) redacted() string {
	return "momo.Client{partner=" + c.partner + " access_key=" + c.ak.Redacted() + " secret_key=" + c.sk.Redacted() + "}"
}

// Format prints the Client by partner code and key fingerprints for every
// fmt verb and flag: fmt cannot reach the keys' own redaction through the
// Client's unexported fields, so without it %v would print the key bytes.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.redacted()) }

// LogValue makes log/slog print the redacted form.
func (c Client) LogValue() slog.Value { return slog.StringValue(c.redacted()) }
