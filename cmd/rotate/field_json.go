package main

import (
	"encoding/json"
	"io"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
)

// The JSON of rotate field census, verify and reencrypt, in the CLI's style
// (output.go): plain table and column names, key ids as 16 hex, durations in
// seconds (never nanoseconds), the document's own lists as [] rather than null.

// censusJSON is the --json document of rotate field census.
type censusJSON struct {
	Command string `json:"command"`
	// ColumnList: the census covers a --columns file, so "retirable" can be
	// true; for one --table it is always false (other tables may still
	// hold values under the key).
	ColumnList  bool                `json:"column_list"`
	Tables      []*pgstore.Census   `json:"tables"`
	Keys        []pgstore.KeyCensus `json:"keys"`
	Columns     int                 `json:"columns"`
	NotCurrent  int64               `json:"not_current"`
	HeadersOnly bool                `json:"headers_only"`
}

func censusDoc(command string, lc *pgstore.ListCensus, list bool) censusJSON {
	d := censusJSON{Command: command, ColumnList: list, Tables: lc.Tables, Keys: []pgstore.KeyCensus{}, Columns: lc.Columns,
		NotCurrent: lc.NotUpToDate(), HeadersOnly: true}
	for _, k := range lc.Keys {
		if !list {
			k.Retirable = false
		}
		d.Keys = append(d.Keys, k)
	}
	for _, t := range d.Tables {
		for i := range t.Columns {
			if t.Columns[i].Keys == nil {
				t.Columns[i].Keys = []pgstore.KeyCount{}
			}
		}
	}
	if d.Tables == nil {
		d.Tables = []*pgstore.Census{}
	}
	return d
}

// verifyJSON is the --json document of rotate field verify.
type verifyJSON struct {
	Command string                  `json:"command"`
	Tables  []*pgstore.VerifyReport `json:"tables"`
	OK      bool                    `json:"ok"`
}

// reencryptTable is one table's run of rotate field reencrypt.
type reencryptTable struct {
	Table          string             `json:"table"`
	DryRun         bool               `json:"dry_run"`
	Resumed        bool               `json:"resumed"`
	Total          int64              `json:"total"`
	Scanned        int64              `json:"scanned"`
	Rewrapped      int64              `json:"rewrapped"`
	UpToDate       int64              `json:"up_to_date"`
	Conflicts      int64              `json:"conflicts"`
	Unresolved     int64              `json:"unresolved"`
	Undecryptable  int64              `json:"undecryptable"`
	Failures       []pgstore.Failure  `json:"failures"`
	ElapsedSeconds float64            `json:"elapsed_seconds"`
	RowsPerSecond  float64            `json:"rows_per_second"`
	TakenOver      int64              `json:"taken_over"`
	Previous       []pgstore.KeyCount `json:"previous"` // each previous key with the values left under it here
	Census         *pgstore.Census    `json:"census,omitempty"`
	Summary        string             `json:"summary"`
}

func reencryptRow(t pgstore.Table, r *pgstore.Report) reencryptTable {
	name := t.Name
	if t.Schema != "" {
		name = t.Schema + "." + t.Name
	}
	row := reencryptTable{Table: name, DryRun: r.DryRun, Resumed: r.Resumed, Total: r.Total, Scanned: r.Scanned,
		Rewrapped: r.Rewrapped, UpToDate: r.UpToDate, Conflicts: r.Conflicts, Unresolved: r.Unresolved,
		Undecryptable: r.Undecryptable, Failures: r.Failures, ElapsedSeconds: r.Elapsed.Seconds(),
		RowsPerSecond: r.RowsPerSecond, TakenOver: r.TakenOver, Previous: r.Previous, Census: r.Census, Summary: r.Summary()}
	if row.Failures == nil {
		row.Failures = []pgstore.Failure{}
	}
	if row.Previous == nil {
		row.Previous = []pgstore.KeyCount{}
	}
	return row
}

// reencryptJSON is the --json document of rotate field reencrypt.
type reencryptJSON struct {
	Command string           `json:"command"`
	DryRun  bool             `json:"dry_run"`
	Primary fieldcrypt.KeyID `json:"primary_key_id"`
	Tables  []reencryptTable `json:"tables"`
	// Census is the census of every listed column after the run (with
	// --columns, not in a dry run).
	Census *censusJSON `json:"census,omitempty"`
	OK     bool        `json:"ok"`
}

// progressEvent is one line of the progress stream (--progress json): the
// counts so far, in the same style.
type progressEvent struct {
	Event          string            `json:"event"` // "progress"
	Total          int64             `json:"total"`
	Scanned        int64             `json:"scanned"`
	Rewrapped      int64             `json:"rewrapped"`
	UpToDate       int64             `json:"up_to_date"`
	Conflicts      int64             `json:"conflicts"`
	Unresolved     int64             `json:"unresolved"`
	Undecryptable  int64             `json:"undecryptable"`
	Failures       []pgstore.Failure `json:"failures,omitempty"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	RowsPerSecond  float64           `json:"rows_per_second"`
	ETASeconds     float64           `json:"eta_seconds"`
	TakenOver      int64             `json:"taken_over,omitempty"`
	Waiting        string            `json:"waiting,omitempty"`
	Done           bool              `json:"done"`
}

func newProgressEvent(p pgstore.Progress) progressEvent {
	return progressEvent{Event: "progress", Total: p.Total, Scanned: p.Scanned, Rewrapped: p.Rewrapped, UpToDate: p.UpToDate,
		Conflicts: p.Conflicts, Unresolved: p.Unresolved, Undecryptable: p.Undecryptable, Failures: p.Failures,
		ElapsedSeconds: p.Elapsed.Seconds(), RowsPerSecond: p.RowsPerSecond, ETASeconds: p.ETA.Seconds(),
		TakenOver: p.TakenOver, Waiting: p.Waiting, Done: p.Done}
}

// jsonLine writes v as one compact JSON line (the progress stream).
func jsonLine(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
