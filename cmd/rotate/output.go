package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
)

// Machine-readable output: one schema style for every command's --json (or
// -o json):
//
//   - keys are snake_case;
//   - times are RFC 3339 strings in UTC ("2026-11-28T02:00:00Z"), never
//     nanoseconds or a local zone; an absent time is omitted;
//   - fingerprints (key ids, kids) are the 16 lowercase hex characters of
//     package fingerprint, never abbreviated;
//   - identifiers (tables, roles, columns) are plain, unquoted names;
//   - one JSON document per run on stdout (indented); errors stay on stderr
//     and the exit code keeps its meaning (0 ok, 1 a check failed, 2 usage).
//
// Human output (tables, sentences, times in the --tz zone) is the default.

// outputFlags are --json and -o.
type outputFlags struct {
	asJSON *bool
	format *string
}

func addOutputFlags(fs *flag.FlagSet) outputFlags {
	return outputFlags{
		asJSON: fs.Bool("json", false, "print JSON (snake_case keys, RFC 3339 UTC times, 16-hex fingerprints)"),
		format: fs.String("o", "text", "output format: text or json"),
	}
}

// json reports whether JSON output was asked for. An unknown -o value is
// reported on stderr and treated as text.
func (o outputFlags) json(env *Env) bool {
	switch *o.format {
	case "json":
		return true
	case "text", "":
	default:
		fmt.Fprintf(env.Stderr, "rotate: -o %q: want text or json; printing text\n", *o.format)
	}
	return *o.asJSON
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// slotRow is one keyring slot in JSON (jwt status, stage, promote, retire).
type slotRow struct {
	Ring        string     `json:"ring"`
	Slot        string     `json:"slot"`
	Variable    string     `json:"variable"`
	State       string     `json:"state"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Since       *time.Time `json:"since,omitempty"`
	RetireAt    *time.Time `json:"retire_at,omitempty"`
}

func slotRows(st []jwtkeys.SlotInfo) []slotRow {
	rows := make([]slotRow, 0, len(st))
	for _, s := range st {
		r := slotRow{Ring: s.Ring.String(), Slot: s.Slot.String(), Variable: s.Var, State: string(s.State), Fingerprint: s.Fingerprint}
		r.Since, r.RetireAt = utcPtr(s.Since), utcPtr(s.RetireAt)
		rows = append(rows, r)
	}
	return rows
}

// utcPtr is t in UTC, truncated to the second, or nil when zero (omitted).
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}
