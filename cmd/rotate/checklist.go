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
	"jwt": {"`rotate keygen jwt`, once for access and once for refresh", []string{
		"Stage: JWT_SECRET_NEXT / JWT_REFRESH_SECRET_NEXT set on every instance (rotate jwt status shows slot next)",
		"Promote: JWT_SECRET=new, JWT_SECRET_PREVIOUS=old, JWT_SECRET_PREVIOUS_SINCE=promotion time (same for refresh), one instance at a time",
		"auth_jwt_verified_total{slot=\"previous\"} at zero before retiring the previous keys",
	}},
	"field": {"`rotate keygen field`", []string{
		"Phase 1: new key deployed as FIELD_ENCRYPTION_KEY_PREVIOUS everywhere (all instances can read it)",
		"Phase 2: FIELD_ENCRYPTION_KEY=new, FIELD_ENCRYPTION_KEY_PREVIOUS=old",
		"rotate field reencrypt finished; rotate field census shows zero rows on the old key id",
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
	"redis":        {"`rotate keygen redis`", nil},
	"oauth":        {"provider console", nil},
	"storage":      {"MinIO console / mc admin", nil},
	"notification": {"provider console", nil},
}

var envName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

func runChecklist(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "checklist", "rotate checklist [--stdin | --fingerprint FP] <class> <env>\n\n"+
		"Prints the runbook's §7 checklist for a rotation ticket, with the new secret's\n"+
		"fingerprint filled in (read the new secret from stdin with --stdin).\n"+
		"classes: "+classIDs())
	fromStdin := fs.Bool("stdin", false, "read the new secret from stdin and fill in its fingerprint")
	fp := fs.String("fingerprint", "", "the new secret's fingerprint, when it was computed elsewhere")
	refreshTTL := fs.Duration("refresh-ttl", 30*24*time.Hour, "JWT only: longest refresh-token TTL, for the overlap end date")
	margin := fs.Duration("margin", 24*time.Hour, "JWT only: margin after the longest TTL")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	classID, envID := fs.Arg(0), fs.Arg(1)
	class, ok := secretenv.Lookup(classID)
	if !ok {
		fmt.Fprintf(env.Stderr, "rotate checklist: unknown class %q (known: %s)\n", classID, classIDs())
		return exitUsage
	}
	if !envName.MatchString(envID) {
		fmt.Fprintf(env.Stderr, "rotate checklist: environment %q: want a short lowercase name such as staging or production\n", envID)
		return exitUsage
	}
	switch {
	case *fromStdin && *fp != "":
		fmt.Fprintln(env.Stderr, "rotate checklist: give --stdin or --fingerprint, not both")
		return exitUsage
	case *fromStdin:
		b, err := readSecret(env, "new secret: ", false)
		if errors.Is(err, ErrEmptySecret) {
			fmt.Fprintln(env.Stderr, "rotate checklist: empty input on stdin")
			return exitUsage
		} else if err != nil {
			fmt.Fprintf(env.Stderr, "rotate checklist: read stdin: %v\n", err)
			return exitUsage
		}
		*fp = fingerprint.Of(b)
	case *fp != "" && !fingerprint.Valid(*fp):
		fmt.Fprintln(env.Stderr, "rotate checklist: --fingerprint must be 16 lowercase hex characters")
		return exitUsage
	}
	if *fp == "" {
		*fp = "________________"
	}
	overlap := "n/a"
	if classID == "jwt" {
		overlap = env.now().Add(*refreshTTL+*margin).UTC().Format("2006-01-02 15:04 MST") +
			fmt.Sprintf(" (refresh TTL %s + margin %s from now)", *refreshTTL, *margin)
	}
	p := procedure[classID]
	var b strings.Builder
	fmt.Fprintf(&b, "## Rotation — %s — %s\n", class.Name, envID)
	line := func(s string) { b.WriteString("- [ ] " + s + "\n") }
	line("Ticket opened in Paperclip; linked to [GOO-121](/GOO/issues/GOO-121)")
	line("Change window booked (date/time ICT)")
	line("Staging rehearsal completed (date, drill report link: rotate drill)")
	line("Buddy on-call: <name>")
	line("New secret generated with " + p.generate)
	line("New-secret fingerprint (SHA-256 first 16 chars): `" + *fp + "`")
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
	fmt.Fprint(env.Stdout, b.String())
	return exitOK
}
