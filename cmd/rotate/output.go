package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/secretenv"
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
//   - durations are seconds, as numbers, in keys ending in _seconds;
//   - a command that changes something says "command" and "dry_run";
//   - one JSON document per run on stdout (indented); errors stay on stderr
//     and the exit code keeps its meaning (0 ok, 1 a check failed, 2 usage).
//     Long-running commands (pg drain, redis drain, field reencrypt) print
//     their progress on stderr with --json, and the document at the end.
//     The one stream of JSON lines is field reencrypt --progress json:
//     {"event": "progress"|"report"|"census", …} in the same style.
//
// Human output (tables, sentences, times in the --tz zone) is the default.
// Every command has --json and -o json except those in noJSON.

// noJSON names the commands without --json, each with the reason. keygen
// has --json but not -o json: its -o names the file the secret goes to (as
// age-keygen -o).
var noJSON = map[string]string{
	"completion":    "prints a shell script to source, not a report",
	"field encrypt": "prints the envelope itself, for a pipe or a SQL literal",
	"field decrypt": "prints the plaintext itself, for a pipe",
}

// outputFlags are --json and -o.
type outputFlags struct {
	asJSON *bool
	format *formatValue
}

// formatValue is -o's value: text or json. Anything else is bad usage at
// parse time (exit 2), so that "rotate pg plan -o plan.txt", meant for
// --out, is refused rather than printing text and writing no file.
type formatValue string

func (f *formatValue) String() string { return string(*f) }
func (f *formatValue) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("want text or json (a file is --out, where there is one)")
	}
	*f = formatValue(s)
	return nil
}

func addOutputFlags(fs *flag.FlagSet) outputFlags {
	o := outputFlags{asJSON: fs.Bool("json", false, "print JSON (snake_case keys, RFC 3339 UTC times, 16-hex fingerprints)"), format: new(formatValue)}
	*o.format = "text"
	fs.Var(o.format, "o", "output `format`: text or json")
	return o
}

// json reports whether JSON output was asked for (--json or -o json).
func (o outputFlags) json(*Env) bool {
	return *o.asJSON || *o.format == "json"
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
		r.RetireAt = utcPtr(s.RetireAt)
		// Only the previous slot has a meaningful "since" (when it left
		// current); for the others it would be this process's load time.
		if s.Slot == secretenv.SlotPrevious {
			r.Since = utcPtr(s.Since)
		}
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
