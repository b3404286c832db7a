package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goodgo/rotation/pgrole"
)

// pgStatusJSON is the --json document of rotate pg status.
type pgStatusJSON struct {
	Command   string   `json:"command"`
	Role      string   `json:"role"`
	Sessions  int      `json:"sessions"`
	Databases []string `json:"databases"`
	// Rotation is the unfinished rotation of Role, absent when there is none.
	Rotation *pgRotationJSON `json:"rotation,omitempty"`
	// RetiredAt: Role no longer exists and the history records its
	// rotation as retired then (absent otherwise).
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	Next      string     `json:"next"`
}

type pgRotationJSON struct {
	NewRole             string     `json:"new_role"`
	Strategy            string     `json:"strategy"`
	StartedAt           *time.Time `json:"started_at,omitempty"`
	VerifierFingerprint string     `json:"verifier_fingerprint"`
	NewRoleSessions     int        `json:"new_role_sessions"`
	Missing             int        `json:"missing"` // privileges of the old role the new one lacks
	CutoverAllowed      bool       `json:"cutover_allowed"`
	// Database holds the record (rotation.pgrole_state).
	Database string `json:"database"`
	// RetireStarted: a retire began and did not finish.
	RetireStarted bool `json:"retire_started,omitempty"`
}

// pgStatus reports, without changing anything, where the rotation of a
// login role stands: its sessions, the unfinished rotation recorded by
// apply (new role, strategy, start, verifier fingerprint), the new role's
// sessions, whether the privilege diff allows cutover, and the next step.
func pgStatus(ctx context.Context, env *Env, args []string) int {
	var adminFile, role string
	fs := newFlags(env, "pg status", "rotate pg status --role NAME [--json]\n\n"+
		"Where the rotation of a login role stands, changing nothing: its sessions, the unfinished\n"+
		"rotation apply recorded (new role, strategy, start, verifier fingerprint), the new role's\n"+
		"sessions, whether the privilege diff allows cutover, and the next command to run.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the login role in use (the old one during a rotation; required)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if role == "" {
		return missingFlag(fs, "role")
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	asJSON := of.json(env)
	adm, code := connectPG(ctx, env, adminFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	n, dbs, err := adm.Sessions(ctx, role)
	if errors.Is(err, pgrole.ErrRoleNotFound) {
		// Dropped by a retire: say so, from the history, not "not found".
		if at, ok, herr := adm.Retired(ctx, role); herr == nil && ok {
			doc := pgStatusJSON{Command: "pg status", Role: role, Databases: []string{}, RetiredAt: utcPtr(at),
				Next: "none for " + role + " (the next rotation starts from the login role that replaced it)"}
			if asJSON {
				writeJSON(env.Stdout, doc)
			} else {
				fmt.Fprintf(env.Stdout, "role %s was retired (dropped, %s): its rotation is finished\nnext: %s\n", role, env.fmtTime(at), doc.Next)
			}
			return exitOK
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg status: %v\n", err)
		return codeFor(err)
	}
	st, err := adm.Rotation(ctx, role)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg status: %v\n", err)
		return exitCheck
	}
	doc := pgStatusJSON{Command: "pg status", Role: role, Sessions: n, Databases: []string{}, Next: "rotate pg plan --role " + role + " --password-file pw (no rotation in progress; pw holds the new password: rotate keygen db --out pw)"}
	if dbs != nil {
		doc.Databases = dbs
	}
	if st == nil {
		// The alternate strategy's stable role: the next rotation starts
		// from the login role in use, not from the stable role (which
		// would leave that login role's password valid).
		if ms, err := adm.LoginMembers(ctx, role); err == nil && len(ms) > 0 {
			doc.Next = "rotate pg plan --role " + ms[0] + " --password-file pw (no rotation in progress; " + role + " is the stable role of " + strings.Join(ms, ", ") + ": rotate the login role in use; pw holds the new password: rotate keygen db --out pw)"
		}
	}
	if st != nil && st.Elsewhere(adm.Database()) {
		// Recorded in another database: only that connection can continue it.
		doc.Rotation = &pgRotationJSON{NewRole: st.New, Database: st.Database}
		doc.Next = "connect to database " + st.Database + " (DATABASE_URL naming it), then rotate pg status --role " + role
	} else if st != nil {
		rj := &pgRotationJSON{Database: st.Database, RetireStarted: st.RetireStarted, NewRole: st.New, Strategy: string(st.Strategy), StartedAt: utcPtr(st.Started), VerifierFingerprint: st.Verifier.Fingerprint()}
		if rj.NewRoleSessions, _, err = adm.Sessions(ctx, st.New); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg status: new role %s: %v (rotate pg apply --role %s --resume, or rotate pg rollback --role %s)\n", st.New, err, role, role)
			return exitCheck
		}
		ms, err := adm.Diff(ctx, role, st.New)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg status: %v\n", err)
			return exitCheck
		}
		rj.Missing, rj.CutoverAllowed = len(ms), len(ms) == 0
		doc.Rotation = rj
		switch {
		case st.RetireStarted:
			// A retire ran partway (killed, or refused midway): the old
			// role may be stripped already, so the diff is no guide; the
			// retire repeats safely.
			doc.Next = retireCommand(role, st) + " (a retire of " + role + " began and did not finish: run it again)"
		case !rj.CutoverAllowed:
			doc.Next = "rotate pg apply --role " + role + " --resume (the new role lacks privileges), or rotate pg rollback --role " + role
		case n > 0:
			doc.Next = "cut over to " + st.New + ", then rotate pg drain --role " + role
		default:
			// No session now is not proof of cutover (an idle service).
			doc.Next = "cut over to " + st.New + " if not done, then rotate pg drain --role " + role + " and " + retireCommand(role, st) + " (no session of " + role + " now)"
		}
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
		return exitOK
	}
	if len(dbs) == 0 {
		fmt.Fprintf(env.Stdout, "role %s: %d session(s)\n", role, n)
	} else {
		fmt.Fprintf(env.Stdout, "role %s: %d session(s) in %s\n", role, n, strings.Join(dbs, " "))
	}
	if r := doc.Rotation; r == nil {
		fmt.Fprintln(env.Stdout, "no unfinished rotation is recorded")
	} else if st.Elsewhere(adm.Database()) {
		fmt.Fprintf(env.Stdout, "unfinished rotation: %s -> %s, recorded in database %s (not %s, this connection's)\n", role, r.NewRole, st.Database, adm.Database())
	} else {
		fmt.Fprintf(env.Stdout, "unfinished rotation: %s -> %s (%s), started %s, verifier fp=%s\n", role, r.NewRole, r.Strategy, env.fmtTime(st.Started), r.VerifierFingerprint)
		diff := "privilege diff empty: cutover allowed"
		if !r.CutoverAllowed {
			diff = fmt.Sprintf("lacks %d privilege(s) of %s: cutover refused (rotate pg verify --old %s --new %s lists them)", r.Missing, role, role, r.NewRole)
		}
		fmt.Fprintf(env.Stdout, "new role %s: %d session(s); %s\n", r.NewRole, r.NewRoleSessions, diff)
	}
	fmt.Fprintf(env.Stdout, "next: %s\n", doc.Next)
	return exitOK
}
