package main

import (
	"github.com/goodgo/rotation/pgrole"
)

// The --json documents of rotate pg and rotate pgbouncer (style: output.go).
// Every statement is the reviewable SQL, verifiers redacted to their
// fingerprint; "database" is always named (the operator's database when the
// statement runs there).

// pgStatement is one SQL statement, planned or applied.
type pgStatement struct {
	Phase    string `json:"phase,omitempty"`
	Database string `json:"database"`
	SQL      string `json:"sql"`
}

type pgPhaseJSON struct {
	Phase      string        `json:"phase"`
	Statements []pgStatement `json:"statements"`
	Checks     []string      `json:"checks,omitempty"`
}

type pgPlanJSON struct {
	Command             string        `json:"command"`
	DryRun              bool          `json:"dry_run"`
	Strategy            string        `json:"strategy"`
	OldRole             string        `json:"old_role"`
	NewRole             string        `json:"new_role"`
	StableRole          string        `json:"stable_role,omitempty"`
	Retire              string        `json:"retire,omitempty"`
	ReassignTo          string        `json:"reassign_to,omitempty"`
	Incident            bool          `json:"incident"`
	ServerVersion       int           `json:"server_version"`
	AdminDatabase       string        `json:"admin_database"`
	VerifierFingerprint string        `json:"verifier_fingerprint"`
	CatalogDigest       string        `json:"catalog_digest,omitempty"` // 16 hex, as printed after "plan written to"
	Phases              []pgPhaseJSON `json:"phases"`
	Notes               []string      `json:"notes,omitempty"`
	PlanFile            string        `json:"plan_file,omitempty"`
}

func pgPlanDoc(command string, p *pgrole.Plan, dryRun bool) pgPlanJSON {
	j := pgPlanJSON{Command: command, DryRun: dryRun, Strategy: string(p.Strategy), OldRole: p.Old, NewRole: p.New, StableRole: p.Stable,
		Retire: string(p.Retire), ReassignTo: p.ReassignTo, Incident: p.Incident, ServerVersion: p.ServerVersion,
		AdminDatabase: p.AdminDatabase, VerifierFingerprint: p.Verifier().Fingerprint(), Notes: p.Notes, Phases: []pgPhaseJSON{}}
	if d := p.CatalogDigest(); len(d) >= 16 {
		j.CatalogDigest = d[:16] // as the human output prints it
	}
	for _, ph := range p.Phases {
		pj := pgPhaseJSON{Phase: string(ph.Name), Statements: []pgStatement{}, Checks: ph.Checks}
		for _, s := range ph.Steps {
			pj.Statements = append(pj.Statements, pgStatement{Database: dbName(s.Database, p.AdminDatabase), SQL: s.SQL})
		}
		j.Phases = append(j.Phases, pj)
	}
	return j
}

// dbName is db, or the operator's database for "".
func dbName(db, admin string) string {
	if db == "" {
		return admin
	}
	return db
}

// pgSteps turns steps not yet run (a dry run's) into JSON rows.
func pgSteps(admin string, steps []pgrole.Step) []pgStatement {
	rows := []pgStatement{}
	for _, s := range steps {
		rows = append(rows, pgStatement{Database: dbName(s.Database, admin), SQL: s.SQL})
	}
	return rows
}

// pgApplied turns applied statements into JSON rows (never nil, so the
// key prints as [] when nothing ran).
func pgApplied(rows []pgStatement, phase string, admin string, applied []pgrole.Applied) []pgStatement {
	if rows == nil {
		rows = []pgStatement{}
	}
	for _, a := range applied {
		rows = append(rows, pgStatement{Phase: phase, Database: dbName(a.Database, admin), SQL: a.SQL})
	}
	return rows
}
