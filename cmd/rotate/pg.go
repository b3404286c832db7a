package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/pgrole"
	"github.com/goodgo/rotation/pgrole/pgbouncer"
	"github.com/goodgo/rotation/pgrole/scram"
)

func init() {
	register(command{name: "pg", summary: "Postgres login-role rotation: plan, apply, verify, drain, retire, rollback, status", run: runPG})
	register(command{name: "pgbouncer", summary: "PgBouncer userlist entries and RELOAD for a rotated role", run: runPgBouncer})
}

func runPG(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "pg", args, map[string]command{
		"plan":     {name: "plan", summary: "print the rotation plan as SQL (password redacted)", run: pgPlan},
		"apply":    {name: "apply", summary: "run create, grant and verify (or one --phase)", run: pgApply},
		"verify":   {name: "verify", summary: "privilege diff old → new; exit 1 unless empty", run: pgVerify},
		"drain":    {name: "drain", summary: "wait until the old role has no sessions (--incident terminates)", run: pgDrain},
		"retire":   {name: "retire", summary: "break-glass, nologin or drop the old role", run: pgRetire},
		"rollback": {name: "rollback", summary: "undo an unfinished rotation before retire: drain and drop the new role", run: pgRollback},
		"status":   {name: "status", summary: "where a role's rotation stands: sessions, unfinished rotation, cutover allowed, next step", run: pgStatus},
	})
}

func runPgBouncer(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "pgbouncer", args, map[string]command{
		"userlist": {name: "userlist", summary: "put a role's stored verifier into userlist.txt (atomic)", run: bouncerUserlist},
		"reload":   {name: "reload", summary: "RELOAD, confirm users with SHOW USERS, optional RECONNECT", run: bouncerReload},
	})
}

// pgFlags are shared by plan and apply.
type pgFlags struct {
	adminURLFile, role, strategy, stable, newRole, retire, reassign, passwordFile, validUntil string
	incident, resume                                                                          bool
}

// register adds the flags apply uses; registerRetire the ones only the
// whole plan (its drain and retire phases) uses.
func (f *pgFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.adminURLFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&f.role, "role", "", "the login role in use now (required)")
	fs.StringVar(&f.strategy, "strategy", "", "alternate or mirror (default alternate; with --resume the recorded one)")
	fs.StringVar(&f.stable, "stable", "", "alternate: the stable role (default: base of --role)")
	fs.StringVar(&f.newRole, "new", "", "new login role name (default: next by alternation)")
	fs.StringVar(&f.passwordFile, "password-file", "", "file holding the new password (default: read stdin)")
	fs.BoolVar(&f.resume, "resume", false, "continue the unfinished rotation of --role (its recorded new role and verifier; no password needed)")
	fs.StringVar(&f.validUntil, "valid-until", "", "the new password's expiry (VALID UNTIL): RFC 3339 time or infinity (default: the old role's, refused once passed)")
}

func (f *pgFlags) registerRetire(fs *flag.FlagSet) {
	fs.StringVar(&f.retire, "retire", "", "break-glass, nologin or drop (default depends on the strategy)")
	fs.StringVar(&f.reassign, "reassign-to", "", "drop: role receiving what the old role owns")
	fs.BoolVar(&f.incident, "incident", false, "incident mode (§5.5): terminate the old role's sessions")
}

// The operator DSN (a superuser) comes from $DATABASE_URL or a file named by
// --database-url-file, the same flag as in "rotate field" and "rotate drill".
const (
	dsnFileFlag  = "database-url-file"
	dsnFileUsage = "file holding the operator (superuser) DSN (default: $DATABASE_URL)"
)

func adminDSN(env *Env, file string) (string, error) {
	if file != "" {
		b, err := readFileSecret(file)
		if err != nil {
			return "", fmt.Errorf("admin DSN: %w", err)
		}
		return string(b), nil
	}
	if v := env.getenv("DATABASE_URL"); v != "" {
		return v, nil
	}
	return "", errors.New("no operator DSN: set DATABASE_URL or pass --database-url-file")
}

func connectPG(ctx context.Context, env *Env, file string) (*pgrole.Admin, int) {
	dsn, err := adminDSN(env, file)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		return nil, exitUsage
	}
	adm, err := pgrole.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		return nil, exitCheck
	}
	return adm, exitOK
}

func readPassword(env *Env, file string) (fingerprint.Secret, error) {
	var b []byte
	var err error
	if file != "" {
		b, err = readFileSecret(file)
	} else {
		b, err = readSecret(env, "new password: ", false)
	}
	if err != nil {
		return fingerprint.Secret{}, fmt.Errorf("new password: %w", err)
	}
	return fingerprint.NewSecret(b), nil
}

// usage checks what needs no connection; it reports and returns false on
// bad usage.
func (f *pgFlags) usage(env *Env, fs *flag.FlagSet) bool {
	if f.role == "" {
		missingFlag(fs, "role")
		return false
	}
	if fs.NArg() != 0 {
		// Not echoed: it may be the password itself.
		fmt.Fprintln(env.Stderr, "rotate pg: unexpected argument: the new password is read from stdin or --password-file, never argv")
		return false
	}
	return true
}

func (f *pgFlags) plan(ctx context.Context, env *Env, adm *pgrole.Admin) (*pgrole.Plan, int) {
	pw, err := readPassword(env, f.passwordFile)
	// A resumed rotation uses the verifier it recorded: no password is
	// needed; one given is checked against it.
	noPassword := f.resume && f.passwordFile == "" && errors.Is(err, ErrEmptySecret)
	if err != nil && !noPassword {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		return nil, exitUsage
	}
	var v scram.Verifier
	if !noPassword {
		if v, err = scram.New(pw, scram.Options{}); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
			return nil, exitUsage
		}
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.role, Strategy: pgrole.Strategy(f.strategy), Stable: f.stable, New: f.newRole,
		Verifier: v, Retire: pgrole.RetireMode(f.retire), ReassignTo: f.reassign, Incident: f.incident, Resume: f.resume, ValidUntil: f.validUntil})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		if errors.Is(err, pgrole.ErrRotationInProgress) {
			if st, _ := adm.Rotation(ctx, f.role); st != nil && !st.Elsewhere(adm.Database()) {
				fmt.Fprintf(env.Stderr, "rotate pg: refused, nothing changed; to continue it: rotate pg apply --role %s --resume (or undo it: rotate pg rollback --role %s)\n", f.role, f.role)
			}
		}
		if noPassword && errors.Is(err, pgrole.ErrBadPlan) && strings.Contains(err.Error(), "no verifier") {
			fmt.Fprintln(env.Stderr, "rotate pg: --resume: no rotation of this role is recorded, so its password is needed (stdin or --password-file)")
		}
		return nil, codeFor(err)
	}
	if f.resume && noPassword {
		fmt.Fprintf(env.Stderr, "rotate pg: resuming the rotation %s -> %s with its recorded verifier fp=%s (no password given, none needed)\n", p.Old, p.New, p.Verifier().Fingerprint())
	} else if f.resume {
		// The plan reuses the verifier the interrupted rotation recorded:
		// the password given now must be the one it was made from.
		if !p.Verifier().Matches(pw) {
			fmt.Fprintf(env.Stderr, "rotate pg: --resume: this password is not the one the unfinished rotation to %s was started with (verifier fp=%s); give that one\n", p.New, p.Verifier().Fingerprint())
			return nil, exitUsage
		}
		fmt.Fprintf(env.Stderr, "rotate pg: resuming the rotation %s -> %s with its recorded verifier fp=%s\n", p.Old, p.New, p.Verifier().Fingerprint())
	}
	return p, exitOK
}

// codeFor maps refusals caused by the input to exit 2, others to 1.
func codeFor(err error) int {
	for _, e := range []error{pgrole.ErrInvalidName, pgrole.ErrNameTooLong, pgrole.ErrBadPlan} {
		if errors.Is(err, e) {
			return exitUsage
		}
	}
	return exitCheck
}

func pgPlan(ctx context.Context, env *Env, args []string) int {
	var f pgFlags
	fs := newFlags(env, "pg plan", "rotate pg plan --role NAME [--strategy alternate|mirror] [flags] < new-password\n\n"+
		"Introspects the role and prints the plan: SQL per phase and database, checks between phases,\n"+
		"passwords redacted. The new password is read from stdin or --password-file, never argv.")
	f.register(fs)
	f.registerRetire(fs)
	out := fs.String("out", "", "also write the plan to this new file (0600; verifier, never the password) for rotate pg apply FILE")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs) {
		return exitUsage
	}
	asJSON := of.json(env)
	adm, code := connectPG(ctx, env, f.adminURLFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	p, code := f.plan(ctx, env, adm)
	if p == nil {
		return code
	}
	if *out != "" {
		if err := pgrole.CreatePlanFile(*out, p); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg plan: %v\n", err)
			return exitCheck
		}
	}
	if w := p.OwnerWarning(); w != "" {
		fmt.Fprintf(env.Stderr, "rotate pg plan: warning: %s\n", w)
	}
	if asJSON {
		doc := pgPlanDoc("pg plan", p, true)
		doc.PlanFile = *out
		writeJSON(env.Stdout, doc)
		return exitOK
	}
	fmt.Fprint(env.Stdout, p.Render())
	if *out != "" {
		fmt.Fprintf(env.Stdout, "-- plan written to %s (verifier fp=%s, catalog digest %.16s); apply exactly it: rotate pg apply %s\n",
			*out, p.Verifier().Fingerprint(), p.CatalogDigest(), *out)
	}
	return exitOK
}

func pgApply(ctx context.Context, env *Env, args []string) int {
	var f pgFlags
	var phase, userlist string
	fs := newFlags(env, "pg apply", "rotate pg apply --role NAME [--phase create|grant|verify] [--userlist PATH] [--dry-run] [flags] < new-password\n"+
		"rotate pg apply [--phase …] [--userlist PATH] [--dry-run] PLAN-FILE\n\n"+
		"Runs create, grant and verify (cutover is yours: point the applications at the new role),\n"+
		"printing every statement committed. With --userlist, the new role's verifier is added to it.\n"+
		"With PLAN-FILE (from rotate pg plan --out) it runs exactly that plan, with its verifier, once:\n"+
		"refused if the catalog changed since, if the file was edited or if it was applied before; no\n"+
		"password is read. --resume continues the unfinished rotation of --role with its recorded\n"+
		"verifier (no password needed). --dry-run prints the statements of the phases it would run\n"+
		"(as rotate pg plan) and changes nothing.")
	f.register(fs)
	fs.StringVar(&phase, "phase", "", "run only this phase (grant and verify need --resume --new ROLE)")
	fs.StringVar(&userlist, "userlist", "", "PgBouncer userlist.txt to add the new role to (then run rotate pgbouncer reload)")
	allowLogged := fs.Bool("allow-verifier-in-log", false, "send the verifier even if the server's logging settings would record it (default: refuse)")
	dryRun := fs.Bool("dry-run", false, "print the statements it would run and change nothing")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	planPath := ""
	if fs.NArg() == 1 && f.role == "" {
		planPath = fs.Arg(0)
		if f.resume {
			// A plan file is applied once, as written: an interrupted one
			// is continued from its recorded rotation, by role.
			role := planFileRole(planPath)
			if role == "" {
				role = "ROLE"
			}
			fmt.Fprintf(env.Stderr, "rotate pg apply: --resume does not go with a PLAN-FILE (a plan file is applied once, as written); to continue the rotation it started: rotate pg apply --role %s --resume\n", role)
			return exitUsage
		}
	} else if !f.usage(env, fs) {
		return exitUsage
	}
	asJSON := of.json(env)
	phases := []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify}
	switch pgrole.PhaseName(phase) {
	case "":
	case pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify:
		phases = []pgrole.PhaseName{pgrole.PhaseName(phase)}
		// Without --resume the plan picks the next free login name, which is
		// not the role an earlier "--phase create" made.
		if phase != string(pgrole.PhaseCreate) && planPath == "" && (!f.resume || f.newRole == "") {
			fmt.Fprintf(env.Stderr, "rotate pg apply: --phase %s continues a rotation: add --resume --new <the role --phase create made>\n", phase)
			return exitUsage
		}
		// Only the create phase sets the verifier --userlist would write;
		// otherwise it would carry another salt than the server's.
		if phase != string(pgrole.PhaseCreate) && userlist != "" {
			fmt.Fprintf(env.Stderr, "rotate pg apply: --userlist needs the create phase; use rotate pgbouncer userlist --user %s (copies the stored verifier)\n", f.newRole)
			return exitUsage
		}
	default:
		fmt.Fprintf(env.Stderr, "rotate pg apply: --phase %q: use create, grant or verify (then rotate pg drain / retire)\n", phase)
		return exitUsage
	}
	adm, code := connectPG(ctx, env, f.adminURLFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	adm.SetAllowLoggedVerifier(*allowLogged)
	type applyJSON struct {
		Command             string        `json:"command"`
		DryRun              bool          `json:"dry_run"`
		OldRole             string        `json:"old_role"`
		NewRole             string        `json:"new_role"`
		Phases              []string      `json:"phases"`
		Applied             []pgStatement `json:"applied"`
		VerifierFingerprint string        `json:"verifier_fingerprint,omitempty"`
		Userlist            string        `json:"userlist,omitempty"`
		Ready               bool          `json:"ready"`
		Next                string        `json:"next"`
	}
	names := make([]string, len(phases))
	for i, ph := range phases {
		names[i] = string(ph)
	}
	if len(phases) == 1 && phases[0] == pgrole.PhaseVerify && planPath == "" {
		// The diff needs no password: none is read.
		next := "rotate pg drain --role " + f.role
		if *dryRun {
			if asJSON {
				writeJSON(env.Stdout, applyJSON{Command: "pg apply", DryRun: true, OldRole: f.role, NewRole: f.newRole, Phases: names, Applied: []pgStatement{}, Next: "rotate pg apply --role " + f.role + " --resume --new " + f.newRole + " --phase verify"})
			} else {
				fmt.Fprintf(env.Stdout, "dry run: would compare the privileges of %s with %s (rotate pg verify --old %s --new %s); nothing was changed\n", f.newRole, f.role, f.role, f.newRole)
			}
			return exitOK
		}
		if err := adm.VerifyPrivileges(ctx, f.role, f.newRole); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
			return exitCheck
		}
		if asJSON {
			writeJSON(env.Stdout, applyJSON{Command: "pg apply", OldRole: f.role, NewRole: f.newRole, Phases: names, Applied: []pgStatement{}, Ready: true, Next: next})
		} else {
			fmt.Fprintf(env.Stdout, "new role %s ready; cut over, then: %s\n", f.newRole, next)
		}
		return exitOK
	}
	var p *pgrole.Plan
	if planPath != "" {
		if p, code = readPlanFile(ctx, env, adm, planPath); p == nil {
			return code
		}
	} else if p, code = f.plan(ctx, env, adm); p == nil {
		return code
	}
	if w := p.OwnerWarning(); w != "" {
		if *dryRun || f.resume || phases[0] != pgrole.PhaseCreate {
			fmt.Fprintf(env.Stderr, "rotate pg apply: warning: %s\n", w)
		} else {
			fmt.Fprintf(env.Stderr, "rotate pg apply: refused, nothing was changed: %s\n", w)
			return exitCheck
		}
	}
	if *dryRun {
		if asJSON {
			doc := pgPlanDoc("pg apply", p, true)
			keep := doc.Phases[:0]
			for _, ph := range doc.Phases {
				for _, n := range names {
					if ph.Phase == n {
						keep = append(keep, ph)
					}
				}
			}
			doc.Phases = keep
			writeJSON(env.Stdout, doc)
			return exitOK
		}
		n := 0
		for _, ph := range phases {
			for _, s := range p.Phase(ph).Steps {
				fmt.Fprintf(env.Stdout, "would run %s: [%s] %s;\n", ph, dbName(s.Database, p.AdminDatabase), s.SQL)
				n++
			}
		}
		if userlist != "" {
			fmt.Fprintf(env.Stdout, "would add %s (verifier fp=%s) to %s\n", p.New, p.Verifier().Fingerprint(), userlist)
		}
		fmt.Fprintf(env.Stdout, "dry run: %d statement(s) in %s, %s -> %s; nothing was changed\n", n, strings.Join(names, ", "), p.Old, p.New)
		return exitOK
	}
	doc := applyJSON{Command: "pg apply", OldRole: p.Old, NewRole: p.New, Phases: names, Userlist: userlist}
	if !asJSON {
		// Each transaction is printed as it commits, and each lock retry
		// as it waits: an interrupted run shows what is committed.
		adm.SetProgress(progressPrinter(env))
	}
	for _, ph := range phases {
		applied, err := adm.ApplyPhase(ctx, p, ph)
		doc.Applied = pgApplied(doc.Applied, string(ph), adm.Database(), applied)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
			next := ""
			if st, _ := adm.Rotation(ctx, p.Old); st != nil && !st.Elsewhere(adm.Database()) {
				next = "rotate pg apply --role " + p.Old + " --resume (or rotate pg rollback --role " + p.Old + ")"
			}
			if asJSON {
				doc.Next = next
				writeJSON(env.Stdout, doc)
			} else if next != "" {
				fmt.Fprintf(env.Stderr, "next: %s\n", next)
			}
			return exitCheck
		}
	}
	if userlist != "" {
		ul, err := pgbouncer.ReadUserlist(userlist)
		if err == nil {
			err = ul.Set(p.New, p.Verifier().Secret())
		}
		if err == nil {
			err = pgbouncer.WriteUserlist(userlist, ul)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
			return exitCheck
		}
	}
	last := phases[len(phases)-1]
	if phases[0] == pgrole.PhaseCreate {
		doc.VerifierFingerprint = p.Verifier().Fingerprint()
	}
	if last != pgrole.PhaseVerify {
		doc.Next = fmt.Sprintf("rotate pg apply --role %s --resume --new %s --phase %s", p.Old, p.New, nextPhase(last))
		if asJSON {
			writeJSON(env.Stdout, doc)
		} else {
			fmt.Fprintf(env.Stdout, "phase %s done for %s; continue: %s\n", last, p.New, doc.Next)
		}
		return exitOK
	}
	doc.Ready, doc.Next = true, "rotate pg drain --role "+p.Old
	if userlist != "" {
		// Behind PgBouncer its idle server connections hold the old role's
		// sessions: --pgbouncer closes them (the documented form).
		doc.Next += " --pgbouncer"
	}
	if phases[0] == pgrole.PhaseCreate {
		env.auditTarget("role " + p.Old + " -> " + p.New)
		env.auditFingerprint("verifier "+p.New, "", p.Verifier().Fingerprint())
	}
	switch {
	case asJSON:
		writeJSON(env.Stdout, doc)
	case phases[0] == pgrole.PhaseCreate:
		fmt.Fprintf(env.Stdout, "new role %s ready (verifier fp=%s); cut over, then: %s\n", p.New, p.Verifier().Fingerprint(), doc.Next)
	default:
		fmt.Fprintf(env.Stdout, "new role %s ready; cut over, then: %s\n", p.New, doc.Next)
	}
	return exitOK
}

// nextPhase is the phase after ph among create, grant, verify.
func nextPhase(ph pgrole.PhaseName) pgrole.PhaseName {
	if ph == pgrole.PhaseCreate {
		return pgrole.PhaseGrant
	}
	return pgrole.PhaseVerify
}

func pgVerify(ctx context.Context, env *Env, args []string) int {
	var adminFile, oldRole, newRole string
	fs := newFlags(env, "pg verify", "rotate pg verify --old NAME --new NAME [--json]\n\nPrints what the old role can do that the new one cannot; exit 1 unless nothing.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&oldRole, "old", "", "old login role (required)")
	fs.StringVar(&newRole, "new", "", "new login role (required)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if code, bad := requireFlags(fs, map[string]string{"old": oldRole, "new": newRole}, "old", "new"); bad {
		return code
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
	ms, err := adm.Diff(ctx, oldRole, newRole)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg verify: %v\n", err)
		return exitCheck
	}
	if asJSON {
		type missing struct {
			Database  string `json:"database,omitempty"`
			Kind      string `json:"kind"`
			Object    string `json:"object"`
			Privilege string `json:"privilege"`
			Extra     bool   `json:"extra,omitempty"` // a right the new role has and the old lacks
		}
		doc := struct {
			Command        string    `json:"command"`
			OldRole        string    `json:"old_role"`
			NewRole        string    `json:"new_role"`
			Missing        []missing `json:"missing"`
			CutoverAllowed bool      `json:"cutover_allowed"`
		}{Command: "pg verify", OldRole: oldRole, NewRole: newRole, Missing: []missing{}, CutoverAllowed: len(ms) == 0}
		for _, m := range ms {
			doc.Missing = append(doc.Missing, missing{m.Database, m.Kind, m.Object, m.Privilege, m.Extra()})
		}
		writeJSON(env.Stdout, doc)
	} else {
		for _, m := range ms {
			if m.Extra() {
				// The line already starts with "extra": said once.
				m.Privilege = strings.TrimLeft(strings.TrimPrefix(m.Privilege, "extra"), ": ")
				fmt.Fprintf(env.Stdout, "extra %s\n", m)
			} else {
				fmt.Fprintf(env.Stdout, "missing %s\n", m)
			}
		}
		if st, err := adm.Rotation(ctx, oldRole); err == nil && st != nil && st.New == newRole && st.ValidUntil != "" {
			fmt.Fprintf(env.Stdout, "note: VALID UNTIL %s of %s was set by the rotation's plan\n", st.ValidUntil, newRole)
		}
	}
	if len(ms) > 0 {
		fmt.Fprintf(env.Stderr, "rotate pg verify: %q differs from %q in %d item(s) (missing: lacks a right of the old role; extra: has one it lacks); cutover refused\n", newRole, oldRole, len(ms))
		return exitCheck
	}
	if !asJSON {
		fmt.Fprintln(env.Stdout, "diff empty: cutover allowed")
	}
	return exitOK
}

// pgDrainJSON is the --json document of rotate pg drain.
type pgDrainJSON struct {
	Command        string   `json:"command"`
	DryRun         bool     `json:"dry_run"`
	Role           string   `json:"role"`
	Incident       bool     `json:"incident"`
	PgBouncer      bool     `json:"pgbouncer"`
	Sessions       int      `json:"sessions"` // dry run: connected now; otherwise: left at the end (0 when drained)
	Databases      []string `json:"databases"`
	Terminated     int      `json:"terminated"`
	TimeoutSeconds float64  `json:"timeout_seconds"`
	ElapsedSeconds float64  `json:"elapsed_seconds"`
	Drained        bool     `json:"drained"`
	Next           string   `json:"next,omitempty"`
}

func pgDrain(ctx context.Context, env *Env, args []string) int {
	var adminFile, role, bouncerFile string
	var timeout time.Duration
	var incident, behindBouncer, dryRun, yes bool
	fs := newFlags(env, "pg drain", "rotate pg drain --role NAME [--timeout 10m] [--pgbouncer] [--incident [--yes]] [--dry-run] [--json]\n\n"+
		"Waits until pg_stat_activity shows no client backend of the role. Behind PgBouncer, --pgbouncer sends\n"+
		"RECONNECT and WAIT_CLOSE on its admin console (PGBOUNCER_ADMIN_URL or --pgbouncer-url-file) after\n"+
		"each check, in every database where PgBouncer holds server connections of the role, so idle ones do\n"+
		"not outlive the drain, and also waits for PgBouncer's clients of the role (SHOW CLIENTS).\n"+
		"--incident terminates the sessions (irreversible for them: asks on a terminal, needs --yes otherwise).\n"+
		"With --json the progress lines go to stderr and one document to stdout at the end.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role (required)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&incident, "incident", false, "terminate the role's sessions (§5.5)")
	fs.BoolVar(&behindBouncer, "pgbouncer", false, "RECONNECT + WAIT_CLOSE on the PgBouncer admin console between checks")
	fs.StringVar(&bouncerFile, "pgbouncer-url-file", "", "file holding the PgBouncer admin console DSN (default: $PGBOUNCER_ADMIN_URL)")
	fs.BoolVar(&dryRun, "dry-run", false, "print the sessions it would wait for (or terminate) and change nothing")
	fs.BoolVar(&yes, "yes", false, "--incident: confirm terminating the sessions")
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
	var bouncerDSN string
	if behindBouncer || bouncerFile != "" {
		bouncerDSN = env.getenv("PGBOUNCER_ADMIN_URL")
		if bouncerFile != "" {
			b, err := readFileSecret(bouncerFile)
			if err != nil {
				fmt.Fprintf(env.Stderr, "rotate pg drain: --pgbouncer-url-file: %v\n", err)
				return exitUsage
			}
			bouncerDSN = string(b)
		}
		if bouncerDSN == "" {
			fmt.Fprintln(env.Stderr, "rotate pg drain: --pgbouncer needs PGBOUNCER_ADMIN_URL or --pgbouncer-url-file")
			return exitUsage
		}
	}
	adm, code := connectPG(ctx, env, adminFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	env.auditTarget("role " + role)
	doc := pgDrainJSON{Command: "pg drain", DryRun: dryRun, Role: role, Incident: incident, PgBouncer: bouncerDSN != "",
		Databases: []string{}, TimeoutSeconds: timeout.Seconds()}
	if dryRun || incident {
		n, dbs, err := adm.Sessions(ctx, role)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg drain: %v\n", err)
			return codeFor(err)
		}
		verb := "would wait for"
		if incident {
			verb = "would terminate"
		}
		if dryRun {
			if asJSON {
				doc.Sessions = n
				if dbs != nil {
					doc.Databases = dbs
				}
				writeJSON(env.Stdout, doc)
				return exitOK
			}
			fmt.Fprintf(env.Stdout, "dry run: %s %d session(s) of %s in [%s] (timeout %s", verb, n, role, strings.Join(dbs, " "), timeout)
			if bouncerDSN != "" {
				fmt.Fprint(env.Stdout, ", RECONNECT + WAIT_CLOSE on PgBouncer between checks")
			}
			fmt.Fprintln(env.Stdout, "); nothing was changed")
			return exitOK
		}
		if n > 0 && !confirmIrreversible(env, "pg drain", yes, fmt.Sprintf("terminates %d session(s) of %s (their transactions roll back)", n, role)) {
			return exitUsage
		}
	}
	progress := env.Stdout
	if asJSON {
		progress = env.Stderr
	}
	o := pgrole.DrainOptions{Timeout: timeout, Terminate: incident, Progress: func(s pgrole.DrainProgress) {
		doc.Sessions, doc.Terminated, doc.ElapsedSeconds = s.Sessions, s.Terminated, s.Elapsed.Seconds()
		if s.Databases != nil {
			doc.Databases = s.Databases
		}
		fmt.Fprintf(progress, "%s: %d session(s) of %s in [%s], %d terminated\n", s.Elapsed.Round(time.Second), s.Sessions, s.Role, strings.Join(s.Databases, " "), s.Terminated)
	}}
	if bouncerDSN != "" {
		o.Nudge = pgrole.PgBouncerNudge(bouncerDSN, role, 0)
		o.Pending = pgrole.PgBouncerClients(bouncerDSN)
	}
	err := adm.Drain(ctx, role, o)
	var next string
	if err == nil {
		st, _ := adm.Rotation(ctx, role)
		next = retireCommand(role, st)
	}
	if asJSON {
		doc.Drained = err == nil
		if err == nil {
			doc.Sessions, doc.Databases, doc.Next = 0, []string{}, next
		}
		writeJSON(env.Stdout, doc)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg drain: %v\n", err)
		return exitCheck
	}
	if !asJSON {
		fmt.Fprintf(env.Stdout, "drained: no session of %s remains; next: %s\n", role, next)
	}
	return exitOK
}

func pgRetire(ctx context.Context, env *Env, args []string) int {
	var adminFile, role, strategy, stable, mode, reassign, out string
	var dryRun, yes bool
	fs := newFlags(env, "pg retire", "rotate pg retire --role NAME --mode break-glass|nologin|drop [--dry-run] [--yes] [--json] [flags]\n\n"+
		"break-glass sets a fresh random password and writes it to --break-glass-out (0600).\n"+
		"drop is refused while a role is a member of it, while it has sessions, while it owns objects\n"+
		"without --reassign-to, and always for the alternate strategy's stable role; grants the role made\n"+
		"to other roles are made again by --reassign-to first, or the drop is refused listing them.\n"+
		"Refused, changing nothing, until the rotation got past verify (its new role lacks nothing).\n"+
		"Irreversible: --dry-run prints the statements; it asks on a terminal and needs --yes otherwise.")
	fs.BoolVar(&dryRun, "dry-run", false, "print what it would run (every check made) and change nothing")
	fs.BoolVar(&yes, "yes", false, "confirm the retire")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role (required)")
	fs.StringVar(&strategy, "strategy", "", "alternate or mirror (default: the recorded rotation's, else alternate)")
	fs.StringVar(&stable, "stable", "", "alternate: the stable role (default: base of --role)")
	fs.StringVar(&mode, "mode", "", "break-glass, nologin or drop (required)")
	fs.StringVar(&reassign, "reassign-to", "", "mirror drop: role receiving what the old role owns")
	fs.StringVar(&out, "break-glass-out", "", "break-glass: file to write the new password to (created 0600, must not exist)")
	allowLogged := fs.Bool("allow-verifier-in-log", false, "break-glass: send the verifier even if the server's logging settings would record it")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if code, bad := requireFlags(fs, map[string]string{"role": role, "mode": mode}, "role", "mode"); bad {
		return code
	}
	switch {
	case fs.NArg() != 0:
		return wrongArgs(fs, "no arguments")
	case mode != string(pgrole.RetireBreakGlass) && mode != string(pgrole.RetireNoLogin) && mode != string(pgrole.RetireDrop):
		fmt.Fprintf(env.Stderr, "rotate pg retire: --mode %q: use break-glass, nologin or drop\n", mode)
		return exitUsage
	case mode == string(pgrole.RetireBreakGlass) && out == "":
		fmt.Fprintln(env.Stderr, "rotate pg retire: --mode break-glass needs --break-glass-out FILE for the new password (never printed)")
		return exitUsage
	}
	asJSON := of.json(env)
	adm, code := connectPG(ctx, env, adminFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	adm.SetAllowLoggedVerifier(*allowLogged)
	if st, err := adm.Rotation(ctx, role); err == nil && st != nil && !st.Elsewhere(adm.Database()) {
		if strategy == "" {
			strategy = string(st.Strategy)
		}
		if stable == "" {
			stable = st.Stable
		}
	}
	o := pgrole.RetireOptions{Role: role, Strategy: pgrole.Strategy(strategy), Stable: stable, Mode: pgrole.RetireMode(mode), ReassignTo: reassign}
	steps, err := adm.RetireDryRun(ctx, o)
	if errors.Is(err, pgrole.ErrRoleNotFound) && mode == string(pgrole.RetireDrop) {
		// Run again after it succeeded: done, if the history says so.
		if at, ok, herr := adm.Retired(ctx, role); herr == nil && ok {
			if asJSON {
				writeJSON(env.Stdout, struct {
					Command        string    `json:"command"`
					Role           string    `json:"role"`
					Mode           string    `json:"mode"`
					AlreadyRetired bool      `json:"already_retired"`
					RetiredAt      time.Time `json:"retired_at"`
				}{"pg retire", role, mode, true, at.UTC()})
			} else {
				fmt.Fprintf(env.Stdout, "%s was already retired (dropped, %s); nothing to do\n", role, env.fmtTime(at))
			}
			return exitOK
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg retire: %v\n", err)
		return codeFor(err)
	}
	type retireJSON struct {
		Command               string        `json:"command"`
		DryRun                bool          `json:"dry_run"`
		Role                  string        `json:"role"`
		Mode                  string        `json:"mode"`
		Statements            []pgStatement `json:"statements,omitempty"` // dry run: what it would run
		Regrants              int           `json:"regrants"`
		Applied               []pgStatement `json:"applied"`
		BreakGlassFile        string        `json:"break_glass_file,omitempty"`
		BreakGlassFingerprint string        `json:"break_glass_fingerprint,omitempty"`
		BreakGlassFileRemoved bool          `json:"break_glass_file_removed,omitempty"`
	}
	env.auditTarget("role " + role)
	doc := retireJSON{Command: "pg retire", DryRun: dryRun, Role: role, Mode: mode, Applied: []pgStatement{}}
	if dryRun {
		for _, s := range steps {
			if strings.Contains(s.SQL, "GRANT ") && !strings.Contains(s.SQL, "REVOKE ") {
				doc.Regrants++
			}
		}
		if asJSON {
			doc.Statements = pgSteps(adm.Database(), steps)
			writeJSON(env.Stdout, doc)
			return exitOK
		}
		for _, s := range steps {
			fmt.Fprintf(env.Stdout, "would run: %s;\n", s)
		}
		fmt.Fprintf(env.Stdout, "dry run: %d statement(s), %d grant(s) to other roles made again; nothing was changed\n", len(steps), doc.Regrants)
		return exitOK
	}
	if !confirmIrreversible(env, "pg retire", yes, fmt.Sprintf("retires %s (%s, %d statement(s))", role, mode, len(steps))) {
		return exitUsage
	}
	say := func(format string, a ...any) {
		if !asJSON {
			fmt.Fprintf(env.Stdout, format, a...)
		}
	}
	if o.Mode == pgrole.RetireBreakGlass {
		pw, err := keygen.Password(rand.Reader, 32)
		if err == nil {
			o.BreakGlass, err = scram.New(fingerprint.NewSecret([]byte(pw)), scram.Options{})
		}
		if err == nil {
			var f *os.File
			f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err == nil {
				_, err = f.WriteString(pw) // no newline, as keygen -o: the fingerprint is of these bytes
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg retire: break-glass password: %v\n", err)
			return exitCheck
		}
		doc.BreakGlassFile, doc.BreakGlassFingerprint = out, fingerprint.OfString(pw)
		env.auditFingerprint("break-glass "+role, "", doc.BreakGlassFingerprint)
		say("break-glass password written to %s (fingerprint %s)\n", out, doc.BreakGlassFingerprint)
	}
	if !asJSON {
		adm.SetProgress(progressPrinter(env))
	}
	applied, err := adm.Retire(ctx, o)
	doc.Applied = pgApplied(doc.Applied, "", adm.Database(), applied)
	if err != nil && o.Mode == pgrole.RetireBreakGlass && len(applied) == 0 {
		// The password was never set: do not leave it behind to be
		// mistaken for the break-glass credential.
		if rerr := os.Remove(out); rerr == nil {
			doc.BreakGlassFileRemoved = true
			say("removed %s: the password was not applied\n", out)
		}
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg retire: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func bouncerUserlist(ctx context.Context, env *Env, args []string) int {
	var adminFile, path, user, remove string
	fs := newFlags(env, "pgbouncer userlist", "rotate pgbouncer userlist --userlist PATH (--user NAME | --remove NAME) [--dry-run] [--json]\n\n"+
		"Copies NAME's verifier as Postgres stores it (pg_authid; identical salt, so SCRAM pass-through works)\n"+
		"into userlist.txt, written atomically with its mode and owner kept. Then run rotate pgbouncer reload.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&path, "userlist", "", "path of userlist.txt (required)")
	fs.StringVar(&user, "user", "", "role to add or update")
	fs.StringVar(&remove, "remove", "", "role to remove")
	dryRun := fs.Bool("dry-run", false, "say what would change in the file and write nothing")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if path == "" {
		return missingFlag(fs, "userlist")
	}
	if user == "" && remove == "" {
		fmt.Fprintf(fs.Output(), "rotate pgbouncer userlist: missing required flag --user or --remove\n\n")
		fs.Usage()
		return exitUsage
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	asJSON := of.json(env)
	ul, err := pgbouncer.ReadUserlist(path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer userlist: %v\n", err)
		return exitCheck
	}
	type entry struct {
		User                string `json:"user"`
		VerifierFingerprint string `json:"verifier_fingerprint,omitempty"`
	}
	doc := struct {
		Command  string  `json:"command"`
		DryRun   bool    `json:"dry_run"`
		Userlist string  `json:"userlist"`
		Set      []entry `json:"set"`
		Removed  []entry `json:"removed"`
	}{Command: "pgbouncer userlist", DryRun: *dryRun, Userlist: path, Set: []entry{}, Removed: []entry{}}
	verb := func(v string) string {
		if *dryRun {
			return "would " + map[string]string{"set": "set", "removed": "remove"}[v]
		}
		return v
	}
	if user != "" {
		adm, code := connectPG(ctx, env, adminFile)
		if adm == nil {
			return code
		}
		defer adm.Close(ctx)
		v, err := adm.StoredVerifier(ctx, user)
		if err == nil {
			err = ul.Set(user, v.Secret())
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pgbouncer userlist: %v\n", err)
			return exitCheck
		}
		doc.Set = append(doc.Set, entry{user, v.Fingerprint()})
		if !asJSON {
			fmt.Fprintf(env.Stdout, "%s %s: %s\n", verb("set"), user, v)
		}
	}
	if remove != "" {
		ul.Delete(remove)
		doc.Removed = append(doc.Removed, entry{User: remove})
		if !asJSON {
			fmt.Fprintf(env.Stdout, "%s %s\n", verb("removed"), remove)
		}
	}
	if *dryRun {
		if asJSON {
			writeJSON(env.Stdout, doc)
		} else {
			fmt.Fprintf(env.Stdout, "dry run: %s was not written\n", path)
		}
		return exitOK
	}
	if err := pgbouncer.WriteUserlist(path, ul); err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer userlist: %v\n", err)
		return exitCheck
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	return exitOK
}

func bouncerReload(ctx context.Context, env *Env, args []string) int {
	var adminFile, confirm, reconnect string
	var waitClose bool
	fs := newFlags(env, "pgbouncer reload", "rotate pgbouncer reload [--admin-url-file FILE] [--confirm NAME,…] [--reconnect DB] [--wait-close] [--dry-run] [--json]\n\n"+
		"Connects to the PgBouncer admin console (PGBOUNCER_ADMIN_URL, or the DSN in --admin-url-file),\n"+
		"sends RELOAD so a rewritten userlist.txt takes effect, and checks SHOW USERS lists every\n"+
		"--confirm user. Exit 1 when RELOAD, the confirmation or RECONNECT fails.")
	fs.StringVar(&adminFile, "admin-url-file", "", "file holding the PgBouncer admin console DSN (default: $PGBOUNCER_ADMIN_URL)")
	fs.StringVar(&confirm, "confirm", "", "comma-separated users SHOW USERS must list after RELOAD")
	fs.StringVar(&reconnect, "reconnect", "", "RECONNECT this database (\"*\" for all) so old server connections close")
	fs.BoolVar(&waitClose, "wait-close", false, "with --reconnect: WAIT_CLOSE until they are closed")
	dryRun := fs.Bool("dry-run", false, "print the admin commands it would send and send none")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	if waitClose && reconnect == "" {
		fmt.Fprintln(env.Stderr, "rotate pgbouncer reload: --wait-close goes with --reconnect DB")
		return exitUsage
	}
	asJSON := of.json(env)
	var names []string
	for _, n := range strings.Split(confirm, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	db := reconnect
	if db == "*" {
		db = ""
	}
	// The admin commands, in order, as sent.
	cmds := []string{"RELOAD"}
	if len(names) > 0 {
		cmds = append(cmds, "SHOW USERS")
	}
	if reconnect != "" {
		cmds = append(cmds, strings.TrimSpace("RECONNECT "+db))
		if waitClose {
			cmds = append(cmds, strings.TrimSpace("WAIT_CLOSE "+db))
		}
	}
	doc := struct {
		Command     string   `json:"command"`
		DryRun      bool     `json:"dry_run"`
		Sent        []string `json:"sent"`
		Reloaded    bool     `json:"reloaded"`
		Confirmed   []string `json:"confirmed"`
		Reconnected string   `json:"reconnected,omitempty"`
		WaitClosed  bool     `json:"wait_closed"`
	}{Command: "pgbouncer reload", DryRun: *dryRun, Sent: []string{}, Confirmed: []string{}}
	if *dryRun {
		doc.Sent = cmds
		if asJSON {
			writeJSON(env.Stdout, doc)
		} else {
			fmt.Fprintf(env.Stdout, "dry run: would send %s on the PgBouncer admin console; nothing was sent\n", strings.Join(cmds, "; "))
		}
		return exitOK
	}
	dsn := env.getenv("PGBOUNCER_ADMIN_URL")
	if adminFile != "" {
		b, err := readFileSecret(adminFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pgbouncer reload: %v\n", err)
			return exitUsage
		}
		dsn = string(b)
	}
	if dsn == "" {
		fmt.Fprintln(env.Stderr, "rotate pgbouncer reload: set PGBOUNCER_ADMIN_URL or pass --admin-url-file")
		return exitUsage
	}
	adm, err := pgbouncer.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer reload: %v\n", err)
		return exitCheck
	}
	defer adm.Close(ctx)
	err = adm.Reload(ctx)
	if err == nil {
		doc.Reloaded, doc.Sent = true, append(doc.Sent, "RELOAD")
	}
	if err == nil && len(names) > 0 {
		doc.Sent = append(doc.Sent, "SHOW USERS")
		if err = adm.Confirm(ctx, names...); err == nil {
			doc.Confirmed = names
		}
	}
	if err == nil && reconnect != "" {
		doc.Sent = append(doc.Sent, cmds[len(doc.Sent)])
		if err = adm.Reconnect(ctx, db); err == nil {
			doc.Reconnected = reconnect
			if waitClose {
				doc.Sent = append(doc.Sent, cmds[len(doc.Sent)])
				err = adm.WaitClose(ctx, db)
				doc.WaitClosed = err == nil
			}
		}
	}
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer reload: %v\n", err)
		return exitCheck
	}
	if asJSON {
		return exitOK
	}
	// Say what happened, step by step (not only "reloaded").
	fmt.Fprintln(env.Stdout, "reloaded: PgBouncer re-read its configuration and userlist.txt (RELOAD)")
	if len(names) > 0 {
		fmt.Fprintf(env.Stdout, "confirmed: SHOW USERS lists %s\n", strings.Join(names, ", "))
	}
	if reconnect != "" {
		which := "database " + reconnect
		if db == "" {
			which = "every database"
		}
		fmt.Fprintf(env.Stdout, "reconnect: %s: server connections close once idle and reopen with the new credentials (RECONNECT)\n", which)
		if waitClose {
			fmt.Fprintf(env.Stdout, "wait-close: every old server connection of %s is closed (WAIT_CLOSE returned)\n", which)
		}
	}
	return exitOK
}

func pgRollback(ctx context.Context, env *Env, args []string) int {
	var adminFile, role string
	var timeout time.Duration
	fs := newFlags(env, "pg rollback", "rotate pg rollback --role OLD [--timeout 10m] [--dry-run] [--json]\n\n"+
		"Undoes the unfinished rotation of OLD before its retire (runbook §5.7): point the applications\n"+
		"back at OLD first. Waits for the new role's sessions to end, reassigns what it owns, drops it\n"+
		"and clears the rotation's record. Refused once the old role was retired.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role (the one the rotation started from; required)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting for the new role's sessions after this long")
	dryRun := fs.Bool("dry-run", false, "print the rotation it would undo and the new role's sessions; change nothing")
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
	st, err := adm.Rotation(ctx, role)
	if err == nil && st == nil {
		err = fmt.Errorf("no unfinished rotation of %q is recorded; nothing to roll back", role)
	}
	var p *pgrole.Plan
	if err == nil {
		p, err = adm.Plan(ctx, pgrole.PlanOptions{Role: role, Resume: true})
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg rollback: %v\n", err)
		return codeFor(err)
	}
	doc := struct {
		Command    string        `json:"command"`
		DryRun     bool          `json:"dry_run"`
		Role       string        `json:"role"`
		NewRole    string        `json:"new_role"`
		Strategy   string        `json:"strategy"`
		StartedAt  *time.Time    `json:"started_at,omitempty"`
		Sessions   *int          `json:"new_role_sessions,omitempty"` // dry run only
		Applied    []pgStatement `json:"applied"`
		RolledBack bool          `json:"rolled_back"`
	}{Command: "pg rollback", DryRun: *dryRun, Role: role, NewRole: p.New, Strategy: string(st.Strategy), StartedAt: utcPtr(st.Started), Applied: []pgStatement{}}
	if *dryRun {
		n, dbs, err := adm.Sessions(ctx, p.New)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg rollback: %v\n", err)
			return codeFor(err)
		}
		doc.Sessions = &n
		if asJSON {
			writeJSON(env.Stdout, doc)
		} else {
			fmt.Fprintf(env.Stdout, "dry run: would undo the rotation %s -> %s (%s, started %s): wait for %d session(s) of %s in [%s] (timeout %s), reassign what it owns, drop it, clear the record; nothing was changed\n",
				role, p.New, st.Strategy, env.fmtTime(st.Started), n, p.New, strings.Join(dbs, " "), timeout)
		}
		return exitOK
	}
	if !asJSON {
		adm.SetProgress(progressPrinter(env))
	}
	var applied []pgrole.Applied
	err = adm.Drain(ctx, p.New, pgrole.DrainOptions{Timeout: timeout})
	if err == nil {
		applied, err = adm.Rollback(ctx, p)
	}
	doc.Applied = pgApplied(doc.Applied, "", adm.Database(), applied)
	doc.RolledBack = err == nil
	if asJSON {
		writeJSON(env.Stdout, doc)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg rollback: %v\n", err)
		return exitCheck
	}
	if !asJSON {
		fmt.Fprintf(env.Stdout, "rolled back: %s dropped, %s is the login role again\n", p.New, role)
	}
	return exitOK
}

// readPlanFile opens a plan file written by rotate pg plan --out: refused if
// others may read it (it holds a verifier) or if the catalog changed.
func readPlanFile(ctx context.Context, env *Env, adm *pgrole.Admin, path string) (*pgrole.Plan, int) {
	file, err := os.Open(path)
	if err != nil {
		// Not echoed: a mistaken argument may be the password itself.
		fmt.Fprintln(env.Stderr, "rotate pg apply: the argument is not a readable plan file (name not echoed); the password is read from stdin, never argv")
		return nil, exitUsage
	}
	defer file.Close()
	if st, err := file.Stat(); err != nil || st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(env.Stderr, "rotate pg apply: plan file %s is readable by others (it holds a verifier): chmod 600 it, or plan again\n", path)
		return nil, exitUsage
	}
	p, err := adm.ReadPlan(ctx, file)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
		if role := planFileRole(path); role != "" && errors.Is(err, pgrole.ErrRotationInProgress) {
			if st, _ := adm.Rotation(ctx, role); st != nil && !st.Elsewhere(adm.Database()) {
				fmt.Fprintf(env.Stderr, "rotate pg apply: refused, nothing changed; to continue it: rotate pg apply --role %s --resume (or undo it: rotate pg rollback --role %s)\n", role, role)
			}
		}
		return nil, codeFor(err)
	}
	fmt.Fprintf(env.Stderr, "rotate pg apply: applying the plan in %s: %s -> %s, verifier fp=%s, catalog unchanged since planning\n", path, p.Old, p.New, p.Verifier().Fingerprint())
	return p, exitOK
}

// planFileRole returns the old role a plan file names ("" if it cannot be
// read), for advice that names a working command.
func planFileRole(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var f struct {
		Role string `json:"role"`
	}
	if json.Unmarshal(b, &f) != nil || pgrole.ValidateName(f.Role) != nil {
		return ""
	}
	return f.Role
}

// progressPrinter prints each committed transaction's statements ("applied
// PHASE: [db] SQL;") as it commits, and each lock-conflict retry on stderr.
func progressPrinter(env *Env) func(pgrole.Progress) {
	return func(ev pgrole.Progress) {
		if ev.Retry > 0 {
			fmt.Fprintf(env.Stderr, "rotate pg: %s phase in database %s: lock conflict (%v); rolled back, retrying (attempt %d of %d) in %s\n",
				ev.Phase, ev.Database, ev.Err, ev.Retry, ev.Attempts, ev.Wait.Round(time.Millisecond))
			return
		}
		for _, a := range ev.Committed {
			fmt.Fprintf(env.Stdout, "applied %s: %s;\n", ev.Phase, a)
		}
	}
}

// retireCommand is the retire command line for the unfinished rotation st
// of role, with the strategy and mode its plan recorded.
func retireCommand(role string, st *pgrole.RotationState) string {
	if st == nil {
		return "rotate pg retire --role " + role + " --mode break-glass --break-glass-out " + role + ".break-glass --yes"
	}
	mode := st.Retire
	if mode == "" {
		mode = pgrole.RetireBreakGlass
	}
	cmd := "rotate pg retire --role " + role + " --strategy " + string(st.Strategy) + " --mode " + string(mode)
	if st.Stable != "" && st.Strategy == pgrole.Alternate {
		cmd += " --stable " + st.Stable
	}
	switch mode {
	case pgrole.RetireBreakGlass:
		cmd += " --break-glass-out " + role + ".break-glass"
	case pgrole.RetireDrop:
		if st.ReassignTo != "" && st.Strategy == pgrole.Mirror {
			cmd += " --reassign-to " + st.ReassignTo
		}
	}
	// Irreversible: it asks on a terminal, and off one needs --yes; the
	// printed step is meant to run as written.
	return cmd + " --yes"
}
