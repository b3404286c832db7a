package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodgo/rotation/fingerprint"
)

// The audit trail (runbook golden rule: "every rotation creates an audit
// trail: ticket, who rotated, when, new key fingerprint"). Every command that
// changes something (see mutating) appends one JSON line, an AuditRecord, to
// the audit log named by --audit-log or ROTATE_AUDIT_LOG: a file path
// (created 0600, appended to) or a postgres:// DSN (table rotation_audit,
// created when missing). A dry run, --help and bad usage change nothing and
// are not recorded. When an audit log is configured but cannot be opened, the
// command does not run: a change is never made without its record.
//
// Settings, as global flags before the command or variables:
//
//	--audit-log / ROTATE_AUDIT_LOG   file path or postgres:// DSN
//	--ticket    / ROTATE_TICKET      the rotation ticket (e.g. GOO-121)
//	--actor     / ROTATE_ACTOR       who rotates (default: $SUDO_USER, $USER or the OS user, @host)

// AuditRecord is one line of the audit log. Times are RFC 3339 in UTC;
// fingerprints are 16 hex characters, never a secret.
type AuditRecord struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Ticket  string    `json:"ticket,omitempty"`
	Command string    `json:"command"` // "pg apply"
	Args    []string  `json:"args"`    // the rest of the command line, URL passwords redacted
	Target  string    `json:"target,omitempty"`
	// Before and After map a slot or secret name to its fingerprint.
	Before   map[string]string `json:"fingerprints_before,omitempty"`
	After    map[string]string `json:"fingerprints_after,omitempty"`
	Outcome  string            `json:"outcome"` // "ok", "failed" (a check failed) or "error"
	ExitCode int               `json:"exit_code"`
}

// mutating lists the commands (with their verb) that change something.
// A command of this list is recorded unless it runs with --dry-run.
var mutating = map[string]bool{
	"pg apply": true, "pg retire": true, "pg drain": true, "pg rollback": true,
	"pgbouncer reload": true, "pgbouncer userlist": true,
	"jwt flush-sessions": true, "jwt stage": true, "jwt promote": true, "jwt retire": true,
	"jwt revoke-refresh": true, "jwt incident": true,
	"field reencrypt": true, "field stage": true, "field promote": true, "field retire": true,
	"redis apply": true, "redis retire": true, "redis drain": true, "redis rollback": true,
	"keygen": true, // only with -o FILE: see isMutation
}

// audit is what a running command adds to its record.
type audit struct {
	target        string
	before, after map[string]string
}

// auditTarget names what the command changed ("role goodgo_app", a
// directory, a Redis prefix). A command that changes several things (jwt
// incident: the directory, the Redis prefix, the refresh tokens) names each,
// in order, separated by "; ".
func (e *Env) auditTarget(target string) {
	if e.audit == nil {
		return
	}
	switch {
	case e.audit.target == "":
		e.audit.target = target
	case e.audit.target != target:
		e.audit.target += "; " + target
	}
}

// absPath is p made absolute for the audit record: "directory secrets"
// names nothing once read away from the shell it was typed in. p unchanged
// when it cannot be made absolute.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// auditFingerprint records the fingerprint of the secret in slot before and
// after the change ("" when there was none, or none is left).
func (e *Env) auditFingerprint(slot, before, after string) {
	if e.audit == nil {
		return
	}
	if e.audit.before == nil {
		e.audit.before, e.audit.after = map[string]string{}, map[string]string{}
	}
	if before != "" {
		e.audit.before[slot] = before
	}
	if after != "" {
		e.audit.after[slot] = after
	}
}

// commandName returns "pg apply" for ["pg", "apply", …] when the command has
// verbs, else the command alone, and the remaining arguments.
func commandName(args []string) (string, []string) {
	if len(args) > 1 && mutating[args[0]+" "+args[1]] {
		return args[0] + " " + args[1], args[2:]
	}
	return args[0], args[1:]
}

// isMutation reports whether this command line changes something.
func isMutation(name string, rest []string) bool {
	if !mutating[name] {
		return false
	}
	for _, a := range rest {
		switch {
		case a == "--":
			return name != "keygen"
		case a == "--dry-run" || a == "-dry-run" || strings.HasPrefix(a, "--dry-run=true") || a == "-h" || a == "--help" || a == "-help":
			return false
		case name == "keygen" && (a == "-o" || a == "--o" || strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--o=") ||
			a == "--out" || strings.HasPrefix(a, "--out=")):
			return true
		}
	}
	return name != "keygen"
}

// globalFlags takes the global audit flags from the front of args.
func globalFlags(env *Env, args []string) (rest []string, err error) {
	// Output flags given before the command (rotate -o json jwt status) are
	// the command's: they move behind its other arguments, where every
	// command takes its flags.
	var output []string
	defer func() {
		if err == nil && len(rest) > 0 {
			rest = append(rest, output...)
		} else if err == nil && len(output) > 0 {
			err = fmt.Errorf("%s needs a command after it (rotate %s jwt status)", output[0], strings.Join(output, " "))
		}
	}()
	for len(args) > 0 {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if strings.HasPrefix(args[0], "-") && name == "json" {
			output, args = append(output, args[0]), args[1:]
			continue
		}
		if strings.HasPrefix(args[0], "-") && name == "o" {
			if !hasValue {
				if len(args) < 2 {
					return nil, fmt.Errorf("flag %s needs a value (text or json)", args[0])
				}
				output, args = append(output, args[0], args[1]), args[2:]
				continue
			}
			output, args = append(output, args[0]), args[1:]
			continue
		}
		if !strings.HasPrefix(args[0], "-") || (name != "audit-log" && name != "ticket" && name != "actor" && name != "tz") {
			break
		}
		if !hasValue {
			if len(args) < 2 {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
			value, args = args[1], args[1:]
		}
		args = args[1:]
		switch name {
		case "audit-log":
			env.auditLog = value
		case "ticket":
			env.ticket = value
		case "actor":
			env.actor = value
		case "tz":
			env.tz = value
		}
	}
	return args, nil
}

var ticketPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/#-]{0,63}$`)

// withAudit runs one mutating command and appends its record.
func withAudit(ctx context.Context, env *Env, args []string, runCmd func() int) int {
	name, rest := commandName(args)
	logPath := firstNonEmpty(env.auditLog, env.getenv("ROTATE_AUDIT_LOG"))
	if !isMutation(name, rest) {
		return runCmd()
	}
	if logPath == "" {
		// Runbook golden rule: every rotation leaves an audit trail. Without
		// a log the change is recorded nowhere: say so, once, after it.
		code := runCmd()
		if code == exitOK && !isDryRun(rest) {
			fmt.Fprintln(env.Stderr, "rotate: no audit log (--audit-log / ROTATE_AUDIT_LOG): this change is recorded nowhere")
		}
		return code
	}
	ticket := firstNonEmpty(env.ticket, env.getenv("ROTATE_TICKET"))
	if ticket != "" && !ticketPattern.MatchString(ticket) {
		fmt.Fprintf(env.Stderr, "rotate: ticket %q: want letters, digits and . _ / # - (at most 64)\n", ticket)
		return exitUsage
	}
	sink, err := openAudit(ctx, logPath)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate: audit log: %v (nothing was changed)\n", err)
		return exitCheck
	}
	defer sink.Close()
	env.audit = &audit{}
	code := runCmd()
	rec := AuditRecord{
		Time: env.now().UTC().Truncate(time.Second), Actor: env.actorName(), Ticket: ticket,
		Command: name, Args: redactArgs(rest), Target: env.audit.target,
		Before: env.audit.before, After: env.audit.after, ExitCode: code,
	}
	switch code {
	case exitOK:
		rec.Outcome = "ok"
	case exitCheck:
		rec.Outcome = "failed"
	default:
		rec.Outcome = "error"
	}
	env.audit = nil
	if code == exitUsage {
		return code // bad usage: nothing ran
	}
	if err := sink.Append(ctx, rec); err != nil {
		fmt.Fprintf(env.Stderr, "rotate: the change above is NOT in the audit log: %v\n", err)
		return exitCheck
	}
	return code
}

// isDryRun reports whether a command's arguments ask for a dry run.
func isDryRun(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false // positional arguments from here on
		case "-dry-run", "--dry-run", "-dry-run=true", "--dry-run=true":
			return true
		}
	}
	return false
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (e *Env) actorName() string {
	a := firstNonEmpty(e.actor, e.getenv("ROTATE_ACTOR"))
	if a != "" {
		return a
	}
	a = firstNonEmpty(e.getenv("SUDO_USER"), e.getenv("USER"))
	if a == "" {
		if u, err := user.Current(); err == nil {
			a = u.Username
		} else {
			a = "unknown"
		}
	}
	if h, err := os.Hostname(); err == nil {
		a += "@" + h
	}
	return a
}

// redactArgs drops the password of any URL in args (arguments never carry
// secrets, but an operator may paste a DSN).
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = urlPassword.ReplaceAllString(a, "${1}[redacted]@")
	}
	return out
}

// auditSink is where records go.
type auditSink interface {
	Append(ctx context.Context, r AuditRecord) error
	io.Closer
}

func openAudit(ctx context.Context, where string) (auditSink, error) {
	if strings.HasPrefix(where, "postgres://") || strings.HasPrefix(where, "postgresql://") {
		return openPostgresAudit(ctx, where)
	}
	if err := os.MkdirAll(filepath.Dir(where), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(where, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o022 != 0 {
		f.Close()
		return nil, fmt.Errorf("%s is writable by others (mode %v): chmod go-w it", where, st.Mode().Perm())
	}
	return fileAudit{f}, nil
}

type fileAudit struct{ f *os.File }

// Append writes the record as one line in one write, so records of
// concurrent commands never interleave (O_APPEND).
func (a fileAudit) Append(_ context.Context, r AuditRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return a.f.Sync()
}

func (a fileAudit) Close() error { return a.f.Close() }

// auditTable is created when missing; each row holds one record.
const auditTable = `CREATE TABLE IF NOT EXISTS rotation_audit (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL,
	ticket text,
	command text NOT NULL,
	record jsonb NOT NULL
)`

type pgAudit struct{ conn *pgx.Conn }

func openPostgresAudit(ctx context.Context, dsn string) (auditSink, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %s", oneLine(err))
	}
	if _, err := conn.Exec(ctx, auditTable); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("create rotation_audit: %s", oneLine(err))
	}
	return pgAudit{conn}, nil
}

func (a pgAudit) Append(ctx context.Context, r AuditRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = a.conn.Exec(ctx, `INSERT INTO rotation_audit (at, ticket, command, record) VALUES ($1, NULLIF($2, ''), $3, $4)`,
		r.Time, r.Ticket, r.Command, b)
	return err
}

func (a pgAudit) Close() error { return a.conn.Close(context.Background()) }

// oneLine flattens a multi-line error for one line of output.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// readAudit reads the records of a file audit log, for the checklist.
func readAudit(path string) ([]AuditRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []AuditRecord
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: not an audit record", path, i+1)
		}
		for _, fp := range r.After {
			if !fingerprint.Valid(fp) {
				return nil, fmt.Errorf("%s line %d: %w", path, i+1, errors.New("a fingerprint is not 16 hex characters"))
			}
		}
		out = append(out, r)
	}
	return out, nil
}
