package redisauth

import (
	"fmt"
	"io"
	"log/slog"
)

// Format prints the reviewable command (String) for every fmt verb and
// flag. String and GoString alone leave %d (and fmt's error paths) to
// print the struct, whose arguments carry the whole password hash.
func (s Step) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue makes log/slog print String.
func (s Step) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String summarizes the plan, e.g. "redisauth plan dual app → app (password
// fp=3f2a…, 3 nodes)"; Render gives the full reviewable plan. Neither holds
// the password or its whole hash.
func (p *Plan) String() string {
	return fmt.Sprintf("redisauth plan %s %s → %s (password fp=%s, %d nodes)", p.Strategy, p.Old, p.New, p.Fingerprint(), len(p.Nodes))
}

// Format prints String for every fmt verb and flag, on a Plan as on a
// *Plan: the new password and its hash sit in unexported fields, where fmt
// cannot call the password's own redaction and would print its bytes.
func (p Plan) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue makes log/slog print String.
func (p Plan) LogValue() slog.Value { return slog.StringValue(p.String()) }
