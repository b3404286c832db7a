package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goodgo/rotation/jwtkeys"
)

// The fleet check (issue 13 point 7): every instance serves what it has
// loaded (jwtkeys.LiveKeyring.FleetHandler, on an internal port); the CLI reads all
// of them and compares with the secrets it is about to change. An instance
// is in sync when, for every ring checked, each slot holds the same
// fingerprints as the local source: before promotion that means it has
// loaded the staged next key; after promotion, that it signs with the new
// key (its current slot) and no longer with the old one.

func init() {
	jwtSubs["fleet"] = command{name: "fleet", summary: "confirm every instance has loaded the keys in --dir (before promote, after promote)", run: runJWTFleet}
}

// fleetFlags are the flags naming the instances.
type fleetFlags struct {
	file    *string
	urls    *string
	timeout *time.Duration
}

func addFleetFlags(fs *flag.FlagSet, name string) fleetFlags {
	return fleetFlags{
		file:    fs.String(name+"-file", "", "file listing the instances' fleet URLs, one per line (# comments)"),
		urls:    fs.String(name, "", "comma-separated fleet URLs of every instance (their FleetHandler on the internal port)"),
		timeout: fs.Duration(name+"-timeout", 5*time.Second, "how long to wait for each instance"),
	}
}

// list returns the URLs given by the flags plus args.
func (f fleetFlags) list(args []string) ([]string, error) {
	var urls []string
	if *f.urls != "" {
		urls = append(urls, strings.Split(*f.urls, ",")...)
	}
	urls = append(urls, args...)
	if *f.file != "" {
		fromFile, err := readURLList(*f.file)
		if err != nil {
			return nil, err
		}
		urls = append(urls, fromFile...)
	}
	seen := map[string]bool{}
	out := urls[:0]
	for _, u := range urls {
		u = strings.TrimSpace(u)
		if u == "" || seen[u] {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("fleet URL %q: want http(s)://host:port/path", u)
		}
		if p.User != nil {
			return nil, fmt.Errorf("fleet URL %q: carries user info; the fleet endpoint needs none", p.Redacted())
		}
		seen[u] = true
		out = append(out, u)
	}
	return out, nil
}

func readURLList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		// An empty list is a mistake (a truncated file, the wrong one), not
		// "no flag given": say which file.
		return nil, fmt.Errorf("%s lists no instance URL (one per line, # comments)", path)
	}
	return out, nil
}

// fleetWant is the expected fingerprints per ring and slot ("" entries are
// not allowed: an empty slot is an absent key in the map's list).
type fleetWant map[string]map[string][]string // ring → slot → sorted fingerprints

func (w fleetWant) add(ring, slot, fp string) {
	if w[ring] == nil {
		w[ring] = map[string][]string{}
	}
	if fp != "" {
		w[ring][slot] = append(w[ring][slot], fp)
		sort.Strings(w[ring][slot])
	} else if w[ring][slot] == nil {
		w[ring][slot] = []string{}
	}
}

// jwtWant is what every instance must have loaded for keys.
func jwtWant(keys *jwtkeys.LiveKeyring) fleetWant {
	w := fleetWant{}
	for _, s := range keys.Slots() {
		w.add(s.Ring.String(), s.Slot.String(), s.Fingerprint)
	}
	return w
}

// instanceState is one instance's answer and how it differs.
type instanceState struct {
	URL    string               `json:"url"`
	InSync bool                 `json:"in_sync"`
	Error  string               `json:"error,omitempty"`
	Diffs  []slotDiff           `json:"differences,omitempty"`
	Report *jwtkeys.FleetReport `json:"loaded,omitempty"`
}

// slotDiff is one slot whose fingerprints differ from the expected ones.
type slotDiff struct {
	Ring string   `json:"ring"`
	Slot string   `json:"slot"`
	Has  []string `json:"has"`
	Want []string `json:"want"`
}

func (d slotDiff) String() string {
	show := func(fps []string) string {
		if len(fps) == 0 {
			return "-"
		}
		return strings.Join(fps, ",")
	}
	return fmt.Sprintf("%s %s is %s, want %s", d.Ring, d.Slot, show(d.Has), show(d.Want))
}

// fleetCheck asks every instance (concurrently) and compares.
func fleetCheck(ctx context.Context, urls []string, want fleetWant, timeout time.Duration) []instanceState {
	out := make([]instanceState, len(urls))
	client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := instanceState{URL: u}
			rep, err := fetchFleetReport(ctx, client, u)
			if err != nil {
				st.Error = err.Error()
			} else {
				st.Report = rep
				st.Diffs = compareFleet(rep, want)
				st.InSync = len(st.Diffs) == 0
			}
			out[i] = st
		}()
	}
	wg.Wait()
	return out
}

func fetchFleetReport(ctx context.Context, c *http.Client, u string) (*jwtkeys.FleetReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("unreachable: %s", oneLine(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var rep jwtkeys.FleetReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rep); err != nil {
		return nil, errors.New("not a fleet report (is this the instance's FleetHandler?)")
	}
	return &rep, nil
}

func compareFleet(rep *jwtkeys.FleetReport, want fleetWant) []slotDiff {
	has := fleetWant{}
	for _, s := range rep.Slots {
		if _, checked := want[s.Ring]; checked {
			has.add(s.Ring, s.Slot.String(), s.Fingerprint)
		}
	}
	var diffs []slotDiff
	rings := make([]string, 0, len(want))
	for r := range want {
		rings = append(rings, r)
	}
	sort.Strings(rings)
	for _, r := range rings {
		for _, slot := range []string{"next", "current", "previous"} {
			w, ok := want[r][slot]
			if !ok {
				continue
			}
			h := has[r][slot]
			if strings.Join(h, ",") != strings.Join(w, ",") {
				diffs = append(diffs, slotDiff{Ring: r, Slot: slot, Has: nonNil(h), Want: nonNil(w)})
			}
		}
	}
	return diffs
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// printFleet prints the states and returns the laggards' URLs.
func printFleet(w io.Writer, states []instanceState) (lagging []string) {
	for _, s := range states {
		switch {
		case s.Error != "":
			fmt.Fprintf(w, "  %s: LAGGING: %s\n", s.URL, s.Error)
		case !s.InSync:
			parts := make([]string, len(s.Diffs))
			for i, d := range s.Diffs {
				parts[i] = d.String()
			}
			fmt.Fprintf(w, "  %s: LAGGING: %s\n", s.URL, strings.Join(parts, "; "))
		default:
			fmt.Fprintf(w, "  %s: in sync\n", s.URL)
		}
		if !s.InSync {
			lagging = append(lagging, s.URL)
		}
	}
	if len(lagging) == 0 {
		fmt.Fprintf(w, "all %d instances in sync\n", len(states))
	} else {
		fmt.Fprintf(w, "%d of %d instances lagging: %s\n", len(lagging), len(states), strings.Join(lagging, " "))
	}
	return lagging
}

// fleetJSON is the JSON form of a fleet check.
type fleetJSON struct {
	InSync    bool            `json:"in_sync"`
	Expected  fleetWant       `json:"expected"`
	Instances []instanceState `json:"instances"`
	Lagging   []string        `json:"lagging"`
}

func runJWTFleet(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "jwt fleet", "rotate jwt fleet [--dir DIR] [--json] URL... | --file F\n\n"+
		"Reads what every instance has loaded (the JSON of jwtkeys' FleetHandler on its internal port) and\n"+
		"compares it with the keys in --dir (or the environment): each ring's next, current and previous\n"+
		"fingerprints must match. Run it after \"jwt stage\" (every instance has loaded NEXT: promotion is\n"+
		"safe) and after \"jwt promote\" (no instance still signs with the old key).\n"+
		"Exit 0 when every instance is in sync, 1 listing the laggards (unreachable ones included).")
	kf := addKeyringFlags(fs)
	file := fs.String("file", "", "file listing the fleet URLs, one per line (# comments)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for each instance")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	empty := ""
	urls, err := fleetFlags{file: file, urls: &empty, timeout: timeout}.list(fs.Args())
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt fleet: %v\n", err)
		return exitUsage
	}
	if len(urls) == 0 {
		fmt.Fprintln(env.Stderr, "rotate jwt fleet: no instances: give their fleet URLs as arguments or --file F")
		return exitUsage
	}
	keys, err := kf.open(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate jwt fleet: %v\n", err)
		return exitCheck
	}
	want := jwtWant(keys)
	states := fleetCheck(ctx, urls, want, *timeout)
	var lagging []string
	for _, s := range states {
		if !s.InSync {
			lagging = append(lagging, s.URL)
		}
	}
	if of.json(env) {
		writeJSON(env.Stdout, fleetJSON{InSync: len(lagging) == 0, Expected: want, Instances: states, Lagging: nonNil(lagging)})
	} else {
		fmt.Fprintf(env.Stdout, "expecting %s\n", describeWant(want))
		printFleet(env.Stdout, states)
	}
	if len(lagging) > 0 {
		return exitCheck
	}
	return exitOK
}

// describeWant is "access next=… current=… previous=-; refresh …".
func describeWant(w fleetWant) string {
	rings := make([]string, 0, len(w))
	for r := range w {
		rings = append(rings, r)
	}
	sort.Strings(rings)
	var parts []string
	for _, r := range rings {
		p := r
		for _, slot := range []string{"next", "current", "previous"} {
			if fps, ok := w[r][slot]; ok {
				v := "-"
				if len(fps) > 0 {
					v = strings.Join(fps, ",")
				}
				p += " " + slot + "=" + v
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
