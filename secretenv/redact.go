package secretenv

import (
	"fmt"
	"io"
	"log/slog"
)

// Format prints "map" for every fmt verb and flag: a map source is a map
// of secret values, and %#v (which does not use String) or a struct
// holding the source in an unexported field would print them.
func (m mapSource) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.String()) }

// GoString is String.
func (m mapSource) GoString() string { return m.String() }

// LogValue makes log/slog print "map".
func (m mapSource) LogValue() slog.Value { return slog.StringValue(m.String()) }

// MarshalText makes encoders (encoding/json among them, as slog's JSON
// handler uses it for a source nested in another value) print "map", not
// the values.
func (m mapSource) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
