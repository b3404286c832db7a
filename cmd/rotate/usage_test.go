package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// TestHelpGoesToStdout: an explicit --help prints the usage on stdout and
// exits 0 for every command and every verb, as "rotate help" does; a bad
// flag prints the error and the usage on stderr and exits 2.
func TestHelpGoesToStdout(t *testing.T) {
	verbs := map[string][]string{
		"pg":        {"plan", "apply", "verify", "drain", "retire", "rollback", "status"},
		"pgbouncer": {"userlist", "reload"},
		"redis":     {"plan", "apply", "verify", "drain", "retire", "rollback"},
		"payment":   {"smoke"},
		"jwt":       {"status", "inspect", "sign", "flush-sessions"},
		"field":     {"census", "verify", "reencrypt", "encrypt", "decrypt"},
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var cases [][]string
	for _, n := range names {
		if vs, ok := verbs[n]; ok {
			for _, v := range vs {
				cases = append(cases, []string{n, v})
			}
			continue
		}
		cases = append(cases, []string{n})
	}
	for _, args := range cases {
		name := strings.Join(args, " ")
		for _, h := range []string{"--help", "-h"} {
			r := runCLI(t, nil, "", append(append([]string{}, args...), h)...)
			if r.code != exitOK || !strings.HasPrefix(r.stdout, "usage: rotate "+name) || r.stderr != "" {
				t.Errorf("%s %s: exit %d, stdout %.60q, stderr %.60q; want exit 0 and the usage on stdout only", name, h, r.code, r.stdout, r.stderr)
			}
		}
		r := runCLI(t, nil, "", append(append([]string{}, args...), "--no-such-flag")...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "flag provided but not defined: -no-such-flag") || !strings.Contains(r.stderr, "usage: rotate "+name) {
			t.Errorf("%s --no-such-flag: exit %d, stdout %.60q, stderr %.80q; want exit 2, error and usage on stderr", name, r.code, r.stdout, r.stderr)
		}
	}
}

// TestUsageErrorsNeedNoService: bad usage is reported (exit 2) before any
// connection is attempted, so no DSN is needed to see it.
func TestUsageErrorsNeedNoService(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pg", "plan"}, "rotate pg plan: missing required flag --role"},
		{[]string{"pg", "apply"}, "rotate pg apply: missing required flag --role"},
		{[]string{"pg", "plan", "--role", "app", "hunter2-password-on-argv"}, "never argv"},
		{[]string{"pg", "apply", "--role", "app", "--phase", "bogus"}, `--phase "bogus"`},
		// A later phase alone would plan the next free name, not the role
		// "--phase create" made.
		{[]string{"pg", "apply", "--role", "app", "--phase", "grant"}, "add --resume --new"},
		{[]string{"pg", "apply", "--role", "app", "--phase", "verify", "--resume"}, "add --resume --new"},
		{[]string{"pg", "apply", "--role", "app", "--phase", "grant", "--resume", "--new", "app_v2", "--userlist", "u.txt"}, "--userlist needs the create phase"},
		{[]string{"pg", "retire", "--role", "app", "--mode", "bogus"}, `--mode "bogus": use break-glass, nologin or drop`},
		{[]string{"pg", "retire", "--role", "app", "--mode", "break-glass"}, "needs --break-glass-out"},
		{[]string{"pg", "retire", "--role", "app"}, "rotate pg retire: missing required flag --mode"},
		{[]string{"pg", "drain"}, "rotate pg drain: missing required flag --role"},
		{[]string{"pg", "verify", "--old", "app"}, "rotate pg verify: missing required flag --new"},
		{[]string{"pgbouncer", "userlist", "--user", "app"}, "rotate pgbouncer userlist: missing required flag --userlist"},
		{[]string{"pgbouncer", "reload"}, "set PGBOUNCER_ADMIN_URL or pass --admin-url-file"},
		{[]string{"inventory", "--dir", filepath.Join(t.TempDir(), "no-such-dir")}, "is not a readable directory"},
		// A password never goes on argv, whatever the DSN's form.
		{[]string{"drill", "--database-url", "postgres://u:hunter2-password-on-argv@h/db"}, "carries a password"},
		{[]string{"drill", "--database-url", "postgres://u@h/db?sslmode=disable&password=hunter2-password-on-argv"}, "carries a password"},
		{[]string{"drill", "--database-url", "postgres://u@h/db?PassWord=hunter2-password-on-argv"}, "carries a password"},
		{[]string{"drill", "--database-url", "host=h user=u password=hunter2-password-on-argv"}, "carries a password"},
		{[]string{"drill", "--database-url", "host=h user=u password = hunter2-password-on-argv"}, "carries a password"},
		{[]string{"drill", "--redis-url", "redis://:hunter2-password-on-argv@h:6379/0"}, "carries a password"},
	} {
		r := runCLI(t, nil, "pw-from-stdin-0123456789", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
		assertNoSecret(t, r, "pw-from-stdin-0123456789", "hunter2-password-on-argv")
	}
}

// TestPGOperatorMistakes covers what an on-call engineer gets wrong: a
// mistyped role must not drain "successfully", a failed break-glass retire
// must not leave an unapplied password behind, and the DSN file flag has
// the same name as in "rotate field" and "rotate drill".
func TestPGOperatorMistakes(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app := testsvc.RoleName(t, "qa")
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL}

	r := runCLI(t, vars, "", "pg", "drain", "--role", app+"_typo", "--timeout", "1s")
	if r.code != exitCheck || !strings.Contains(r.stderr, "role not found") {
		t.Errorf("drain of a role that does not exist: %+v; want exit 1, role not found", r)
	}
	if r := runCLI(t, vars, "", "pg", "drain", "--role", app, "--timeout", "1s"); r.code != exitOK {
		t.Errorf("drain of an idle role: %+v", r)
	}

	out := filepath.Join(t.TempDir(), "breakglass")
	r = runCLI(t, vars, "", "pg", "retire", "--role", app+"_typo", "--mode", "break-glass", "--break-glass-out", out)
	if r.code != exitCheck || !strings.Contains(r.stderr, "role not found") {
		t.Errorf("break-glass of a role that does not exist: %+v", r)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("break-glass file left behind after a failed retire (stat: %v)", err)
	}

	// Phase by phase: create names the role, the later phases continue it.
	pw := "qa-phase-password-" + testsvc.Suffix()
	r = runCLI(t, vars, pw, "pg", "apply", "--role", app, "--phase", "create")
	newRole := app + "_v2"
	if r.code != exitOK || !strings.Contains(r.stdout, "continue: rotate pg apply --role "+app+" --resume --new "+newRole+" --phase grant") {
		t.Fatalf("apply --phase create: %+v", r)
	}
	for _, ph := range []string{"grant", "verify"} {
		r = runCLI(t, vars, pw, "pg", "apply", "--role", app, "--resume", "--new", newRole, "--phase", ph)
		if r.code != exitOK {
			t.Fatalf("apply --phase %s: %+v", ph, r)
		}
		assertNoSecret(t, r, pw)
	}
	if !strings.Contains(r.stdout, "new role "+newRole+" ready") {
		t.Errorf("after verify: %+v", r)
	}
	if r := runCLI(t, vars, "", "pg", "verify", "--old", app, "--new", newRole); r.code != exitOK {
		t.Errorf("verify after phase-by-phase apply: %+v", r)
	}

	dsn := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsn, []byte(db.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, "", "pg", "verify", "--database-url-file", dsn, "--old", app, "--new", app); r.code != exitOK {
		t.Errorf("pg verify --database-url-file: %+v", r)
	}
	if r := runCLI(t, nil, "", "pg", "verify", "--old", app, "--new", app); r.code != exitUsage || !strings.Contains(r.stderr, "--database-url-file") {
		t.Errorf("pg verify without a DSN: %+v; want exit 2 naming DATABASE_URL and --database-url-file", r)
	}
}

// TestResultStringMasksSecrets: failure messages print results with %+v;
// a generated secret in the output shows as its fingerprint only.
func TestResultStringMasksSecrets(t *testing.T) {
	r := runCLI(t, nil, "", "keygen", "jwt")
	secret := strings.TrimSpace(r.stdout)
	for _, out := range []string{fmt.Sprint(r), fmt.Sprintf("%v %+v %s", r, r, r)} {
		if strings.Contains(out, secret) {
			t.Fatal("a printed result shows the generated secret (message withheld)")
		}
		if !strings.Contains(out, "[token fp="+fingerprint.OfString(secret)+"]") {
			t.Fatalf("masked form missing: %s", out)
		}
	}
}

// TestMissingRequiredFlagNamed (issue 15 point 6): a command missing a
// required flag or argument names it on the first line of stderr, then its
// usage, and exits 2, before reading stdin or connecting anywhere.
func TestMissingRequiredFlagNamed(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		first string
	}{
		{[]string{"pg", "plan"}, "rotate pg plan: missing required flag --role"},
		{[]string{"pg", "apply"}, "rotate pg apply: missing required flag --role"},
		{[]string{"pg", "verify"}, "rotate pg verify: missing required flag --old and --new"},
		{[]string{"pg", "verify", "--new", "app_v2"}, "rotate pg verify: missing required flag --old"},
		{[]string{"pg", "drain"}, "rotate pg drain: missing required flag --role"},
		{[]string{"pg", "retire"}, "rotate pg retire: missing required flag --role and --mode"},
		{[]string{"pg", "retire", "--role", "app"}, "rotate pg retire: missing required flag --mode"},
		{[]string{"pg", "rollback"}, "rotate pg rollback: missing required flag --role"},
		{[]string{"pg", "status"}, "rotate pg status: missing required flag --role"},
		{[]string{"pgbouncer", "userlist"}, "rotate pgbouncer userlist: missing required flag --userlist"},
		{[]string{"pgbouncer", "userlist", "--userlist", "u.txt"}, "rotate pgbouncer userlist: missing required flag --user or --remove"},
		{[]string{"payment", "smoke"}, "rotate payment smoke: want one provider (vnpay, momo, zalopay or webhook), got none"},
		{[]string{"payment", "smoke", "--callback"}, "rotate payment smoke: want one provider"},
		{[]string{"redis", "plan"}, "rotate redis plan: missing required flag --user"},
		{[]string{"redis", "apply"}, "rotate redis apply: missing required flag --user"},
		{[]string{"redis", "verify"}, "rotate redis verify: missing required flag --user"},
		{[]string{"redis", "drain"}, "rotate redis drain: missing required flag --user"},
		{[]string{"redis", "retire"}, "rotate redis retire: missing required flag --user"},
		{[]string{"redis", "rollback"}, "rotate redis rollback: missing required flag --user"},
		{[]string{"jwt", "sign"}, "rotate jwt sign: missing required flag --sub"},
		{[]string{"jwt", "revoke-refresh"}, "rotate jwt revoke-refresh: missing required flag --sub ID or --all"},
		{[]string{"jwt", "stage"}, "rotate jwt stage: missing required flag --dir"},
		{[]string{"jwt", "retire"}, "rotate jwt retire: missing required flag --dir"},
		{[]string{"jwt", "incident"}, "rotate jwt incident: missing required flag --dir"},
		{[]string{"field", "stage"}, "rotate field stage: missing required flag --dir"},
		{[]string{"field", "census"}, "rotate field census: missing required flag --columns FILE, or --table T and at least one --column C"},
		{[]string{"field", "verify"}, "rotate field verify: missing required flag --columns FILE"},
		{[]string{"field", "reencrypt"}, "rotate field reencrypt: missing required flag --columns FILE"},
		{[]string{"keygen"}, "rotate keygen: want one class"},
		{[]string{"checklist"}, "rotate checklist: want two arguments"},
		{[]string{"completion"}, "rotate completion: want one shell"},
	} {
		name := strings.Join(tc.args, " ")
		r := runCLI(t, map[string]string{"FIELD_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}, "", tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != exitUsage || !strings.HasPrefix(first, tc.first) || !strings.Contains(r.stderr, "usage: rotate ") || r.stdout != "" {
			t.Errorf("%s: exit %d, first line %q, stdout %q; want exit 2, %q, then the usage", name, r.code, first, r.stdout, tc.first)
		}
	}
}
