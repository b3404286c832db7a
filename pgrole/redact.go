package pgrole

import (
	"fmt"
	"io"
	"log/slog"
)

// Format prints the reviewable statement (String) for every fmt verb and
// flag. String and GoString alone leave the other verbs (%d, and %s, %x
// when a Step is reached through a non-method path) to print the struct,
// whose executor text carries the new verifier.
func (s Step) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue makes log/slog print String.
func (s Step) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format prints the plan's one-line summary (String) for every fmt verb and
// flag, on a Plan as on a *Plan: the Plan's unexported fields hold the new
// and break-glass verifiers and the break-glass password, which fmt would
// print as bytes (it cannot call their own redaction there). Render gives
// the full reviewable plan.
func (p Plan) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// GoString is String, so %#v through a GoStringer-only path never walks
// into the verifiers either.
func (p *Plan) GoString() string { return p.String() }

// LogValue makes log/slog print String.
func (p Plan) LogValue() slog.Value { return slog.StringValue(p.String()) }
