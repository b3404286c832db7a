package pgbouncer

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// redacted lists the users with their secrets' fingerprints, never a
// secret: "pgbouncer.Userlist{app=[secret fp=…] admin=[secret fp=…]}".
func (u Userlist) redacted() string {
	var b strings.Builder
	b.WriteString("pgbouncer.Userlist{")
	for i, n := range u.Names() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n + "=" + u.m[n].Redacted())
	}
	b.WriteByte('}')
	return b.String()
}

// Format prints the user names and secret fingerprints for every fmt verb
// and flag: the secrets sit in an unexported map, where fmt cannot call
// their own redaction and would print their bytes. Marshal gives the file.
func (u Userlist) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, u.redacted()) }

// LogValue makes log/slog print the redacted form.
func (u Userlist) LogValue() slog.Value { return slog.StringValue(u.redacted()) }
