package fieldcrypt

import (
	"fmt"
	"io"
	"log/slog"
)

// Format prints String (key ids only) for every fmt verb and flag, on a
// Keyring as on a *Keyring: String alone leaves %#v and %d to print the
// struct, and %s of a Keyring value to print its keys' bytes (fmt reaches
// them through pointers in unexported fields, where it calls no method).
func (r Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// GoString is String.
func (r *Keyring) GoString() string { return r.String() }

// LogValue makes log/slog print String.
func (r *Keyring) LogValue() slog.Value { return slog.StringValue(r.String()) }
