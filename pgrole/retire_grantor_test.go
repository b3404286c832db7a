package pgrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// grantorSnapshot lists every right role $1 has in the current database as
// the has_*_privilege functions answer, with and without grant option:
// each table and each of its columns, schemas, the database (other
// tests create and drop theirs meanwhile) and every
// configuration parameter (pg_settings and pg_parameter_acl, PostgreSQL
// 15+). Compared before and after a retire, for every role but the
// retired one and its successor.
const grantorSnapshot = `
SELECT 'TABLE ' || c.oid::regclass::text || ' ' || p || g FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p, unnest(ARRAY['', ' WITH GRANT OPTION']) g
WHERE c.relkind IN ('r', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND has_table_privilege($1::oid, c.oid, p || g)
UNION ALL
SELECT 'COLUMN ' || c.oid::regclass::text || '.' || t.attname || ' ' || p || g
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p, unnest(ARRAY['', ' WITH GRANT OPTION']) g
WHERE t.attnum > 0 AND NOT t.attisdropped AND c.relkind IN ('r', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND has_column_privilege($1::oid, c.oid, t.attnum, p || g)
UNION ALL
SELECT 'SCHEMA ' || n.nspname || ' ' || p || g FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p, unnest(ARRAY['', ' WITH GRANT OPTION']) g
WHERE has_schema_privilege($1::oid, n.oid, p || g)
UNION ALL
SELECT 'DATABASE ' || d.datname || ' ' || p || g FROM pg_database d,
  unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p, unnest(ARRAY['', ' WITH GRANT OPTION']) g
WHERE d.datname = current_database() AND has_database_privilege($1::oid, d.oid, p || g)
UNION ALL
SELECT 'PARAMETER ' || s || ' ' || p || g FROM
  (SELECT name FROM pg_settings UNION SELECT parname::text FROM pg_parameter_acl) x(s),
  unnest(ARRAY['SET', 'ALTER SYSTEM']) p, unnest(ARRAY['', ' WITH GRANT OPTION']) g
WHERE has_parameter_privilege($1::oid, s, p || g)
UNION ALL
SELECT 'ROLE ' || r.rolname || ' ' || p FROM pg_roles r, unnest(ARRAY['USAGE', 'MEMBER', 'MEMBER WITH ADMIN OPTION']) p
WHERE r.oid <> $1 AND r.rolname NOT LIKE 'pg\_%' AND pg_has_role($1::oid, r.oid, p)
ORDER BY 1`

// rights returns the grantorSnapshot of each role in each database.
func rights(t *testing.T, dbs []*testsvc.DB, roles []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, db := range dbs {
		for _, r := range roles {
			rows, err := db.Pool.Query(ctx, grantorSnapshot, mustOID(t, db, r))
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			out[db.Name+" "+r] = strings.Join(lines, "\n")
		}
	}
	return out
}

func mustOID(t *testing.T, db *testsvc.DB, role string) uint32 {
	t.Helper()
	var oid uint32
	if err := db.Pool.QueryRow(context.Background(), "SELECT oid FROM pg_roles WHERE rolname = $1", role).Scan(&oid); err != nil {
		t.Fatalf("role %s: %v", role, err)
	}
	return oid
}

// sameRights fails t if a role's rights differ between two snapshots.
func sameRights(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, b := range before {
		onlyBefore, onlyAfter := sameLines(b, after[k])
		if len(onlyBefore) > 0 || len(onlyAfter) > 0 {
			t.Errorf("%s: rights lost by retire: %v; gained: %v", k, onlyBefore, onlyAfter)
		}
	}
}

// grantorCase is the trial's repro_retire_column_grant.sh and
// repro_retire_parameter_grant.sh (issue 11 point 3, trial findings 2 and
// 3): an application login role holding table-level and parameter grant
// options used them to grant column and parameter privileges to other
// roles, in two databases.
type grantorCase struct {
	admin, other *testsvc.DB // admin: the operator's database (its DROP OWNED runs last)
	app, rep     string      // rep got grants from app (some WITH GRANT OPTION)
	rep2         string      // rep2 got grants from rep, through app's grants
	newRole      string
	param        string // a custom parameter unique to the test
	adm          *pgrole.Admin
}

// grantorOptions add to a grantorCase: parameter privileges; a
// materialized view the old role may read, in the operator's database.
type grantorOptions struct{ params, matview bool }

func newGrantorCase(t *testing.T, o grantorOptions) *grantorCase {
	t.Helper()
	ctx := context.Background()
	g := &grantorCase{admin: testsvc.Postgres(t), other: testsvc.Postgres(t),
		app: testsvc.RoleName(t, "app"), rep: testsvc.RoleName(t, "rep"), rep2: testsvc.RoleName(t, "rep2")}
	g.newRole = g.app + "_v2"
	// The roles' cleanup drops what each was granted by the owners; the
	// grants the app's login roles made (and those made through them) go
	// first: the tables, whose column grants no REVOKE of the owner's
	// cascades to, then the parameter grants, cut at their root. Runs
	// before the roles' cleanup.
	t.Cleanup(func() {
		ctx := context.Background()
		for _, db := range g.dbs() {
			if _, err := db.Pool.Exec(ctx, "DROP TABLE IF EXISTS t; DROP MATERIALIZED VIEW IF EXISTS mv"); err != nil {
				t.Error(err)
			}
			for _, r := range []string{g.app, g.newRole} {
				var n int
				if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", r).Scan(&n); err == nil && n > 0 {
					dropOwnedRetrying(t, db.Pool, r)
				}
			}
		}
	})
	app, rep, rep2 := q(g.app), q(g.rep), q(g.rep2)
	mustExec(t, testsvc.Admin(t),
		"CREATE ROLE "+app+" LOGIN PASSWORD "+verifierFor(t, "old-pw").SQLLiteral(),
		"CREATE ROLE "+rep+" NOLOGIN", "CREATE ROLE "+rep2+" NOLOGIN")
	for _, db := range []*testsvc.DB{g.admin, g.other} {
		mustExec(t, oneConn(t, db),
			"CREATE TABLE t (id int, c text, d text)",
			"GRANT SELECT, UPDATE ON t TO "+app+" WITH GRANT OPTION",
			// The column privileges PostgreSQL keeps when the table-level
			// grant option they came through is revoked.
			"BEGIN", "SET LOCAL ROLE "+app,
			// (PostgreSQL refuses WITH GRANT OPTION here: the grantor's
			// option is not in the column's ACL.)
			"GRANT UPDATE (c) ON t TO "+rep,
			"GRANT SELECT (d) ON t TO "+rep,
			"GRANT SELECT ON t TO "+rep+" WITH GRANT OPTION",
			"SET LOCAL ROLE "+rep,
			"GRANT SELECT (d) ON t TO "+rep2,
			"GRANT SELECT ON t TO "+rep2,
			"COMMIT")
	}
	if o.matview {
		mustExec(t, g.admin.Pool, "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x", "GRANT SELECT ON mv TO "+app)
	}
	if o.params {
		g.param = "rt_x.p_" + testsvc.Suffix()
		c := testsvc.Admin(t)
		mustExec(t, c,
			"GRANT SET ON PARAMETER work_mem TO "+app+" WITH GRANT OPTION",
			"GRANT SET, ALTER SYSTEM ON PARAMETER "+g.param+" TO "+app+" WITH GRANT OPTION",
			"BEGIN", "SET LOCAL ROLE "+app,
			"GRANT SET ON PARAMETER work_mem TO "+rep,
			"GRANT ALTER SYSTEM ON PARAMETER "+g.param+" TO "+rep+" WITH GRANT OPTION",
			"SET LOCAL ROLE "+rep,
			"GRANT ALTER SYSTEM ON PARAMETER "+g.param+" TO "+rep2,
			"COMMIT")
	}
	g.adm = connectAdmin(t, g.admin.Name)
	t.Logf("server_version_num %d", g.adm.ServerVersion())
	p, err := g.adm.Plan(ctx, pgrole.PlanOptions{Role: g.app, Strategy: pgrole.Mirror, Retire: pgrole.RetireDrop,
		ReassignTo: g.newRole, Verifier: verifierFor(t, "new-pw")})
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []pgrole.PhaseName{pgrole.PhaseCreate, pgrole.PhaseGrant, pgrole.PhaseVerify} {
		if _, err := g.adm.ApplyPhase(ctx, p, ph); err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
	}
	return g
}

// oneConn is one session of db's pool, for statements that must share it
// (SET LOCAL ROLE inside BEGIN … COMMIT).
func oneConn(t *testing.T, db *testsvc.DB) *pgxpool.Conn {
	t.Helper()
	c, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	return c
}

func (g *grantorCase) dbs() []*testsvc.DB { return []*testsvc.DB{g.admin, g.other} }

func (g *grantorCase) others() []string { return []string{g.rep, g.rep2} }

func (g *grantorCase) retire(ctx context.Context) ([]pgrole.Applied, error) {
	return g.adm.Retire(ctx, pgrole.RetireOptions{Role: g.app, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop, ReassignTo: g.newRole})
}

func (g *grantorCase) dryRun(t *testing.T) string {
	t.Helper()
	steps, err := g.adm.RetireDryRun(context.Background(), pgrole.RetireOptions{Role: g.app, Strategy: pgrole.Mirror, Mode: pgrole.RetireDrop, ReassignTo: g.newRole})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.SQL + "\n")
	}
	return b.String()
}

func (g *grantorCase) requireDropped(t *testing.T) {
	t.Helper()
	var exists bool
	if err := g.admin.Pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", g.app).Scan(&exists); err != nil || exists {
		t.Fatalf("the old role still exists (%v)", err)
	}
}

// Trial finding 2: column privileges the old role granted through its
// table-level GRANT OPTION are made again by the successor and revoked
// from the old role explicitly in every database, so DROP ROLE succeeds
// and every other role keeps exactly its rights; the dry run lists both.
func TestIssue11RetireColumnGrantsThroughTableOption(t *testing.T) {
	ctx := context.Background()
	g := newGrantorCase(t, grantorOptions{})
	before := rights(t, g.dbs(), g.others())
	if !strings.Contains(before[g.other.Name+" "+g.rep], "COLUMN t.c UPDATE") {
		t.Fatalf("fixture: %s cannot update t.c:\n%s", g.rep, before[g.other.Name+" "+g.rep])
	}
	dry := g.dryRun(t)
	for _, want := range []string{
		"GRANT UPDATE (c) ON TABLE public.t TO " + q(g.rep),
		"GRANT SELECT (d) ON TABLE public.t TO " + q(g.rep) + "; RESET ROLE",
		"SET LOCAL ROLE " + q(g.app) + "; REVOKE UPDATE (c) ON TABLE public.t FROM " + q(g.rep) + " CASCADE",
	} {
		if n := strings.Count(dry, want); n != 2 {
			t.Errorf("the dry run shows %q %d time(s), want once per database:\n%s", want, n, dry)
		}
	}
	if _, err := g.retire(ctx); err != nil {
		t.Fatalf("retire: %v", err)
	}
	g.requireDropped(t)
	sameRights(t, before, rights(t, g.dbs(), g.others()))
}

// Trial finding 3: parameter privileges the old role granted (cluster-wide,
// revoked by the first database's DROP OWNED) are made again by the
// successor before it, and the dry run counts them.
func TestIssue11RetireParameterGrants(t *testing.T) {
	ctx := context.Background()
	g := newGrantorCase(t, grantorOptions{params: true})
	before := rights(t, g.dbs(), g.others())
	for _, want := range []string{"PARAMETER work_mem SET", "PARAMETER " + g.param + " ALTER SYSTEM WITH GRANT OPTION"} {
		if !strings.Contains(before[g.admin.Name+" "+g.rep], want) {
			t.Fatalf("fixture: %s lacks %s:\n%s", g.rep, want, before[g.admin.Name+" "+g.rep])
		}
	}
	dry := g.dryRun(t)
	for _, want := range []string{
		"GRANT SET ON PARAMETER \"work_mem\" TO " + q(g.rep) + "; RESET ROLE",
		"GRANT ALTER SYSTEM ON PARAMETER \"rt_x\"." + q(strings.TrimPrefix(g.param, "rt_x.")) + " TO " + q(g.rep) + " WITH GRANT OPTION",
		"REVOKE SET ON PARAMETER \"work_mem\" FROM " + q(g.rep) + " CASCADE",
	} {
		if !strings.Contains(dry, want) {
			t.Errorf("the dry run does not show %q:\n%s", want, dry)
		}
	}
	// Cluster-wide grants come before the first DROP OWNED.
	if i, j := strings.Index(dry, "ON PARAMETER \"work_mem\" TO"), strings.Index(dry, "DROP OWNED"); i < 0 || j < i {
		t.Errorf("the parameter grant is not made before the first DROP OWNED:\n%s", dry)
	}
	if _, err := g.retire(ctx); err != nil {
		t.Fatalf("retire: %v", err)
	}
	g.requireDropped(t)
	sameRights(t, before, rights(t, g.dbs(), g.others()))
}

// A retire that fails midway (here: the operator's database, whose drop
// runs last, cannot take a lock) leaves the other database's transaction
// committed; run again, it finishes, and every other role's rights are
// those before the first run.
func TestIssue11RetireFailedMidwayRunsAgain(t *testing.T) {
	ctx := context.Background()
	g := newGrantorCase(t, grantorOptions{matview: true})
	before := rights(t, g.dbs(), g.others())
	// Retire locks the materialized views the old role is named in (ACCESS
	// SHARE) in each database's transaction: a long transaction holds this
	// one in the operator's database.
	holder, err := g.admin.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	mustExec(t, holder, "REFRESH MATERIALIZED VIEW mv") // ACCESS EXCLUSIVE until the end
	g.adm.SetLockRetry(pgrole.LockRetry{Timeout: 100 * time.Millisecond, Attempts: 2})
	_, err = g.retire(ctx)
	var ae *pgrole.ApplyError
	if !errors.As(err, &ae) || len(ae.Applied) == 0 || ae.Failed.Database != g.admin.Name {
		t.Fatalf("retire: %v, want a failure in %s after the other database committed", err, g.admin.Name)
	}
	t.Logf("first run: %v", err)
	var left int
	if err := g.other.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.refobjid = $2",
		g.other.Name, mustOID(t, g.other, g.app)).Scan(&left); err != nil || left != 0 {
		t.Fatalf("the other database still holds %d dependencies of the old role (%v)", left, err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.retire(ctx); err != nil {
		t.Fatalf("retire run again: %v", err)
	}
	g.requireDropped(t)
	sameRights(t, before, rights(t, g.dbs(), g.others()))
}

// A retire by an earlier version failed with DROP ROLE 2BP01 after DROP
// OWNED committed in the other database, leaving there the column
// privileges the old role granted, without the grant option it granted
// them through. Run again, retire makes them again from the successor,
// gives the old role the option back for the REVOKE and finishes.
func TestIssue11RetireFinishesStrandedColumnGrants(t *testing.T) {
	ctx := context.Background()
	g := newGrantorCase(t, grantorOptions{})
	before := rights(t, g.dbs(), g.others())
	// What the earlier retire committed in the other database.
	mustExec(t, oneConn(t, g.other),
		"BEGIN", "SET LOCAL ROLE "+q(g.newRole),
		"GRANT UPDATE (c) ON t TO "+q(g.rep),
		"GRANT SELECT (d) ON t TO "+q(g.rep),
		"GRANT SELECT ON t TO "+q(g.rep)+" WITH GRANT OPTION",
		"RESET ROLE",
		"REASSIGN OWNED BY "+q(g.app)+" TO "+q(g.newRole),
		"DROP OWNED BY "+q(g.app),
		"COMMIT")
	var acl string
	if err := g.other.Pool.QueryRow(ctx, "SELECT attacl::text FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'").Scan(&acl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(acl, "/"+g.app) {
		t.Fatalf("fixture: DROP OWNED removed the column grant (%s); nothing stranded", acl)
	}
	dry := g.dryRun(t)
	if want := "GRANT UPDATE (c) ON TABLE public.t TO " + q(g.app) + " WITH GRANT OPTION; SET LOCAL ROLE " + q(g.app); !strings.Contains(dry, want) {
		t.Errorf("the dry run does not give the old role its option back (%q):\n%s", want, dry)
	}
	if _, err := g.retire(ctx); err != nil {
		t.Fatalf("retire: %v", err)
	}
	g.requireDropped(t)
	sameRights(t, before, rights(t, g.dbs(), g.others()))
}
