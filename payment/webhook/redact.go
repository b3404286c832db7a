package webhook

import (
	"fmt"
	"io"
	"log/slog"
)

// The verifiers and signers of this package hold their secrets in
// unexported fields, where fmt cannot call the secrets' own redaction: each
// type below formats itself (every verb and flag) and logs as its name and
// its secrets' fingerprints, never a secret.

func (s Signer) redacted() string { return "webhook.Signer{" + s.set.Redacted() + "}" }

// Format prints the Signer by its secrets' fingerprints.
func (s Signer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.redacted()) }

// LogValue makes log/slog print the redacted form.
func (s Signer) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

func (v Verifier) redacted() string { return "webhook.Verifier{" + v.set.Redacted() + "}" }

// Format prints the Verifier by its secrets' fingerprints.
func (v Verifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.redacted()) }

// LogValue makes log/slog print the redacted form.
func (v Verifier) LogValue() slog.Value { return slog.StringValue(v.redacted()) }

func (c Casso) redacted() string { return "webhook.Casso{" + c.set.Redacted() + "}" }

// Format prints the Casso verifier by its secrets' fingerprints.
func (c Casso) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.redacted()) }

// LogValue makes log/slog print the redacted form.
func (c Casso) LogValue() slog.Value { return slog.StringValue(c.redacted()) }

// PayOS holds an atomic.Pointer, which must not be copied: its methods
// take a pointer (a PayOS value, which New never returns, is not covered).
func (p *PayOS) redacted() string { return "webhook.PayOS{" + p.set.Redacted() + "}" }

// Format prints the PayOS verifier by its secrets' fingerprints.
func (p *PayOS) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.redacted()) }

// LogValue makes log/slog print the redacted form.
func (p *PayOS) LogValue() slog.Value { return slog.StringValue(p.redacted()) }

func (c PayOSClient) redacted() string {
	return "webhook.PayOSClient{base=" + c.base + " client_id=" + c.clientID + " api_key=" + c.apiKey.Redacted() + " checksum=" + c.checksum.Redacted() + "}"
}

// Format prints the client by URL, client id and key fingerprints.
func (c PayOSClient) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.redacted()) }

// LogValue makes log/slog print the redacted form.
func (c PayOSClient) LogValue() slog.Value { return slog.StringValue(c.redacted()) }
