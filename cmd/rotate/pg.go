package main

import (
	"context"
	"crypto/rand"
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
	register(command{name: "pg", summary: "Postgres login-role rotation: plan, apply, verify, drain, retire", run: runPG})
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
	adminURLFile, role, strategy, stable, newRole, retire, reassign, passwordFile string
	incident, resume                                                              bool
}

// register adds the flags apply uses; registerRetire the ones only the
// whole plan (its drain and retire phases) uses.
func (f *pgFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.adminURLFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&f.role, "role", "", "the login role in use now (required)")
	fs.StringVar(&f.strategy, "strategy", "alternate", "alternate or mirror")
	fs.StringVar(&f.stable, "stable", "", "alternate: the stable role (default: base of --role)")
	fs.StringVar(&f.newRole, "new", "", "new login role name (default: next by alternation)")
	fs.StringVar(&f.passwordFile, "password-file", "", "file holding the new password (default: read stdin)")
	fs.BoolVar(&f.resume, "resume", false, "continue the unfinished rotation of --role (its recorded new role and verifier)")
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
		fmt.Fprintln(env.Stderr, "rotate pg: --role is required")
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
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		return nil, exitUsage
	}
	v, err := scram.New(pw, scram.Options{})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		return nil, exitUsage
	}
	p, err := adm.Plan(ctx, pgrole.PlanOptions{Role: f.role, Strategy: pgrole.Strategy(f.strategy), Stable: f.stable, New: f.newRole,
		Verifier: v, Retire: pgrole.RetireMode(f.retire), ReassignTo: f.reassign, Incident: f.incident, Resume: f.resume})
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg: %v\n", err)
		if errors.Is(err, pgrole.ErrRotationInProgress) {
			fmt.Fprintf(env.Stderr, "rotate pg: refused, nothing changed; to continue it: rotate pg apply --role %s --resume < the same password\n", f.role)
		}
		return nil, codeFor(err)
	}
	if f.resume {
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
	if code, done := parse(fs, args); done {
		return code
	}
	if !f.usage(env, fs) {
		return exitUsage
	}
	adm, code := connectPG(ctx, env, f.adminURLFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	p, code := f.plan(ctx, env, adm)
	if p == nil {
		return code
	}
	fmt.Fprint(env.Stdout, p.Render())
	if *out != "" {
		if err := pgrole.CreatePlanFile(*out, p); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg plan: %v\n", err)
			return exitCheck
		}
		fmt.Fprintf(env.Stdout, "-- plan written to %s (verifier fp=%s, catalog digest %.16s); apply exactly it: rotate pg apply %s\n",
			*out, p.Verifier().Fingerprint(), p.CatalogDigest(), *out)
	}
	return exitOK
}

func pgApply(ctx context.Context, env *Env, args []string) int {
	var f pgFlags
	var phase, userlist string
	fs := newFlags(env, "pg apply", "rotate pg apply --role NAME [--phase create|grant|verify] [--userlist PATH] [flags] < new-password\n"+
		"rotate pg apply [--phase …] [--userlist PATH] PLAN-FILE\n\n"+
		"Runs create, grant and verify (cutover is yours: point the applications at the new role),\n"+
		"printing every statement committed. With --userlist, the new role's verifier is added to it.\n"+
		"With PLAN-FILE (from rotate pg plan --out) it runs exactly that plan, with its verifier, and\n"+
		"refuses if the catalog changed since; no password is read.")
	f.register(fs)
	fs.StringVar(&phase, "phase", "", "run only this phase (grant and verify need --resume --new ROLE)")
	fs.StringVar(&userlist, "userlist", "", "PgBouncer userlist.txt to add the new role to (then run rotate pgbouncer reload)")
	allowLogged := fs.Bool("allow-verifier-in-log", false, "send the verifier even if the server's logging settings would record it (default: refuse)")
	if code, done := parse(fs, args); done {
		return code
	}
	planPath := ""
	if fs.NArg() == 1 && f.role == "" {
		planPath = fs.Arg(0)
	} else if !f.usage(env, fs) {
		return exitUsage
	}
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
	if len(phases) == 1 && phases[0] == pgrole.PhaseVerify && planPath == "" {
		// The diff needs no password: none is read.
		if err := adm.Verify(ctx, f.role, f.newRole); err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
			return exitCheck
		}
		fmt.Fprintf(env.Stdout, "new role %s ready; cut over, then: rotate pg drain --role %s\n", f.newRole, f.role)
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
	for _, ph := range phases {
		applied, err := adm.Apply(ctx, p, ph)
		for _, a := range applied {
			fmt.Fprintf(env.Stdout, "applied %s: %s;\n", ph, a)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg apply: %v\n", err)
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
	if last != pgrole.PhaseVerify {
		fmt.Fprintf(env.Stdout, "phase %s done for %s; continue: rotate pg apply --role %s --resume --new %s --phase %s\n",
			last, p.New, p.Old, p.New, nextPhase(last))
		return exitOK
	}
	if phases[0] == pgrole.PhaseCreate {
		env.auditTarget("role " + p.Old + " -> " + p.New)
		env.auditFingerprint("verifier "+p.New, "", p.Verifier().Fingerprint())
		fmt.Fprintf(env.Stdout, "new role %s ready (verifier fp=%s); cut over, then: rotate pg drain --role %s\n", p.New, p.Verifier().Fingerprint(), p.Old)
	} else {
		fmt.Fprintf(env.Stdout, "new role %s ready; cut over, then: rotate pg drain --role %s\n", p.New, p.Old)
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
	fs := newFlags(env, "pg verify", "rotate pg verify --old NAME --new NAME\n\nPrints what the old role can do that the new one cannot; exit 1 unless nothing.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&oldRole, "old", "", "old login role")
	fs.StringVar(&newRole, "new", "", "new login role")
	if code, done := parse(fs, args); done {
		return code
	}
	if oldRole == "" || newRole == "" {
		fs.Usage()
		return exitUsage
	}
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
	for _, m := range ms {
		fmt.Fprintf(env.Stdout, "missing %s\n", m)
	}
	if len(ms) > 0 {
		fmt.Fprintf(env.Stderr, "rotate pg verify: %q lacks %d privilege(s) of %q; cutover refused\n", newRole, len(ms), oldRole)
		return exitCheck
	}
	fmt.Fprintln(env.Stdout, "diff empty: cutover allowed")
	return exitOK
}

func pgDrain(ctx context.Context, env *Env, args []string) int {
	var adminFile, role, bouncerFile string
	var timeout time.Duration
	var incident, behindBouncer, dryRun, yes bool
	fs := newFlags(env, "pg drain", "rotate pg drain --role NAME [--timeout 10m] [--pgbouncer] [--incident [--yes]] [--dry-run]\n\n"+
		"Waits until pg_stat_activity shows no client backend of the role. Behind PgBouncer, --pgbouncer sends\n"+
		"RECONNECT and WAIT_CLOSE on its admin console (PGBOUNCER_ADMIN_URL or --pgbouncer-url-file) after\n"+
		"each check, in every database where PgBouncer holds server connections of the role, so idle ones do\n"+
		"not outlive the drain, and also waits for PgBouncer's clients of the role (SHOW CLIENTS).\n"+
		"--incident terminates the sessions (irreversible for them: asks on a terminal, needs --yes otherwise).")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&incident, "incident", false, "terminate the role's sessions (§5.5)")
	fs.BoolVar(&behindBouncer, "pgbouncer", false, "RECONNECT + WAIT_CLOSE on the PgBouncer admin console between checks")
	fs.StringVar(&bouncerFile, "pgbouncer-url-file", "", "file holding the PgBouncer admin console DSN (default: $PGBOUNCER_ADMIN_URL)")
	fs.BoolVar(&dryRun, "dry-run", false, "print the sessions it would wait for (or terminate) and change nothing")
	fs.BoolVar(&yes, "yes", false, "--incident: confirm terminating the sessions")
	if code, done := parse(fs, args); done {
		return code
	}
	if role == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
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
	o := pgrole.DrainOptions{Timeout: timeout, Terminate: incident, Progress: func(s pgrole.DrainStatus) {
		fmt.Fprintf(env.Stdout, "%s: %d session(s) of %s in [%s], %d terminated\n", s.Elapsed.Round(time.Second), s.Sessions, s.Role, strings.Join(s.Databases, " "), s.Terminated)
	}}
	if bouncerDSN != "" {
		o.Nudge = pgrole.PgBouncerNudge(bouncerDSN, role, 0)
		o.Pending = pgrole.PgBouncerClients(bouncerDSN)
	}
	if err := adm.Drain(ctx, role, o); err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg drain: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(env.Stdout, "drained: no session of %s remains; next: rotate pg retire --role %s\n", role, role)
	return exitOK
}

func pgRetire(ctx context.Context, env *Env, args []string) int {
	var adminFile, role, strategy, stable, mode, reassign, out string
	var dryRun, yes bool
	fs := newFlags(env, "pg retire", "rotate pg retire --role NAME --mode break-glass|nologin|drop [--dry-run] [--yes] [flags]\n\n"+
		"break-glass sets a fresh random password and writes it to --break-glass-out (0600).\n"+
		"drop is refused while a role is a member of it, while it has sessions, while it owns objects\n"+
		"without --reassign-to, and always for the alternate strategy's stable role; grants the role made\n"+
		"to other roles are made again by --reassign-to first, or the drop is refused listing them.\n"+
		"Irreversible: --dry-run prints the statements; it asks on a terminal and needs --yes otherwise.")
	fs.BoolVar(&dryRun, "dry-run", false, "print what it would run (every check made) and change nothing")
	fs.BoolVar(&yes, "yes", false, "confirm the retire")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role")
	fs.StringVar(&strategy, "strategy", "alternate", "alternate or mirror")
	fs.StringVar(&stable, "stable", "", "alternate: the stable role (default: base of --role)")
	fs.StringVar(&mode, "mode", "", "break-glass, nologin or drop")
	fs.StringVar(&reassign, "reassign-to", "", "mirror drop: role receiving what the old role owns")
	fs.StringVar(&out, "break-glass-out", "", "break-glass: file to write the new password to (created 0600, must not exist)")
	allowLogged := fs.Bool("allow-verifier-in-log", false, "break-glass: send the verifier even if the server's logging settings would record it")
	if code, done := parse(fs, args); done {
		return code
	}
	switch {
	case role == "" || mode == "" || fs.NArg() != 0:
		fs.Usage()
		return exitUsage
	case mode != string(pgrole.RetireBreakGlass) && mode != string(pgrole.RetireNoLogin) && mode != string(pgrole.RetireDrop):
		fmt.Fprintf(env.Stderr, "rotate pg retire: --mode %q: use break-glass, nologin or drop\n", mode)
		return exitUsage
	case mode == string(pgrole.RetireBreakGlass) && out == "":
		fmt.Fprintln(env.Stderr, "rotate pg retire: --mode break-glass needs --break-glass-out FILE for the new password (never printed)")
		return exitUsage
	}
	adm, code := connectPG(ctx, env, adminFile)
	if adm == nil {
		return code
	}
	defer adm.Close(ctx)
	adm.SetAllowLoggedVerifier(*allowLogged)
	o := pgrole.RetireOptions{Role: role, Strategy: pgrole.Strategy(strategy), Stable: stable, Mode: pgrole.RetireMode(mode), ReassignTo: reassign}
	steps, err := adm.RetireDryRun(ctx, o)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg retire: %v\n", err)
		return codeFor(err)
	}
	if dryRun {
		regrants := 0
		for _, s := range steps {
			fmt.Fprintf(env.Stdout, "would run: %s;\n", s)
			if strings.Contains(s.SQL, "GRANT ") && !strings.Contains(s.SQL, "REVOKE ") {
				regrants++
			}
		}
		fmt.Fprintf(env.Stdout, "dry run: %d statement(s), %d grant(s) to other roles made again; nothing was changed\n", len(steps), regrants)
		return exitOK
	}
	if !confirmIrreversible(env, "pg retire", yes, fmt.Sprintf("retires %s (%s, %d statement(s))", role, mode, len(steps))) {
		return exitUsage
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
				_, err = f.WriteString(pw + "\n")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate pg retire: break-glass password: %v\n", err)
			return exitCheck
		}
		fmt.Fprintf(env.Stdout, "break-glass password written to %s (fingerprint %s)\n", out, fingerprint.OfString(pw))
	}
	applied, err := adm.Retire(ctx, o)
	for _, a := range applied {
		fmt.Fprintf(env.Stdout, "applied retire: %s;\n", a)
	}
	if err != nil {
		if o.Mode == pgrole.RetireBreakGlass && len(applied) == 0 {
			// The password was never set: do not leave it behind to be
			// mistaken for the break-glass credential.
			if rerr := os.Remove(out); rerr == nil {
				fmt.Fprintf(env.Stdout, "removed %s: the password was not applied\n", out)
			}
		}
		fmt.Fprintf(env.Stderr, "rotate pg retire: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func bouncerUserlist(ctx context.Context, env *Env, args []string) int {
	var adminFile, path, user, remove string
	fs := newFlags(env, "pgbouncer userlist", "rotate pgbouncer userlist --userlist PATH [--user NAME] [--remove NAME]\n\n"+
		"Copies NAME's verifier as Postgres stores it (pg_authid; identical salt, so SCRAM pass-through works)\n"+
		"into userlist.txt, written atomically with its mode and owner kept. Then run rotate pgbouncer reload.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&path, "userlist", "", "path of userlist.txt")
	fs.StringVar(&user, "user", "", "role to add or update")
	fs.StringVar(&remove, "remove", "", "role to remove")
	if code, done := parse(fs, args); done {
		return code
	}
	if path == "" || (user == "" && remove == "") {
		fs.Usage()
		return exitUsage
	}
	ul, err := pgbouncer.ReadUserlist(path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer userlist: %v\n", err)
		return exitCheck
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
		fmt.Fprintf(env.Stdout, "set %s: %s\n", user, v)
	}
	if remove != "" {
		ul.Delete(remove)
		fmt.Fprintf(env.Stdout, "removed %s\n", remove)
	}
	if err := pgbouncer.WriteUserlist(path, ul); err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer userlist: %v\n", err)
		return exitCheck
	}
	return exitOK
}

func bouncerReload(ctx context.Context, env *Env, args []string) int {
	var adminFile, confirm, reconnect string
	var waitClose bool
	fs := newFlags(env, "pgbouncer reload", "rotate pgbouncer reload [--admin-url-file FILE] [--confirm NAME,…] [--reconnect DB] [--wait-close]\n\n"+
		"Connects to the PgBouncer admin console (PGBOUNCER_ADMIN_URL, or the DSN in --admin-url-file),\n"+
		"sends RELOAD so a rewritten userlist.txt takes effect, and checks SHOW USERS lists every\n"+
		"--confirm user. Exit 1 when RELOAD, the confirmation or RECONNECT fails.")
	fs.StringVar(&adminFile, "admin-url-file", "", "file holding the PgBouncer admin console DSN (default: $PGBOUNCER_ADMIN_URL)")
	fs.StringVar(&confirm, "confirm", "", "comma-separated users SHOW USERS must list after RELOAD")
	fs.StringVar(&reconnect, "reconnect", "", "RECONNECT this database (\"*\" for all) so old server connections close")
	fs.BoolVar(&waitClose, "wait-close", false, "with --reconnect: WAIT_CLOSE until they are closed")
	if code, done := parse(fs, args); done {
		return code
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
	if err == nil && confirm != "" {
		var names []string
		for _, n := range strings.Split(confirm, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		err = adm.Confirm(ctx, names...)
	}
	if err == nil && reconnect != "" {
		db := reconnect
		if db == "*" {
			db = ""
		}
		err = adm.Reconnect(ctx, db)
		if err == nil && waitClose {
			err = adm.WaitClose(ctx, db)
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pgbouncer reload: %v\n", err)
		return exitCheck
	}
	fmt.Fprintln(env.Stdout, "reloaded")
	return exitOK
}

func pgRollback(ctx context.Context, env *Env, args []string) int {
	var adminFile, role string
	var timeout time.Duration
	fs := newFlags(env, "pg rollback", "rotate pg rollback --role OLD [--timeout 10m]\n\n"+
		"Undoes the unfinished rotation of OLD before its retire (runbook §5.7): point the applications\n"+
		"back at OLD first. Waits for the new role's sessions to end, reassigns what it owns, drops it\n"+
		"and clears the rotation's record. Refused once the old role was retired.")
	fs.StringVar(&adminFile, dsnFileFlag, "", dsnFileUsage)
	fs.StringVar(&role, "role", "", "the old login role (the one the rotation started from)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting for the new role's sessions after this long")
	if code, done := parse(fs, args); done {
		return code
	}
	if role == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
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
	applied, err := adm.Rollback(ctx, p, pgrole.DrainOptions{Timeout: timeout})
	for _, a := range applied {
		fmt.Fprintf(env.Stdout, "applied rollback: %s;\n", a)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate pg rollback: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(env.Stdout, "rolled back: %s dropped, %s is the login role again\n", p.New, role)
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
		return nil, codeFor(err)
	}
	fmt.Fprintf(env.Stderr, "rotate pg apply: applying the plan in %s: %s -> %s, verifier fp=%s, catalog unchanged since planning\n", path, p.Old, p.New, p.Verifier().Fingerprint())
	return p, exitOK
}
