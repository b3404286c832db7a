package pgrole_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// effectiveQuery lists everything role $1 can do in the current database,
// as the has_*_privilege functions answer at run time (grant options
// included), plus database privileges and memberships with their options:
// a snapshot of effective rights, compared before and after a change.
const effectiveSnapshot = `
SELECT 'TABLE ' || c.oid::regclass::text || ' ' || p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER',
               'SELECT WITH GRANT OPTION', 'INSERT WITH GRANT OPTION', 'UPDATE WITH GRANT OPTION']) p
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND has_table_privilege($1::oid, c.oid, p)
UNION ALL
SELECT 'SEQUENCE ' || c.oid::regclass::text || ' ' || p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
  unnest(ARRAY['USAGE', 'SELECT', 'UPDATE', 'USAGE WITH GRANT OPTION']) p
WHERE c.relkind = 'S' AND n.nspname NOT LIKE 'pg\_%' AND has_sequence_privilege($1::oid, c.oid, p)
UNION ALL
SELECT 'COLUMN ' || c.oid::regclass::text || '.' || t.attname || ' ' || p
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
  unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'SELECT WITH GRANT OPTION']) p
WHERE t.attnum > 0 AND NOT t.attisdropped AND c.relkind IN ('r', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%' AND has_column_privilege($1::oid, c.oid, t.attnum, p)
UNION ALL
SELECT 'SCHEMA ' || n.nspname || ' ' || p FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE', 'USAGE WITH GRANT OPTION']) p
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND has_schema_privilege($1::oid, n.oid, p)
UNION ALL
SELECT 'FUNCTION ' || f.oid::regprocedure::text || ' ' || p FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace,
  unnest(ARRAY['EXECUTE', 'EXECUTE WITH GRANT OPTION']) p
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_function_privilege($1::oid, f.oid, p)
UNION ALL
SELECT 'DATABASE ' || d.datname || ' ' || p FROM pg_database d,
  unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY', 'CONNECT WITH GRANT OPTION']) p
WHERE d.datname = current_database() AND has_database_privilege($1::oid, d.oid, p)
UNION ALL
SELECT 'FOREIGN DATA WRAPPER ' || w.fdwname || ' ' || p FROM pg_foreign_data_wrapper w, unnest(ARRAY['USAGE', 'USAGE WITH GRANT OPTION']) p
WHERE has_foreign_data_wrapper_privilege($1::oid, w.oid, p)
UNION ALL
SELECT 'FOREIGN SERVER ' || s.srvname || ' ' || p FROM pg_foreign_server s, unnest(ARRAY['USAGE', 'USAGE WITH GRANT OPTION']) p
WHERE has_server_privilege($1::oid, s.oid, p)
UNION ALL
SELECT 'LANGUAGE ' || l.lanname || ' ' || p FROM pg_language l, unnest(ARRAY['USAGE', 'USAGE WITH GRANT OPTION']) p
WHERE l.lanpltrusted AND has_language_privilege($1::oid, l.oid, p)
UNION ALL
SELECT 'TABLESPACE ' || t.spcname || ' ' || p FROM pg_tablespace t, unnest(ARRAY['CREATE', 'CREATE WITH GRANT OPTION']) p
WHERE has_tablespace_privilege($1::oid, t.oid, p)
UNION ALL
SELECT 'USER MAPPING ' || m.srvname FROM pg_user_mappings m WHERE m.umuser = $1
UNION ALL
SELECT 'ROLE ' || r.rolname || ' ' || p FROM pg_roles r, unnest(ARRAY['USAGE', 'MEMBER', 'MEMBER WITH ADMIN OPTION']) p
WHERE r.oid <> $1 AND r.rolname NOT LIKE 'pg\_%' AND pg_has_role($1::oid, r.oid, p)
ORDER BY 1`

// effective returns the snapshot of role's effective rights in db.
func effective(t *testing.T, db *testsvc.DB, role string) string {
	t.Helper()
	ctx := context.Background()
	var oid uint32
	if err := db.Pool.QueryRow(ctx, "SELECT oid FROM pg_roles WHERE rolname = $1", role).Scan(&oid); err != nil {
		t.Fatalf("role %s: %v", role, err)
	}
	rows, err := db.Pool.Query(ctx, effectiveSnapshot, oid)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// sameLines reports the lines only in a and only in b.
func sameLines(a, b string) (onlyA, onlyB []string) {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	ma, mb := in(a), in(b)
	for l := range ma {
		if !mb[l] {
			onlyA = append(onlyA, l)
		}
	}
	for l := range mb {
		if !ma[l] {
			onlyB = append(onlyB, l)
		}
	}
	return onlyA, onlyB
}
