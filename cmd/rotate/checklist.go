package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "checklist", summary: "print the §7 rotation checklist with the new secret's fingerprint", run: runChecklist})
}

// procedure is the class-specific part of the checklist: how the new
// secret is made and the steps this library adds to the runbook.
var procedure = map[string]struct {
	generate string // markdown: a command in backticks, or where the provider issues it
	steps    []string
}{
	"jwt": {"`rotate jwt stage --dir DIR` (or `rotate keygen jwt`, once for access and once for refresh)", []string{
		"Stage: JWT_SECRET_NEXT / JWT_REFRESH_SECRET_NEXT set on every instance (rotate jwt fleet --dir DIR --file F: all in sync)",
		"Promote: rotate jwt promote --dir DIR --fleet-file F (JWT_SECRET=new, JWT_SECRET_PREVIOUS=old, JWT_SECRET_PREVIOUS_SINCE=promotion time, same for refresh); rotate jwt fleet in sync",
		"auth_jwt_verified_total{slot=\"previous\"} at zero before retiring the previous keys",
	}},
	"field": {"`rotate field stage --dir DIR` (or `rotate keygen field`)", []string{
		"Stage: FIELD_ENCRYPTION_KEY_NEXT=new on every instance (all can decrypt with it before any encrypts)",
		"Promote: rotate field promote --dir DIR --fleet-file F (FIELD_ENCRYPTION_KEY=new, FIELD_ENCRYPTION_KEY_PREVIOUS=old, FIELD_ENCRYPTION_KEY_NEXT removed)",
		"rotate field reencrypt finished; rotate field verify passes; rotate field census shows zero values on the previous key in every encrypted column",
	}},
	"vnpay":   {"provider portal", []string{"VNPAY_HASH_SECRET_PREVIOUS=old with VNPAY_HASH_SECRET_PREVIOUS_UNTIL=rotation time + 24 h", "rotate payment smoke vnpay passed"}},
	"momo":    {"provider portal", []string{"MOMO_*_PREVIOUS=old with MOMO_SECRET_KEY_PREVIOUS_UNTIL=rotation time + 24 h", "rotate payment smoke momo passed"}},
	"zalopay": {"provider portal (ticket for production)", []string{"ZALOPAY_KEY*_PREVIOUS=old with ZALOPAY_KEY*_PREVIOUS_UNTIL=rotation time + 48 h", "rotate payment smoke zalopay passed"}},
	"webhook": {"`rotate keygen webhook`", []string{"Sender signs with both secrets during the overlap", "rotate payment smoke webhook passed"}},
	"db": {"`rotate keygen db`", []string{
		"rotate pg plan reviewed by the buddy; rotate pg verify shows an empty privilege diff",
		"PgBouncer userlist updated and RELOADed; SHOW USERS lists the new role",
		"rotate pg drain: no session left on the old role",
	}},
	"redis": {"`rotate keygen redis`", []string{
		"rotate redis plan reviewed by the buddy: every node listed (primary, replicas or every Cluster node), each persisting (ACL SAVE or CONFIG REWRITE)",
		"rotate redis apply done; rotate redis verify: the new password logs in on every node, rules identical both ways (alternate)",
		"Services switched through the credentials file (REDIS_USERNAME / REDIS_PASSWORD or REDIS_URL), no restart; rotate redis drain: no client left on the old user (dual: window passed)",
		"rotate redis retire --yes: the old password refused on every node",
	}},
	"oauth":        {"provider console", nil},
	"storage":      {"MinIO console / mc admin", nil},
	"notification": {"provider console", nil},
}

var envName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

func runChecklist(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "checklist", "rotate checklist [--stdin | --fingerprint FP] [--promoted-at TIME] <class> <env>\n\n"+
		"Prints the runbook's §7 checklist for a rotation ticket, with the new secret's\n"+
		"fingerprint filled in (read the new secret from stdin with --stdin; for jwt, the\n"+
		"access secret then, on a second line, the refresh secret). With --from-audit the\n"+
		"fingerprints and the promotion time come from the audit log's records of --ticket.\n"+
		"Times are in the zone of --tz / ROTATE_TZ (default: the machine's).\n"+
		"classes: "+classIDs())
	fromStdin := fs.Bool("stdin", false, "read the new secret from stdin and fill in its fingerprint")
	fp := fs.String("fingerprint", "", "the new secret's fingerprint, when it was computed elsewhere (jwt: the access secret's)")
	refreshFP := fs.String("refresh-fingerprint", "", "JWT only: the new refresh secret's fingerprint")
	promotedAt := fs.String("promoted-at", "", "JWT only: when the new keys were promoted (RFC 3339), for the overlap end")
	fromAudit := fs.Bool("from-audit", false, "fill fingerprints and the promotion time from the audit log (--audit-log / ROTATE_AUDIT_LOG) for --ticket / ROTATE_TICKET")
	refreshTTL := fs.Duration("refresh-ttl", 30*24*time.Hour, "JWT only: longest refresh-token TTL, for the overlap end date")
	margin := fs.Duration("margin", 24*time.Hour, "JWT only: margin after the longest TTL")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 2 {
		return wrongArgs(fs, "two arguments: <class> <environment>")
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rotate checklist: "+format+"\n", a...)
		return exitUsage
	}
	classID, envID := fs.Arg(0), fs.Arg(1)
	class, ok := secretenv.LookupClass(classID)
	if !ok {
		return fail("unknown class %q (known: %s)", classID, classIDs())
	}
	if !envName.MatchString(envID) {
		return fail("environment %q: want a short lowercase name such as staging or production", envID)
	}
	loc, err := env.zone()
	if err != nil {
		return fail("%v", err)
	}
	var promoted time.Time
	incident := false
	if *promotedAt != "" {
		if promoted, err = time.Parse(time.RFC3339, *promotedAt); err != nil {
			return fail("--promoted-at %q: want RFC 3339, e.g. 2026-12-02T02:10:00+07:00", *promotedAt)
		}
	}
	sources := 0
	for _, set := range []bool{*fromStdin, *fp != "" || *refreshFP != "", *fromAudit} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return fail("give one of --stdin, --fingerprint or --from-audit")
	}
	switch {
	case *fromStdin:
		b, err := readSecret(env, "new secret: ", false)
		if errors.Is(err, ErrEmptySecret) {
			return fail("empty input on stdin")
		} else if err != nil {
			return fail("read stdin: %v", err)
		}
		access, refresh, two := strings.Cut(string(b), "\n")
		if two && classID != "jwt" {
			return fail("stdin holds more than one line: give one secret (jwt alone takes access, then refresh)")
		}
		*fp = fingerprint.OfString(access)
		if two && refresh != "" {
			*refreshFP = fingerprint.OfString(strings.TrimSuffix(refresh, "\n"))
		}
	case *fromAudit:
		a, err := checklistFromAudit(env, classID)
		if err != nil {
			return fail("%v", err)
		}
		*fp, *refreshFP = a.access, a.refresh
		if promoted.IsZero() {
			promoted = a.promoted
		}
		incident = a.incident
	}
	for _, f := range []string{*fp, *refreshFP} {
		if f != "" && !fingerprint.Valid(f) {
			return fail("a fingerprint must be 16 lowercase hex characters")
		}
	}
	blank := func(s string) string {
		if s == "" {
			return "________________"
		}
		return s
	}
	overlap := "n/a"
	if classID == "jwt" && incident && promoted.IsZero() {
		overlap = "none (incident rotation: the previous keys were dropped at once)"
	} else if classID == "jwt" {
		basis := fmt.Sprintf("promotion + refresh TTL %s + margin %s", *refreshTTL, *margin)
		if promoted.IsZero() {
			overlap = "____ (" + basis + "; give --promoted-at or --from-audit)"
		} else {
			overlap = promoted.Add(*refreshTTL+*margin).In(loc).Format(timeLayout) + " (" + basis +
				", promoted " + promoted.In(loc).Format(timeLayout) + ")"
		}
	}
	p := procedure[classID]
	var b strings.Builder
	fmt.Fprintf(&b, "## Rotation — %s — %s\n", class.Name, envID)
	var items []string
	line := func(s string) { items = append(items, s); b.WriteString("- [ ] " + s + "\n") }
	if t := firstNonEmpty(env.ticket, env.getenv("ROTATE_TICKET")); t != "" && ticketPattern.MatchString(t) {
		line("Ticket " + t + " opened in Paperclip; linked to [GOO-121](/GOO/issues/GOO-121)")
	} else {
		line("Ticket opened in Paperclip; linked to [GOO-121](/GOO/issues/GOO-121)")
	}
	line("Change window booked (date/time " + zoneLabel(loc, env.now()) + ")")
	line("Staging rehearsal completed (date, drill report link: rotate drill)")
	line("Buddy on-call: <name>")
	line("New secret generated with " + p.generate)
	if classID == "jwt" {
		line("New JWT_SECRET fingerprint (SHA-256 first 16 chars): `" + blank(*fp) + "`")
		line("New JWT_REFRESH_SECRET fingerprint (SHA-256 first 16 chars): `" + blank(*refreshFP) + "`")
	} else {
		line("New-secret fingerprint (SHA-256 first 16 chars): `" + blank(*fp) + "`")
	}
	line("Secret store updated (do not paste the value here)")
	for _, s := range p.steps {
		line(s)
	}
	line("Deploy rolled; readiness probes green")
	line("Smoke + metrics verified (link to dashboard snapshot)")
	line("Overlap window end date (JWT only): " + overlap)
	line("Old secret retired / role dropped (timestamp)")
	line("Post-rotation audit note in ticket")
	line("Runbook updated if anything surprised us")
	if of.json(env) {
		type checklist struct {
			Class       string     `json:"class"`
			Environment string     `json:"environment"`
			Fingerprint string     `json:"fingerprint,omitempty"`
			RefreshFP   string     `json:"refresh_fingerprint,omitempty"`
			PromotedAt  *time.Time `json:"promoted_at,omitempty"`
			OverlapEnd  *time.Time `json:"overlap_end,omitempty"`
			Items       []string   `json:"items"`
		}
		c := checklist{Class: classID, Environment: envID, Fingerprint: *fp, RefreshFP: *refreshFP, Items: items}
		if classID == "jwt" && !promoted.IsZero() {
			c.PromotedAt, c.OverlapEnd = utcPtr(promoted), utcPtr(promoted.Add(*refreshTTL+*margin))
		}
		writeJSON(env.Stdout, c)
		return exitOK
	}
	fmt.Fprint(env.Stdout, b.String())
	return exitOK
}

// auditFill is what the audit log says of one ticket's rotation.
type auditFill struct {
	access, refresh string
	promoted        time.Time
	// incident: the newest record is a "jwt incident" (new keys, no
	// previous): there is no overlap window, whatever an earlier promotion
	// under the ticket said.
	incident bool
}

// checklistFromAudit reads the file audit log's successful records of the
// ticket: the newest fingerprints recorded after a change (for jwt, those of
// JWT_SECRET* and JWT_REFRESH_SECRET* separately) and the time of the newest
// "jwt promote".
func checklistFromAudit(env *Env, classID string) (auditFill, error) {
	var a auditFill
	path := firstNonEmpty(env.auditLog, env.getenv("ROTATE_AUDIT_LOG"))
	ticket := firstNonEmpty(env.ticket, env.getenv("ROTATE_TICKET"))
	if path == "" || ticket == "" {
		return a, errors.New("--from-audit needs the audit log (--audit-log / ROTATE_AUDIT_LOG, a file) and --ticket / ROTATE_TICKET")
	}
	recs, err := readAudit(path)
	if err != nil {
		return a, fmt.Errorf("audit log: %v", err)
	}
	found := false
	for _, r := range recs {
		if r.Ticket != ticket || r.Outcome != "ok" || !auditOfClass(r.Command, classID) {
			continue
		}
		found = true
		switch r.Command {
		case "jwt promote":
			a.promoted, a.incident = r.Time, false
		case "jwt incident":
			a.promoted, a.incident = time.Time{}, true
		}
		for slot, fp := range r.After {
			if strings.HasSuffix(slot, "_PREVIOUS") {
				continue // the old key, moved aside by a promotion
			}
			switch {
			case classID == "jwt" && strings.Contains(slot, "JWT_REFRESH_SECRET"):
				a.refresh = fp
			case classID != "jwt" || strings.Contains(slot, "JWT_SECRET"):
				a.access = fp
			}
		}
	}
	if !found {
		return a, fmt.Errorf("the audit log has no successful %s record for ticket %q", classID, ticket)
	}
	return a, nil
}

// auditOfClass reports whether an audit record's command rotates secrets of
// the class ("pg apply" is a db rotation).
func auditOfClass(command, classID string) bool {
	prefixes := map[string][]string{"jwt": {"jwt "}, "db": {"pg ", "pgbouncer "}, "field": {"field "}, "redis": {"redis "}}[classID]
	if prefixes == nil {
		prefixes = []string{"payment ", "keygen"}
	}
	for _, p := range prefixes {
		if strings.HasPrefix(command, p) {
			return true
		}
	}
	return false
}
