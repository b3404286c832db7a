package pgstore

// This file holds what a run reports: its progress, its failures, its final
// report, and the JSON events rotate field reencrypt and the example job
// print for them.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/goodgo/rotation/fieldcrypt"
)

// Failure is a value that could not be opened: reported, left as it is.
type Failure struct {
	Row    string
	Column string
	Err    error
}

// MarshalJSON writes the failure with its error as a string. Errors of
// package fieldcrypt never contain a value or a key.
func (f Failure) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Row    string `json:"row"`
		Column string `json:"column"`
		Err    string `json:"error"`
	}{f.Row, f.Column, f.Err.Error()})
}

// Progress is the state of a run. Counts are cumulative over the run.
type Progress struct {
	// Total is the number of rows that needed work when the run started
	// (counted in SQL, in a snapshot from before the first batch); for a
	// resumed run, what was left. The count runs beside the first batches:
	// until it is in, Total is the planner's estimate of the table's rows.
	Total int64 `json:"total"`
	// Scanned rows were read (each has at least one value to rewrap).
	Scanned int64 `json:"scanned"`
	// Rewrapped values were written under the primary key (would have been,
	// in a dry run).
	Rewrapped int64 `json:"rewrapped"`
	// UpToDate values were already under the primary key in rows read.
	UpToDate int64 `json:"up_to_date"`
	// Conflicts counts compare-and-swap misses: rows written by someone else
	// between read and update, then re-read and retried.
	Conflicts int64 `json:"conflicts"`
	// Unresolved rows still conflicted after MaxRetries; a new run takes them.
	Unresolved int64 `json:"unresolved"`
	// Undecryptable values could not be opened; see Failures.
	Undecryptable int64 `json:"undecryptable"`
	// Failures lists undecryptable values with their primary keys, at most
	// MaxReported of them.
	Failures []Failure     `json:"failures,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	// RowsPerSecond is Scanned over Elapsed.
	RowsPerSecond float64 `json:"rows_per_second"`
	// ETA estimates the time left from Total and the rate so far.
	ETA time.Duration `json:"eta_ns"`
	// TakenOver counts parts this process took over from a process whose
	// lease expired (it crashed or hung).
	TakenOver int64 `json:"taken_over,omitempty"`
	// Waiting, when set, says that this process has nothing left to claim
	// and waits for parts other processes hold.
	Waiting string `json:"waiting,omitempty"`
	Done    bool   `json:"done"`
}

// Report is the result of a run.
type Report struct {
	Progress
	DryRun  bool `json:"dry_run"`
	Resumed bool `json:"resumed"` // the run continued from a checkpoint
	// Census is taken after the run (for a dry run: of the table as it is).
	Census *Census `json:"census,omitempty"`
	// Previous lists the keyring's previous keys with their remaining rows.
	Previous []KeyCount `json:"previous"`
}

// ProgressEvent is the JSON line printed after each batch by rotate field
// reencrypt and examples/reencrypt-job: {"event":"progress", …Progress}.
func ProgressEvent(p Progress) any {
	return struct {
		Event string `json:"event"`
		Progress
		Failures []Failure `json:"failures,omitempty"`
	}{Event: "progress", Progress: p}
}

// ReportEvent is the last JSON line of a run, the same for rotate field
// reencrypt and examples/reencrypt-job: {"event":"report","report":…,
// "summary":…}. report.previous lists each previous key with the values
// left under it in the table.
func ReportEvent(r *Report) any {
	return struct {
		Event   string  `json:"event"`
		Report  *Report `json:"report"`
		Summary string  `json:"summary"`
	}{"report", r, r.Summary()}
}

// CensusEvent is the JSON line that ends a run over a column list, after
// the report of each table: {"event":"census","census":…,"summary":…}, where
// census.keys says for each key whether it is retirable.
func CensusEvent(l *ListCensus) any {
	return struct {
		Event   string      `json:"event"`
		Census  *ListCensus `json:"census"`
		Summary string      `json:"summary"`
	}{"census", l, l.Summary()}
}

// Retirable reports whether no value of this table is left under key id.
// It speaks for this table only: a key is retirable when no encrypted column
// of the database holds a value under it (ListCensus.Retirable).
func (r *Report) Retirable(id fieldcrypt.KeyID) bool {
	return r.Census != nil && r.Census.Retirable(id)
}

// Summary says in one line whether the run finished and which previous keys
// can be retired, by fingerprint.
func (r *Report) Summary() string {
	if r.Census == nil {
		return fmt.Sprintf("scanned %d rows, rewrapped %d values: run did not finish", r.Scanned, r.Rewrapped)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: scanned %d rows, rewrapped %d values, %d already current, %d conflicts, %d undecryptable",
		r.Census.Table, r.Scanned, r.Rewrapped, r.UpToDate, r.Conflicts, r.Undecryptable)
	if r.DryRun {
		b.WriteString(" (dry run: nothing written)")
	}
	for _, k := range r.Previous {
		if k.Values == 0 {
			fmt.Fprintf(&b, "; previous key %s: 0 values left in this table (retirable only when no listed column has any: census --columns)", k.KeyID)
		} else {
			fmt.Fprintf(&b, "; previous key %s: %d values left, NOT safe to retire", k.KeyID, k.Values)
		}
	}
	if n := r.Census.NotUpToDate(); n > 0 {
		fmt.Fprintf(&b, "; %d values not under the primary key", n)
	}
	b.WriteString(" (key ids read from headers: verify decrypts every value)")
	return b.String()
}
