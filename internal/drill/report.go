// Package drill runs a whole rotation drill locally and writes the runbook's
// §8 drill report. It is what "rotate drill" runs.
//
// Without services every phase runs in-process: several API instances behind
// a round-robin client and a refresher through a staged JWT rotation, payment
// secret rotations with IPN retries signed by the old secret, and a field key
// rotation with re-encryption over an in-memory store. When Postgres or Redis
// is reachable it also rotates a real Postgres role under a live pgx pool
// (through PgBouncer when installed), re-encrypts a real table and flushes a
// real Redis prefix. A phase whose service is absent is reported as skipped,
// with the reason.
package drill

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Outcome is how a phase ended.
type Outcome string

// Phase outcomes.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
)

// Event is one timeline line.
type Event struct {
	At   time.Time
	Text string
}

// Fingerprint is a labelled secret fingerprint for the report.
type Fingerprint struct {
	Label string // e.g. "JWT_SECRET (new)"
	FP    string
}

// Phase is the record of one part of the drill.
type Phase struct {
	ID              string // "jwt", "field-pg", … (PhaseIDs)
	Name            string // "JWT staged rotation under load"
	Class           string // inventory class id: "jwt", "vnpay", …
	Outcome         Outcome
	Reason          string // why skipped or failed
	Started, Ended  time.Time
	Fingerprints    []Fingerprint
	Facts           []string // measured figures, one line each
	AuthErrors      int      // 401s seen by clients holding valid tokens
	PaymentFailures int      // callbacks refused that the provider signed
	Rollback        string   // "" when no rollback was exercised
	Learnings       []string
	events          []Event
	now             func() time.Time
}

// Event adds a timeline line at the current time.
func (p *Phase) Event(format string, args ...any) {
	p.events = append(p.events, Event{At: p.now(), Text: fmt.Sprintf(format, args...)})
}

// Fact records a measured figure.
func (p *Phase) Fact(format string, args ...any) {
	p.Facts = append(p.Facts, fmt.Sprintf(format, args...))
}

// Learn records a learning.
func (p *Phase) Learn(format string, args ...any) {
	p.Learnings = append(p.Learnings, fmt.Sprintf(format, args...))
}

// FP records a fingerprint.
func (p *Phase) FP(label, fp string) {
	p.Fingerprints = append(p.Fingerprints, Fingerprint{label, fp})
}

// Duration is how long the phase ran.
func (p *Phase) Duration() time.Duration { return p.Ended.Sub(p.Started) }

// Report is the whole drill.
type Report struct {
	Env            string
	By, Buddy      string
	Started, Ended time.Time
	Phases         []*Phase
	// Version is the tool's version ("" when unknown).
	Version string
	// Location is the zone the report's times are shown in (nil: local).
	Location *time.Location
}

// OK reports whether no phase failed.
func (r *Report) OK() bool {
	for _, p := range r.Phases {
		if p.Outcome == Failed {
			return false
		}
	}
	return true
}

// totals over the phases that ran.
func (r *Report) totals() (auth, payment int, rollbacks []string) {
	for _, p := range r.Phases {
		auth += p.AuthErrors
		payment += p.PaymentFailures
		if p.Rollback != "" {
			rollbacks = append(rollbacks, p.Name+": "+p.Rollback)
		}
	}
	return
}

// Markdown renders the report in the runbook's §8 template.
func (r *Report) Markdown() string {
	var b strings.Builder
	classes := map[string]bool{}
	for _, p := range r.Phases {
		if p.Outcome != Skipped {
			classes[p.Class] = true
		}
	}
	var cl []string
	for c := range classes {
		cl = append(cl, c)
	}
	sort.Strings(cl)
	loc := r.Location
	if loc == nil {
		loc = time.Local
	}
	zone, _ := r.Started.In(loc).Zone()
	hm := func(t time.Time) string { return t.In(loc).Format("15:04:05") + " " + zone }
	fmt.Fprintf(&b, "## Drill report — %s — %s — %s\n\n", strings.Join(cl, ", "), r.Env, r.Started.In(loc).Format("2006-01-02"))
	fmt.Fprintf(&b, "**Window:** %s–%s (%s)\n", r.Started.In(loc).Format("15:04:05"), hm(r.Ended), loc)
	version := r.Version
	if version == "" {
		version = "unknown"
	}
	fmt.Fprintf(&b, "**Tool:** %s\n", version)
	fmt.Fprintf(&b, "**Rotated by:** %s with buddy %s\n\n", r.By, r.Buddy)

	b.WriteString("### Timeline\n")
	var events []Event
	for _, p := range r.Phases {
		events = append(events, p.events...)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.Before(events[j].At) })
	for _, e := range events {
		fmt.Fprintf(&b, "- %s — %s\n", hm(e.At), e.Text)
	}
	fmt.Fprintf(&b, "- %s — Drill closed\n\n", hm(r.Ended))

	auth, pay, rollbacks := r.totals()
	b.WriteString("### Results\n")
	fmt.Fprintf(&b, "- Duration: %s\n", r.Ended.Sub(r.Started).Round(time.Millisecond))
	fmt.Fprintf(&b, "- Auth errors during rotation: %d\n", auth)
	fmt.Fprintf(&b, "- Payment failures: %d\n", pay)
	if len(rollbacks) == 0 {
		b.WriteString("- Rollback triggered: no\n")
	} else {
		b.WriteString("- Rollback exercised: " + strings.Join(rollbacks, "; ") + "\n")
	}
	var follow []string
	for _, p := range r.Phases {
		switch p.Outcome {
		case Failed:
			follow = append(follow, fmt.Sprintf("%s failed: %s", p.Name, p.Reason))
		case Skipped:
			follow = append(follow, fmt.Sprintf("%s skipped: %s", p.Name, p.Reason))
		}
	}
	if len(follow) == 0 {
		b.WriteString("- Follow-ups: none\n")
	} else {
		b.WriteString("- Follow-ups:\n")
		for _, f := range follow {
			b.WriteString("  - " + f + "\n")
		}
	}
	b.WriteString("\n### Phases\n")
	b.WriteString("| phase | class | outcome | duration | auth errors | payment failures |\n|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		d := "—"
		if p.Outcome != Skipped {
			d = p.Duration().Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d |\n", p.Name, p.Class, p.Outcome, d, p.AuthErrors, p.PaymentFailures)
	}
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "\n#### %s — %s\n", p.Name, p.Outcome)
		if p.Reason != "" {
			fmt.Fprintf(&b, "- Reason: %s\n", p.Reason)
		}
		for _, f := range p.Fingerprints {
			fmt.Fprintf(&b, "- Fingerprint %s: `%s`\n", f.Label, f.FP)
		}
		for _, f := range p.Facts {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	b.WriteString("\n### Learnings\n")
	n := 0
	for _, p := range r.Phases {
		for _, l := range p.Learnings {
			fmt.Fprintf(&b, "- %s\n", l)
			n++
		}
	}
	if n == 0 {
		b.WriteString("- …\n")
	}
	return b.String()
}
