package pgrole

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
)

// Only PostgreSQL 15 runs here: the PG16 shape of pg_auth_members is
// checked by the query choice, not against a server.
func TestMembershipQueryByVersion(t *testing.T) {
	for _, members := range []bool{false, true} {
		q15, q16 := membershipQuery(150004, members), membershipQuery(160002, members)
		if strings.Contains(q15, "inherit_option") || strings.Contains(q15, "set_option") {
			t.Fatal("PG15 query names PG16-only columns")
		}
		if !strings.Contains(q16, "m.inherit_option, m.set_option") {
			t.Fatal("PG16 query lacks inherit_option/set_option")
		}
	}
	if !strings.Contains(membershipQuery(160000, false), "WHERE m.member = $1") || !strings.Contains(membershipQuery(160000, true), "WHERE m.roleid = $1") {
		t.Fatal("member/group direction")
	}
}

func TestGrantSyntaxByVersion(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		version int
		m       *Membership
		want    string
	}{
		{150000, nil, `GRANT "g" TO "n"`},
		{150000, &Membership{Admin: true}, `GRANT "g" TO "n" WITH ADMIN OPTION`},
		{160000, nil, `GRANT "g" TO "n" WITH ADMIN FALSE, INHERIT TRUE, SET TRUE`},
		{160000, &Membership{Admin: true, Inherit: &no, Set: &yes}, `GRANT "g" TO "n" WITH ADMIN TRUE, INHERIT FALSE, SET TRUE`},
	} {
		b := &builder{p: &Plan{ServerVersion: tc.version}}
		b.phase(PhaseGrant)
		b.grantMembership("g", "n", tc.m)
		if got := b.cur.Steps[0].SQL; got != tc.want {
			t.Errorf("%d: %s, want %s", tc.version, got, tc.want)
		}
	}
}

func TestServerTooOld(t *testing.T) {
	if err := checkVersion(120017); !errors.Is(err, ErrServerTooOld) {
		t.Fatalf("PG12: %v", err)
	}
	if err := checkVersion(150004); err != nil {
		t.Fatal(err)
	}
	r := &Role{Name: "app", ServerVersion: 110000}
	if _, err := BuildPlan(r, "db", PlanOptions{Role: "app"}, func(string) bool { return false }); !errors.Is(err, ErrServerTooOld) {
		t.Fatalf("plan on PG11: %v", err)
	}
}

func TestSettingSQL(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"search_path", `app, "$user", public`, `search_path TO 'app', '$user', 'public'`},
		{"search_path", `"my schema", "we""ird"`, `search_path TO 'my schema', 'we"ird'`},
		{"statement_timeout", "5s", `statement_timeout TO '5s'`},
		{"myapp.tenant", "it's", `myapp.tenant TO 'it''s'`},
		{"DateStyle", "ISO, MDY", `datestyle TO 'ISO, MDY'`},
	} {
		if got := settingSQL(tc.name, tc.value); got != tc.want {
			t.Errorf("%s=%s: %s, want %s", tc.name, tc.value, got, tc.want)
		}
	}
}

func FuzzSplitList(f *testing.F) {
	f.Add(`app, "$user", public`)
	f.Add(`"a""b", c`)
	f.Add(`""`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, e := range splitList(s) {
			if lit := literal(e); !(strings.HasPrefix(lit, "'") || strings.HasPrefix(lit, "E'")) || strings.Count(lit, "'")%2 != 0 {
				t.Fatalf("literal %q unbalanced", lit)
			}
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"app", "app_v2", `x"; DROP ROLE x; --`, "pg_x", "A-b.c$1", strings.Repeat("a", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateName(s)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(s) > MaxNameLen || strings.ContainsAny(s, "\"'; \x00\n") {
			t.Fatalf("accepted %q", s)
		}
		base, gen := SplitLoginName(s)
		if name, err := LoginName(base, gen); err == nil && name != s {
			t.Fatalf("split/join %q → %q %d → %q", s, base, gen, name)
		}
	})
}

// A role setting is data any role may write for itself (ALTER ROLE
// CURRENT_USER SET myapp.x = …); the plan copies it into SQL run as the
// operator. Its literal must read back unchanged, and never end early,
// whatever standard_conforming_strings the operator's session has.
func TestLiteralReadsBackWithEitherStringMode(t *testing.T) {
	ctx := context.Background()
	c := testsvc.Admin(t)
	for _, scs := range []string{"on", "off"} {
		if _, err := c.Exec(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{`plain`, `it's`, `a\b`, `\`, `x\'; SELECT 'injected`, `\'' OR true --`} {
			// As Apply sends statements: the simple protocol, no parameters.
			sql := "SELECT " + literal(v) + " AS v"
			res, err := c.PgConn().Exec(ctx, sql).ReadAll()
			if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 || string(res[0].Rows[0][0]) != v {
				t.Errorf("standard_conforming_strings=%s: %s did not read back %q (%d results, %v)", scs, sql, v, len(res), err)
			}
		}
	}
}
