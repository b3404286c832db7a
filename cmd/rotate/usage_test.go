package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// TestHelpGoesToStdout: an explicit --help prints the usage on stdout and
// exits 0 for every command and every verb, as "rotate help" does; a bad
// flag prints the error and the usage on stderr and exits 2.
func TestHelpGoesToStdout(t *testing.T) {
	verbs := map[string][]string{
		"pg":        {"plan", "apply", "verify", "drain", "retire"},
		"pgbouncer": {"userlist", "reload"},
		"payment":   {"smoke"},
		"jwt":       {"status", "inspect", "sign", "flush-sessions"},
		"field":     {"census", "reencrypt", "encrypt", "decrypt"},
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
		{[]string{"pg", "plan"}, "--role is required"},
		{[]string{"pg", "apply"}, "--role is required"},
		{[]string{"pg", "plan", "--role", "app", "hunter2-password-on-argv"}, "never argv"},
		{[]string{"pg", "apply", "--role", "app", "--phase", "bogus"}, `--phase "bogus"`},
		{[]string{"pg", "retire", "--role", "app", "--mode", "bogus"}, `--mode "bogus": use break-glass, nologin or drop`},
		{[]string{"pg", "retire", "--role", "app", "--mode", "break-glass"}, "needs --break-glass-out"},
		{[]string{"pg", "retire", "--role", "app"}, "usage: rotate pg retire"},
		{[]string{"pg", "drain"}, "usage: rotate pg drain"},
		{[]string{"pg", "verify", "--old", "app"}, "usage: rotate pg verify"},
		{[]string{"pgbouncer", "userlist", "--user", "app"}, "usage: rotate pgbouncer userlist"},
		{[]string{"pgbouncer", "reload"}, "set PGBOUNCER_ADMIN_URL or pass --admin-url-file"},
		{[]string{"inventory", "--dir", filepath.Join(t.TempDir(), "no-such-dir")}, "is not a readable directory"},
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
