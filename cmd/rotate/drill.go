package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goodgo/rotation/internal/drill"
)

func init() {
	register(command{name: "drill", summary: "run a whole rotation drill locally and write the §8 drill report", run: runDrill})
}

// Local services probed when neither the environment nor a flag names one.
const (
	localDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	localRedisURL    = "redis://127.0.0.1:6379/0"
)

func runDrill(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "drill", "rotate drill [flags]\n\n"+
		"Runs a whole rotation drill and writes the runbook's §8 drill report (Markdown).\n"+
		"In-process phases always run: staged JWT rotation under load, payment secret rotation\n"+
		"with IPN retries signed by the old secret, field key rotation over an in-memory store.\n"+
		"When Postgres (DATABASE_URL, or the local default) is reachable it also rotates a real\n"+
		"role under a live pgx pool (through PgBouncer when installed) and re-encrypts a real\n"+
		"table; when Redis (REDIS_URL, or the local default) is reachable it flushes a real\n"+
		"session prefix and rotates the Redis password of a private redis-server and replica it\n"+
		"starts (both strategies, under a live go-redis pool: failed commands must be 0).\n"+
		"A service that is configured (variable, flag or file) but cannot be reached fails its\n"+
		"phases; only an unconfigured one whose local default does not answer is skipped.\n"+
		"Times are in --tz / ROTATE_TZ (default: local). Exit 1 when a phase failed.")
	out := fs.String("out", "", "report file (default drill-report-<time>.md; - for stdout)")
	dbURL := fs.String("database-url", "", "superuser DSN for the Postgres phases (no password here: use DATABASE_URL or --database-url-file)")
	dbURLFile := fs.String("database-url-file", "", "file holding the superuser DSN")
	redisURL := fs.String("redis-url", "", "Redis URL for the flush phase (no password here: use REDIS_URL or --redis-url-file)")
	redisURLFile := fs.String("redis-url-file", "", "file holding the Redis URL")
	inProcess := fs.Bool("in-process", false, "run only the in-process phases, even if services are reachable")
	envName := fs.String("env", "local", "environment name for the report")
	by := fs.String("by", "", "who runs the drill (default: $USER)")
	buddy := fs.String("buddy", "", "the break-glass buddy")
	instances := fs.Int("instances", 4, "API instances in the JWT phase")
	clients := fs.Int("clients", 8, "concurrent API clients in the JWT phase")
	rows := fs.Int("rows", 2000, "rows in the field-encryption phases")
	of := addOutputFlags(fs)
	fromAudit := fs.Bool("from-audit", false, "add the ticket's audit trail (--audit-log / ROTATE_AUDIT_LOG, a file; --ticket / ROTATE_TICKET) to the report")
	only := fs.String("only", "", "comma-separated phases to run (default all): "+strings.Join(drill.PhaseIDs(), ", "))
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	db, err := pickURL(env, "DATABASE_URL", *dbURL, *dbURLFile, localDatabaseURL)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate drill: %v\n", err)
		return exitUsage
	}
	rd, err := pickURL(env, "REDIS_URL", *redisURL, *redisURLFile, localRedisURL)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate drill: %v\n", err)
		return exitUsage
	}
	dbConfigured := *dbURL != "" || *dbURLFile != "" || env.getenv("DATABASE_URL") != ""
	rdConfigured := *redisURL != "" || *redisURLFile != "" || env.getenv("REDIS_URL") != ""
	if *inProcess {
		db, rd = "", ""
	}
	loc, err := env.zone()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate drill: %v\n", err)
		return exitUsage
	}
	var phases []string
	if *only != "" {
		known := strings.Join(drill.PhaseIDs(), ",")
		for _, id := range strings.Split(*only, ",") {
			if !strings.Contains(","+known+",", ","+id+",") {
				fmt.Fprintf(env.Stderr, "rotate drill: unknown phase %q (known: %s)\n", id, known)
				return exitUsage
			}
			phases = append(phases, id)
		}
	}
	if *by == "" {
		*by = env.getenv("USER")
	}
	var trail []AuditRecord
	if *fromAudit {
		if trail, err = ticketAudit(env); err != nil {
			fmt.Fprintf(env.Stderr, "rotate drill: --from-audit: %v\n", err)
			return exitUsage
		}
	}
	r := drill.Run(ctx, drill.Options{
		Env: *envName, By: *by, Buddy: *buddy, DatabaseURL: db, RedisURL: rd,
		Instances: *instances, Clients: *clients, Rows: *rows, Only: phases, Progress: env.Stderr, Now: env.now,
		DatabaseConfigured: dbConfigured, RedisConfigured: rdConfigured, Version: version(), Location: loc,
	})
	md := r.Markdown()
	if *fromAudit {
		md += auditMarkdown(env, trail)
	}
	switch {
	case of.json(env):
		path := ""
		if *out != "-" {
			path = *out
			if path == "" {
				path = "drill-report-" + env.now().In(loc).Format("20060102-150405-0700") + ".md"
			}
			if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
				fmt.Fprintf(env.Stderr, "rotate drill: write report: %v\n", err)
				return exitCheck
			}
		}
		doc := drillJSON(r, path)
		if *fromAudit {
			doc.Audit = trail
		}
		writeJSON(env.Stdout, doc)
	case *out == "-":
		fmt.Fprint(env.Stdout, md)
	default:
		path := *out
		if path == "" {
			// The file name carries the same zone as the report's times.
			path = "drill-report-" + env.now().In(loc).Format("20060102-150405-0700") + ".md"
		}
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			fmt.Fprintf(env.Stderr, "rotate drill: write report: %v\n", err)
			return exitCheck
		}
		fmt.Fprintf(env.Stdout, "drill report written to %s\n", path)
		auth, pay := 0, 0
		for _, p := range r.Phases {
			auth += p.AuthErrors
			pay += p.PaymentFailures
			fmt.Fprintf(env.Stdout, "  %-44s %-8s %s\n", p.Name, p.Outcome, strings.TrimSpace(p.Reason))
		}
		fmt.Fprintf(env.Stdout, "auth errors: %d, payment failures: %d, took %s\n", auth, pay, r.Ended.Sub(r.Started).Round(time.Millisecond))
	}
	if !r.OK() {
		return exitCheck
	}
	return exitOK
}

// drillSummary is the JSON of a drill.
type drillSummary struct {
	OK         bool         `json:"ok"`
	ReportFile string       `json:"report_file,omitempty"`
	Version    string       `json:"version"`
	Started    time.Time    `json:"started"`
	Ended      time.Time    `json:"ended"`
	Phases     []drillPhase `json:"phases"`
	// Audit is the ticket's audit trail, with --from-audit.
	Audit []AuditRecord `json:"audit,omitempty"`
}

type drillPhase struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Class           string            `json:"class"`
	Outcome         string            `json:"outcome"`
	Reason          string            `json:"reason,omitempty"`
	Seconds         float64           `json:"seconds"`
	AuthErrors      int               `json:"auth_errors"`
	PaymentFailures int               `json:"payment_failures"`
	Fingerprints    map[string]string `json:"fingerprints,omitempty"`
}

func drillJSON(r *drill.Report, path string) drillSummary {
	s := drillSummary{OK: r.OK(), ReportFile: path, Version: r.Version, Started: r.Started.UTC().Truncate(time.Second), Ended: r.Ended.UTC().Truncate(time.Second), Phases: []drillPhase{}}
	for _, p := range r.Phases {
		dp := drillPhase{ID: p.ID, Name: p.Name, Class: p.Class, Outcome: string(p.Outcome), Reason: p.Reason,
			Seconds: p.Duration().Round(time.Millisecond).Seconds(), AuthErrors: p.AuthErrors, PaymentFailures: p.PaymentFailures}
		if p.Outcome == drill.Skipped {
			dp.Seconds = 0
		}
		for _, f := range p.Fingerprints {
			if dp.Fingerprints == nil {
				dp.Fingerprints = map[string]string{}
			}
			dp.Fingerprints[f.Label] = f.FP
		}
		s.Phases = append(s.Phases, dp)
	}
	return s
}

// pickURL chooses a service URL: the flag (which must carry no password),
// then the file, then the environment variable, then the local default.
func pickURL(env *Env, variable, flagURL, file, local string) (string, error) {
	switch {
	case flagURL != "" && file != "":
		return "", fmt.Errorf("give --%s or --%s-file, not both", strings.ToLower(strings.ReplaceAll(variable, "_", "-")), strings.ToLower(strings.ReplaceAll(variable, "_", "-")))
	case flagURL != "":
		u, err := url.Parse(flagURL)
		if err != nil {
			return "", fmt.Errorf("%s flag: not a URL", variable)
		}
		if flagHasPassword(u, flagURL) {
			return "", fmt.Errorf("%s flag carries a password: pass it in %s or a file instead", variable, variable)
		}
		return flagURL, nil
	case file != "":
		b, err := readFileSecret(file)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	if v := env.getenv(variable); v != "" {
		return v, nil
	}
	return local, nil
}

// flagHasPassword reports whether a service address given on the command
// line carries a password anywhere a client would read one: the URL's user
// info, a "password" query parameter (libpq and pgx honour it), or a
// key=value DSN ("host=… password = …").
func flagHasPassword(u *url.URL, raw string) bool {
	if _, has := u.User.Password(); has {
		return true
	}
	return passwordParam.MatchString(raw)
}

var passwordParam = regexp.MustCompile(`(?i)(^|[\s?&])password\s*=`)

// ticketAudit reads the records of the ticket (--ticket / ROTATE_TICKET) in
// the file audit log (--audit-log / ROTATE_AUDIT_LOG), oldest first.
func ticketAudit(env *Env) ([]AuditRecord, error) {
	path := firstNonEmpty(env.auditLog, env.getenv("ROTATE_AUDIT_LOG"))
	ticket := firstNonEmpty(env.ticket, env.getenv("ROTATE_TICKET"))
	if path == "" || ticket == "" {
		return nil, errors.New("needs the audit log (--audit-log / ROTATE_AUDIT_LOG, a file) and --ticket / ROTATE_TICKET")
	}
	recs, err := readAudit(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %v", err)
	}
	out := []AuditRecord{}
	for _, r := range recs {
		if r.Ticket == ticket {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the audit log has no record for ticket %q", ticket)
	}
	return out, nil
}

// auditMarkdown is the report's "Audit trail" section: one table row per
// record (runbook golden rule: ticket, who rotated, when, new key
// fingerprint), times in the report's zone.
func auditMarkdown(env *Env, recs []AuditRecord) string {
	cell := func(s string) string {
		s = strings.Join(strings.Fields(s), " ") // one line: a table row
		if s == "" {
			return "-"
		}
		return strings.ReplaceAll(s, "|", `\|`)
	}
	var b strings.Builder
	ticket := ""
	if len(recs) > 0 {
		ticket = recs[0].Ticket
	}
	fmt.Fprintf(&b, "\n## Audit trail (ticket %s)\n\n", cell(ticket))
	b.WriteString("| time | actor | command | target | fingerprints after | outcome |\n|---|---|---|---|---|---|\n")
	for _, r := range recs {
		fps := make([]string, 0, len(r.After))
		for slot, fp := range r.After {
			fps = append(fps, slot+" "+fp)
		}
		sort.Strings(fps)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", env.fmtTime(r.Time), cell(r.Actor), cell(r.Command), cell(r.Target),
			cell(strings.Join(fps, ", ")), cell(r.Outcome))
	}
	return b.String()
}
