package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "inventory", summary: "check the environment against the runbook's secret inventory", run: runInventory})
}

func runInventory(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "inventory", "rotate inventory [--class id,...] [--dir DIR] [--json | -o json]\n\n"+
		"Checks every secret variable of the runbook's §1 inventory: set or missing, valid or\n"+
		"why not, and its fingerprint. Exit 1 when a required secret is missing or invalid.")
	only := fs.String("class", "", "comma-separated class ids to check (default: all)")
	dir := fs.String("dir", "", "read secrets from files in this directory instead of the environment")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	classes := secretenv.Inventory()
	if *only != "" {
		var picked []secretenv.Class
		for _, id := range strings.Split(*only, ",") {
			c, ok := secretenv.LookupClass(strings.TrimSpace(id))
			if !ok {
				fmt.Fprintf(env.Stderr, "rotate inventory: unknown class %q (known: %s)\n", id, classIDs())
				return exitUsage
			}
			picked = append(picked, c)
		}
		classes = picked
	}
	src := env.Vars
	if *dir != "" {
		// A mistyped directory would otherwise report every secret MISSING.
		if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
			fmt.Fprintf(env.Stderr, "rotate inventory: --dir %q is not a readable directory\n", *dir)
			return exitUsage
		}
		src = secretenv.Dir(*dir)
	}
	findings := secretenv.Check(src, classes)
	failed := false
	for _, f := range findings {
		failed = failed || !f.OK()
	}
	if of.json(env) {
		type row struct {
			Class        string   `json:"class"`
			Var          string   `json:"variable"`
			Required     bool     `json:"required"`
			Set          bool     `json:"set"`
			Valid        bool     `json:"valid"`
			Problem      string   `json:"problem,omitempty"`
			Fingerprints []string `json:"fingerprints,omitempty"`
			Until        string   `json:"accepted_until,omitempty"`
		}
		rows := make([]row, 0, len(findings))
		for _, f := range findings {
			r := row{Class: f.Class, Var: f.Var, Required: f.Required, Set: f.Set, Valid: f.OK() && f.Set, Fingerprints: f.Fingerprints}
			if f.Err != nil {
				r.Problem = problem(f.Err)
			}
			if !f.Until.IsZero() {
				r.Until = f.Until.UTC().Format(time.RFC3339)
			}
			rows = append(rows, r)
		}
		writeJSON(env.Stdout, rows)
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLASS\tVARIABLE\tSTATE\tFINGERPRINT\tPROBLEM")
		for _, f := range findings {
			state := "ok"
			switch {
			case f.Err != nil && !f.Set:
				state = "MISSING"
			case f.Err != nil:
				state = "INVALID"
			case !f.Set:
				state = "unset"
			}
			p := ""
			if f.Err != nil {
				p = problem(f.Err)
			}
			fps := strings.Join(f.Fingerprints, ",")
			if !f.Until.IsZero() {
				fps += " (accepted until " + env.fmtTime(f.Until) + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Class, f.Var, state, fps, p)
		}
		_ = tw.Flush()
	}
	if failed {
		return exitCheck
	}
	return exitOK
}

// problem renders a finding's error without the variable name, which the
// table already shows.
func problem(err error) string {
	var e *secretenv.Error
	if errors.As(err, &e) {
		s := e.Err.Error()
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		if e.Other != "" {
			s += " (also in " + e.Other + ")"
		}
		return s
	}
	return err.Error()
}

func classIDs() string {
	var ids []string
	for _, c := range secretenv.Inventory() {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}
