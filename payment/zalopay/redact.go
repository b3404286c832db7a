package zalopay

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is what every output path shows for a Client: the app and its
// keys' fingerprints, never a key.
func (c Client) redacted() string {
	return "zalopay.Client{app_id=" + strconv.Itoa(c.appID) + " key1=" + c.k1.Redacted() + " key2=" + c.k2.Redacted() + "}"
}

// Format prints the Client by app id and key fingerprints for every fmt
// verb and flag (%v, %+v, %#v, %s, %q, %x...): fmt cannot reach the keys'
// own redaction through the Client's unexported fields, so without it %v
// would print the key bytes.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.redacted()) }

// LogValue makes log/slog print the redacted form.
func (c Client) LogValue() slog.Value { return slog.StringValue(c.redacted()) }
