package main

import (
	"fmt"
	"time"
)

// zone is the one time zone every output of the CLI uses: --tz (a global
// flag) or ROTATE_TZ, an IANA name such as Asia/Ho_Chi_Minh or UTC; the
// machine's local zone by default. Every printed time carries the zone's
// abbreviation, and output headers name the zone, so an operator in one zone
// and a ticket read in another agree.
func (e *Env) zone() (*time.Location, error) {
	name := firstNonEmpty(e.tz, e.getenv("ROTATE_TZ"))
	if name == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q (--tz / ROTATE_TZ): want an IANA name such as Asia/Ho_Chi_Minh or UTC", name)
	}
	return loc, nil
}

// timeLayout is how the CLI prints a time for people: minutes and the zone's
// abbreviation (or its offset when it has none).
const timeLayout = "2006-01-02 15:04 MST"

// zoneLabel names loc for a header: "Asia/Ho_Chi_Minh (+07)".
func zoneLabel(loc *time.Location, at time.Time) string {
	abbr, _ := at.In(loc).Zone()
	if loc == time.Local {
		return "local time (" + abbr + ")"
	}
	if loc.String() == abbr {
		return abbr
	}
	return loc.String() + " (" + abbr + ")"
}

// fmtTimeSeconds is fmtTime to the second, for deadlines a minute would
// misstate (a payment secret's window closing at 08:59:59).
func (e *Env) fmtTimeSeconds(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc, err := e.zone()
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}
