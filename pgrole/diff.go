package pgrole

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Difference is one difference between the old and the new role: something
// the old role can do that the new one cannot, or (Privilege starting with
// "extra") a right the new role has that the old had not. Kind is an object
// kind (FOREIGN DATA WRAPPER, FOREIGN SERVER, LANGUAGE and TABLESPACE
// included), OWNER (of any kind of object), USER MAPPING (one the new
// role's sessions lack, or whose options differ; values never shown),
// POLICY, DEFAULT PRIVILEGES, ATTRIBUTE (including CONNECTION LIMIT and
// VALID UNTIL), SETTING, MEMBERSHIP (privileges of, member of, ADMIN OPTION
// on, SET ROLE to on 16+), PARAMETER (15+) or UNCOMPARED (a database pgrole
// cannot connect to, where the two roles may differ).
type Difference struct {
	Database  string // "" for cluster-wide items
	Kind      string // an object kind, or ATTRIBUTE, SETTING, MEMBERSHIP, POLICY, DEFAULT PRIVILEGES
	Object    string
	Privilege string
}

func (m Difference) String() string {
	db := m.Database
	if db == "" {
		db = "(cluster)"
	}
	return fmt.Sprintf("%s: %s %s: %s", db, m.Kind, m.Object, m.Privilege)
}

// Extra reports whether m is a right the new role has and the old had not
// (Privilege starts with "extra").
func (m Difference) Extra() bool { return strings.HasPrefix(m.Privilege, "extra") }

// DiffError is ErrPrivilegeDiff with the list of what the new role lacks.
type DiffError struct {
	Old, New    string
	Differences []Difference
}

func (e *DiffError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pgrole: %q lacks %d privilege(s) of %q; cutover refused until the diff is empty (resume the rotation, which runs the grant phase again and resets the new role's attributes and VALID UNTIL, or grant them; revoke an extra right by hand; OWNER: move ownership to a NOLOGIN role both login roles are members of):",
		e.New, len(e.Differences), e.Old)
	for i, m := range e.Differences {
		if i == 10 {
			fmt.Fprintf(&b, " … and %d more", len(e.Differences)-10)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(m.String())
	}
	return b.String()
}

func (e *DiffError) Unwrap() error { return ErrPrivilegeDiff }

// effectiveQuery lists, per object, the privileges old (oid $1) has and new
// (oid $2) has not, through the has_*_privilege functions: direct grants,
// inherited grants, ownership and PUBLIC all count, as they do at run time.
// PostgreSQL 17 adds the MAINTAIN table privilege.
func effectiveQuery(version int) string {
	tablePrivs := "'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'"
	if version >= 170000 {
		tablePrivs += ", 'MAINTAIN'"
	}
	return strings.Replace(effectiveQueryTemplate, "TABLE_PRIVILEGES", withGrantOption(tablePrivs), 1)
}

var effectiveQueryTemplate = `
SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname), p
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     unnest(CASE c.relkind WHEN 'S' THEN ` + withGrantOption("'USAGE', 'SELECT', 'UPDATE'") + `
            ELSE TABLE_PRIVILEGES END) p
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + userNamespace + `
  AND CASE c.relkind WHEN 'S' THEN has_sequence_privilege($1::oid, c.oid, p) AND NOT has_sequence_privilege($2::oid, c.oid, p)
      ELSE has_table_privilege($1::oid, c.oid, p) AND NOT has_table_privilege($2::oid, c.oid, p) END
UNION ALL
SELECT 'COLUMN', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(t.attname), p
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
WHERE t.attnum > 0 AND NOT t.attisdropped AND t.attacl IS NOT NULL AND ` + userNamespace + `
  AND has_column_privilege($1::oid, c.oid, t.attnum, p) AND NOT has_column_privilege($2::oid, c.oid, t.attnum, p)
UNION ALL
SELECT 'SCHEMA', quote_ident(n.nspname), p FROM pg_namespace n, unnest(` + withGrantOption("'USAGE', 'CREATE'") + `) p
WHERE ` + userNamespace + ` AND has_schema_privilege($1::oid, n.oid, p) AND NOT has_schema_privilege($2::oid, n.oid, p)
UNION ALL
SELECT CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       quote_ident(n.nspname) || '.' || quote_ident(f.proname) || '(' || pg_get_function_identity_arguments(f.oid) || ')', p
FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace, unnest(` + withGrantOption("'EXECUTE'") + `) p
WHERE ` + userNamespace + ` AND has_function_privilege($1::oid, f.oid, p) AND NOT has_function_privilege($2::oid, f.oid, p)
UNION ALL
SELECT 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname), p
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, unnest(` + withGrantOption("'USAGE'") + `) p
WHERE ` + userType + ` AND ` + userNamespace + `
  AND has_type_privilege($1::oid, t.oid, p) AND NOT has_type_privilege($2::oid, t.oid, p)
UNION ALL
SELECT 'LARGE OBJECT', l.oid::text, a.privilege_type
FROM pg_largeobject_metadata l, aclexplode(coalesce(l.lomacl, acldefault('L', l.lomowner))) a
WHERE (a.grantee = 0 OR pg_has_role($1::oid, a.grantee, 'USAGE')) AND NOT EXISTS (
  SELECT 1 FROM aclexplode(coalesce(l.lomacl, acldefault('L', l.lomowner))) b
  WHERE b.privilege_type = a.privilege_type AND (b.grantee = 0 OR pg_has_role($2::oid, b.grantee, 'USAGE')))
UNION ALL
SELECT 'FOREIGN DATA WRAPPER', quote_ident(w.fdwname), p FROM pg_foreign_data_wrapper w, unnest(` + withGrantOption("'USAGE'") + `) p
WHERE has_foreign_data_wrapper_privilege($1::oid, w.oid, p) AND NOT has_foreign_data_wrapper_privilege($2::oid, w.oid, p)
UNION ALL
SELECT 'FOREIGN SERVER', quote_ident(s.srvname), p FROM pg_foreign_server s, unnest(` + withGrantOption("'USAGE'") + `) p
WHERE has_server_privilege($1::oid, s.oid, p) AND NOT has_server_privilege($2::oid, s.oid, p)
UNION ALL
SELECT 'LANGUAGE', quote_ident(l.lanname), p FROM pg_language l, unnest(` + withGrantOption("'USAGE'") + `) p
WHERE l.lanpltrusted AND has_language_privilege($1::oid, l.oid, p) AND NOT has_language_privilege($2::oid, l.oid, p)
UNION ALL
` + ownerByDependencyQuery("(SELECT oid FROM pg_database WHERE datname = current_database())") + `
UNION ALL
SELECT 'OWNER', o.kind || ' ' || o.name, 'owner rights (of ' || quote_ident(r.rolname) || ')'
FROM (
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relowner
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + userNamespace + `
  UNION ALL
  SELECT 'SCHEMA', quote_ident(n.nspname), n.nspowner FROM pg_namespace n WHERE ` + userNamespace + `
  UNION ALL
  SELECT CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
         quote_ident(n.nspname) || '.' || quote_ident(f.proname) || '(' || pg_get_function_identity_arguments(f.oid) || ')', f.proowner
  FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace WHERE ` + userNamespace + `
  UNION ALL
  SELECT 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname), t.typowner
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE ` + userType + ` AND ` + userNamespace + `
  UNION ALL
  SELECT 'LARGE OBJECT', l.oid::text, l.lomowner FROM pg_largeobject_metadata l
) o(kind, name, owner) JOIN pg_roles r ON r.oid = o.owner
WHERE pg_has_role($1::oid, o.owner, 'USAGE') AND NOT pg_has_role($2::oid, o.owner, 'USAGE')
UNION ALL
SELECT 'POLICY', quote_ident(p.polname) || ' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'applies'
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r = 0 OR pg_has_role($1::oid, r, 'USAGE'))
  AND NOT EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r = 0 OR pg_has_role($2::oid, r, 'USAGE'))
UNION ALL
SELECT 'DEFAULT PRIVILEGES', 'FOR ROLE ' || quote_ident(o.rolname) || coalesce(' IN SCHEMA ' || quote_ident(s.nspname), '') || ' ON ' ||
       CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
       a.privilege_type
FROM pg_default_acl d JOIN pg_roles o ON o.oid = d.defaclrole LEFT JOIN pg_namespace s ON s.oid = d.defaclnamespace,
     aclexplode(d.defaclacl) a
WHERE a.grantee <> 0 AND a.grantee <> d.defaclrole AND pg_has_role($1::oid, a.grantee, 'USAGE') AND NOT EXISTS (
  SELECT 1 FROM aclexplode(d.defaclacl) b WHERE b.privilege_type = a.privilege_type AND b.grantee <> 0 AND pg_has_role($2::oid, b.grantee, 'USAGE'))
UNION ALL
SELECT 'DEFAULT PRIVILEGES', 'FOR ROLE (new)' || coalesce(' IN SCHEMA ' || quote_ident(s.nspname), '') || ' ON ' ||
       CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
       a.privilege_type || ' TO ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END
FROM pg_default_acl d LEFT JOIN pg_namespace s ON s.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE d.defaclrole = $1 AND a.grantee <> $1 AND NOT EXISTS (
  SELECT 1 FROM pg_default_acl e, aclexplode(e.defaclacl) b
  WHERE e.defaclrole = $2 AND e.defaclnamespace = d.defaclnamespace AND e.defaclobjtype = d.defaclobjtype
    AND b.privilege_type = a.privilege_type AND b.grantee = a.grantee)`

// ownerByDependencyQuery lists owner rights $1 has and $2 has not on every
// kind of object effectiveQuery names no owner column of: whatever
// pg_shdepend records an owner for in database dbid (0: the shared
// objects: databases, tablespaces, subscriptions), such as foreign-data
// wrappers, foreign servers, languages, publications, event triggers,
// extensions, collations, conversions, operators, operator classes and
// families, text search configurations and dictionaries, statistics
// objects and standalone composite types. User mappings are compared by
// userMappingDiffQuery, default privileges by their own arm.
func ownerByDependencyQuery(dbid string) string {
	return `SELECT 'OWNER', pg_describe_object(d.classid, d.objid, d.objsubid), 'owner rights (of ' || quote_ident(r.rolname) || ')'
FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
WHERE d.dbid = ` + dbid + ` AND d.refclassid = 'pg_authid'::regclass AND d.deptype = 'o'
  AND d.classid NOT IN ('pg_namespace'::regclass, 'pg_proc'::regclass, 'pg_largeobject'::regclass, 'pg_largeobject_metadata'::regclass,
                        'pg_user_mapping'::regclass, 'pg_default_acl'::regclass)
  AND NOT (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.objid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')))
  AND NOT (d.classid = 'pg_type'::regclass AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.objid AND ` + userType + `))
  AND pg_has_role($1::oid, d.refobjid, 'USAGE') AND NOT pg_has_role($2::oid, d.refobjid, 'USAGE')`
}

// userMappingDiffQuery lists, per foreign server of the current database,
// a user mapping the sessions of $1 use and those of $2 do not: no mapping
// at all, or one with other options (compared server-side, values never
// read out; an operator that is not a superuser cannot read them and gets
// a finding whenever the two mappings are not the same one). The mapping a
// session uses is that of its current_user: the role itself, or the role
// its ALTER ROLE … SET role names (the alternate strategy's login roles
// run as the stable role), else PUBLIC's.
const userMappingDiffQuery = `
WITH eff AS (
  SELECT x.k, coalesce((SELECT r.oid FROM pg_db_role_setting st, unnest(st.setconfig) c, pg_roles r
    WHERE st.setrole = x.r AND st.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      AND lower(split_part(c, '=', 1)) = 'role' AND r.rolname = substr(c, strpos(c, '=') + 1)
    ORDER BY st.setdatabase DESC LIMIT 1), x.r) AS u
  FROM (VALUES (1, $1::oid), (2, $2::oid)) x(k, r)),
  su AS (SELECT rolsuper AS ok FROM pg_roles WHERE rolname = current_user)
SELECT 'USER MAPPING', 'SERVER ' || quote_ident(s.srvname),
       CASE WHEN b.umid IS NULL THEN 'user mapping (for ' || CASE WHEN a.umuser = 0 THEN 'PUBLIC' ELSE quote_ident(ra.rolname) END || ')'
            WHEN NOT su.ok THEN 'user mapping options not compared (values not shown; only a superuser can read them)'
            ELSE 'user mapping options differ (values not shown)' END
FROM pg_foreign_server s CROSS JOIN su JOIN eff ea ON ea.k = 1 JOIN eff eb ON eb.k = 2
JOIN LATERAL (SELECT m.umid, m.umuser, ARRAY(SELECT o FROM unnest(m.umoptions) o ORDER BY 1) AS opts FROM pg_user_mappings m
              WHERE m.srvid = s.oid AND m.umuser IN (ea.u, 0) ORDER BY m.umuser = 0 LIMIT 1) a ON true
LEFT JOIN pg_roles ra ON ra.oid = a.umuser
LEFT JOIN LATERAL (SELECT m.umid, ARRAY(SELECT o FROM unnest(m.umoptions) o ORDER BY 1) AS opts FROM pg_user_mappings m
              WHERE m.srvid = s.oid AND m.umuser IN (eb.u, 0) ORDER BY m.umuser = 0 LIMIT 1) b ON true
WHERE b.umid IS NULL OR (a.umid <> b.umid AND (NOT su.ok OR a.opts IS DISTINCT FROM b.opts))`

// attributeDiffQuery compares the attributes of $1 (old) and $2 (new),
// both ways: a missing attribute, and an extra one ("extra …"). VALID
// UNTIL (NULL and 'infinity' both mean never) differs when the new
// password expires earlier than the old one or has expired (always a
// finding), or otherwise differs from the old role's and is not $3, the
// VALID UNTIL the rotation's plan set (NULL when there is none).
var attributeDiffQuery = `
SELECT 'ATTRIBUTE', '', x.k FROM pg_roles o, pg_roles n, LATERAL (VALUES
  ('LOGIN', o.rolcanlogin AND NOT n.rolcanlogin), ('CREATEDB', o.rolcreatedb AND NOT n.rolcreatedb),
  ('CREATEROLE', o.rolcreaterole AND NOT n.rolcreaterole), ('BYPASSRLS', o.rolbypassrls AND NOT n.rolbypassrls),
  ('REPLICATION', o.rolreplication AND NOT n.rolreplication), ('SUPERUSER', o.rolsuper AND NOT n.rolsuper),
  ('INHERIT', o.rolinherit AND NOT n.rolinherit), ('extra INHERIT', n.rolinherit AND NOT o.rolinherit),
  ('CONNECTION LIMIT ' || o.rolconnlimit || ' (new role: ' || n.rolconnlimit || ')', o.rolconnlimit <> n.rolconnlimit),
  ('VALID UNTIL ' || coalesce(o.rolvaliduntil::text, 'never') || ' (new role: ' || coalesce(n.rolvaliduntil::text, 'never') || ')' ||
   CASE WHEN coalesce(n.rolvaliduntil, 'infinity') <= now() THEN ': the new password has expired'
        WHEN coalesce(n.rolvaliduntil, 'infinity') < coalesce(o.rolvaliduntil, 'infinity') THEN ': the new password expires before the old one'
        ELSE '' END,
   coalesce(o.rolvaliduntil, 'infinity') <> coalesce(n.rolvaliduntil, 'infinity')
   AND (coalesce(n.rolvaliduntil, 'infinity') <= now() OR coalesce(n.rolvaliduntil, 'infinity') < coalesce(o.rolvaliduntil, 'infinity')
        OR $3::timestamptz IS DISTINCT FROM coalesce(n.rolvaliduntil, 'infinity'))),
  ('extra CREATEDB', n.rolcreatedb AND NOT o.rolcreatedb), ('extra CREATEROLE', n.rolcreaterole AND NOT o.rolcreaterole),
  ('extra BYPASSRLS', n.rolbypassrls AND NOT o.rolbypassrls), ('extra REPLICATION', n.rolreplication AND NOT o.rolreplication),
  ('extra SUPERUSER', n.rolsuper AND NOT o.rolsuper)) x(k, missing)
WHERE o.oid = $1 AND n.oid = $2 AND x.missing`

// sharedDiffQuery lists the cluster-wide rights $1 has and $2 has not:
// databases, settings, memberships (with their PostgreSQL 16 SET and ADMIN
// options) and, on 15+, parameter privileges (GRANT SET / ALTER SYSTEM ON
// PARAMETER). Diff runs it both ways.
func sharedDiffQuery(version int) string {
	q := `
SELECT 'DATABASE', quote_ident(d.datname), p FROM pg_database d, unnest(` + withGrantOption("'CONNECT', 'CREATE', 'TEMPORARY'") + `) p
WHERE NOT d.datistemplate AND has_database_privilege($1::oid, d.oid, p) AND NOT has_database_privilege($2::oid, d.oid, p)
UNION ALL
SELECT 'SETTING', coalesce(d.datname::text, ''), c FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase,
  unnest(s.setconfig) c
WHERE s.setrole = $1 AND NOT EXISTS (SELECT 1 FROM pg_db_role_setting t, unnest(t.setconfig) e
  WHERE t.setrole = $2 AND t.setdatabase = s.setdatabase AND e = c)
UNION ALL
SELECT 'MEMBERSHIP', r.rolname::text, x.what FROM pg_roles r, LATERAL (VALUES
  ('privileges of', 'USAGE'), ('member of', 'MEMBER'), ('ADMIN OPTION on', 'MEMBER WITH ADMIN OPTION')` + setOption(version) + `) x(what, p)
WHERE r.oid NOT IN ($1, $2) AND pg_has_role($1::oid, r.oid, x.p) AND NOT pg_has_role($2::oid, r.oid, x.p)`
	q += `
UNION ALL
SELECT 'TABLESPACE', quote_ident(t.spcname), p FROM pg_tablespace t, unnest(` + withGrantOption("'CREATE'") + `) p
WHERE has_tablespace_privilege($1::oid, t.oid, p) AND NOT has_tablespace_privilege($2::oid, t.oid, p)
UNION ALL
` + ownerByDependencyQuery("0")
	if version >= 150000 {
		q += `
UNION ALL
SELECT 'PARAMETER', a.parname, p FROM pg_parameter_acl a, unnest(` + withGrantOption("'SET', 'ALTER SYSTEM'") + `) p
WHERE has_parameter_privilege($1::oid, a.parname, p) AND NOT has_parameter_privilege($2::oid, a.parname, p)`
	}
	return q
}

// setOption adds the PostgreSQL 16 "may SET ROLE to" check.
func setOption(version int) string {
	if version >= 160000 {
		return `, ('SET ROLE to', 'SET')`
	}
	return ""
}

// Diff returns what oldRole can do that newRole cannot, per object, in every
// database either role (or a role they inherit) has dependencies in. Owner
// rights count (kind OWNER): what the old role owns, or owns through a role
// it inherits, and the new role has no owner rights on. Only an owner (or a
// role with its privileges) bypasses RLS that is not forced, REFRESHes a
// materialized view, ALTERs or DROPs, so a mirror of an owning role is
// refused cutover until ownership moves to a role both inherit (e.g. a
// NOLOGIN owner role, as the alternate strategy does).
//
// Diff also covers the operator's database, and there: table (MAINTAIN on
// 17+), column, sequence, schema, function, procedure, type, large object,
// foreign-data wrapper, foreign server, language, database, tablespace and
// parameter privileges (effective, through has_*_privilege, grant options
// included), owner rights on every kind of object pg_shdepend records an
// owner for, the user mapping each role's sessions use on every foreign
// server (its current_user's: the role, the role its ALTER ROLE … SET role
// names, or PUBLIC's; options compared server-side), RLS policies that apply, default privileges that
// grant to it or that it defined, attributes (VALID UNTIL included),
// settings and memberships with their ADMIN and (16+) SET options. It looks
// both ways: what the new role has and the old had not is listed as
// "extra: …" (a new superuser is listed once, as extra SUPERUSER). An empty
// result means the new role can replace the old one, and no more.
func (a *Admin) Diff(ctx context.Context, oldRole, newRole string) ([]Difference, error) {
	oldOID, err := a.roleOID(ctx, oldRole)
	if err != nil {
		return nil, err
	}
	newOID, err := a.roleOID(ctx, newRole)
	if err != nil {
		return nil, err
	}
	collect := func(c *pgx.Conn, db, q string, x, y uint32, extra bool) ([]Difference, error) {
		rows, err := c.Query(ctx, q, x, y)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Difference, error) {
			m := Difference{Database: db}
			err := row.Scan(&m.Kind, &m.Object, &m.Privilege)
			if extra {
				m.Privilege = "extra: " + m.Privilege
			}
			return m, err
		})
	}
	var planned *string
	if st, err := a.Rotation(ctx, oldRole); err == nil && st != nil && st.New == newRole && st.ValidUntil != "" && !st.Elsewhere(a.cfg.Database) {
		planned = &st.ValidUntil
	}
	rows, err := a.conn.Query(ctx, attributeDiffQuery, oldOID, newOID, planned)
	if err != nil {
		return nil, fmt.Errorf("pgrole: diff: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Difference, error) {
		var m Difference
		return m, row.Scan(&m.Kind, &m.Object, &m.Privilege)
	})
	if err != nil {
		return nil, fmt.Errorf("pgrole: diff: %w", err)
	}
	// The other way round too: a right the new role has and the old had
	// not is a finding. A new superuser (listed as extra SUPERUSER) would
	// list every object: that pass is left out then.
	var newSuper, oldSuper bool
	if err := a.conn.QueryRow(ctx, `SELECT (SELECT rolsuper FROM pg_roles WHERE oid = $1), (SELECT rolsuper FROM pg_roles WHERE oid = $2)`,
		oldOID, newOID).Scan(&oldSuper, &newSuper); err != nil {
		return nil, fmt.Errorf("pgrole: diff: %w", err)
	}
	type pass struct {
		x, y  uint32
		extra bool
	}
	passes := []pass{{oldOID, newOID, false}}
	if !newSuper || oldSuper {
		passes = append(passes, pass{newOID, oldOID, true})
	}
	member := a.isMember(ctx, newOID, oldOID)
	for _, ps := range passes {
		ms, err := collect(a.conn, "", sharedDiffQuery(a.version), ps.x, ps.y, ps.extra)
		if err != nil {
			return nil, fmt.Errorf("pgrole: diff: %w", err)
		}
		for _, m := range ms {
			// A member that inherits the old role lacks nothing the old
			// role was granted.
			if member && m.Kind == "MEMBERSHIP" && m.Object == oldRole {
				continue
			}
			// The alternate strategy's "SET role TO <stable>" on the new
			// login role gives it no right the old role lacks when the old
			// role is that role or has its privileges.
			if name, val, ok := strings.Cut(m.Privilege, "="); ps.extra && ok && m.Kind == "SETTING" && m.Object == "" &&
				strings.EqualFold(strings.TrimPrefix(name, "extra: "), "role") && (val == oldRole || a.hasPrivsOf(ctx, oldOID, val)) {
				continue
			}
			out = append(out, m)
		}
	}
	set := []uint32{oldOID, newOID}
	dbs, _, _, err := a.roleDatabases(ctx, a.inheritedOIDs(ctx, set), 0)
	if err != nil {
		return nil, err
	}
	// A database pgrole cannot scan is a finding when what the two roles
	// have there may differ: a role only one of them has the privileges
	// of has dependencies there (or owns it).
	rows, err = a.conn.Query(ctx, uncomparedQuery, oldOID, newOID)
	if err != nil {
		return nil, fmt.Errorf("pgrole: diff: read databases that cannot be scanned: %w", err)
	}
	unscanned, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Difference, error) {
		var m Difference
		var roles, reason string
		err := row.Scan(&m.Database, &roles, &reason)
		m.Kind, m.Object = "UNCOMPARED", ident(m.Database)
		m.Privilege = "not compared (" + reason + "): " + roles + " has grants, objects or policies there; allow connections (ALTER DATABASE … ALLOW_CONNECTIONS true) or grant the operator CONNECT, then verify again"
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgrole: diff: read databases that cannot be scanned: %w", err)
	}
	out = append(out, unscanned...)
	if !contains(dbs, a.cfg.Database) {
		dbs = append(dbs, a.cfg.Database)
	}
	sort.Strings(dbs)
	q := effectiveQuery(a.version)
	for _, db := range dbs {
		err := a.withDB(ctx, db, func(c *pgx.Conn) error {
			for _, ps := range passes {
				ms, err := collect(c, db, q, ps.x, ps.y, ps.extra)
				if err != nil {
					return err
				}
				out = append(out, ms...)
				ums, err := collect(c, db, userMappingDiffQuery, ps.x, ps.y, ps.extra)
				if err != nil {
					return err
				}
				for _, m := range ums {
					// Options that differ are found by both passes: once is enough.
					if !ps.extra || !strings.HasPrefix(m.Privilege, "extra: user mapping options") {
						out = append(out, m)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pgrole: diff in database %q: %w", db, err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// uncomparedQuery lists the databases Diff cannot scan (ALLOW_CONNECTIONS
// false, or the operator lacks CONNECT) where a role that only one of $1
// and $2 has the privileges of (each counts itself) has pg_shdepend
// entries or that it owns: there the two may differ unseen.
const uncomparedQuery = `
WITH o AS (SELECT r.oid FROM pg_roles r, pg_roles s WHERE s.oid = $1 AND (r.oid = s.oid OR (NOT s.rolsuper AND pg_has_role(s.oid, r.oid, 'USAGE')))),
     n AS (SELECT r.oid FROM pg_roles r, pg_roles s WHERE s.oid = $2 AND (r.oid = s.oid OR (NOT s.rolsuper AND pg_has_role(s.oid, r.oid, 'USAGE')))),
     one_side AS ((SELECT oid FROM o EXCEPT SELECT oid FROM n) UNION (SELECT oid FROM n EXCEPT SELECT oid FROM o)),
     deps AS (SELECT s.dbid AS db, s.refobjid AS role FROM pg_shdepend s
              WHERE s.refclassid = 'pg_authid'::regclass AND s.dbid <> 0 AND s.refobjid IN (SELECT oid FROM one_side)
              UNION SELECT d.oid, d.datdba FROM pg_database d WHERE d.datdba IN (SELECT oid FROM one_side))
SELECT d.datname::text, string_agg(DISTINCT quote_ident(r.rolname), ', '),
       CASE WHEN NOT d.datallowconn THEN 'ALLOW_CONNECTIONS false' ELSE 'operator lacks CONNECT' END
FROM deps JOIN pg_database d ON d.oid = deps.db JOIN pg_roles r ON r.oid = deps.role
WHERE NOT d.datallowconn OR NOT has_database_privilege(current_user, d.oid, 'CONNECT')
GROUP BY d.datname, d.datallowconn ORDER BY 1`

// hasPrivsOf reports whether role oid has the privileges of the role named
// name.
func (a *Admin) hasPrivsOf(ctx context.Context, oid uint32, name string) bool {
	var ok bool
	_ = a.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2 AND pg_has_role($1::oid, oid, 'USAGE'))`, oid, name).Scan(&ok)
	return ok
}

func (a *Admin) isMember(ctx context.Context, member, group uint32) bool {
	var ok bool
	_ = a.conn.QueryRow(ctx, `SELECT pg_has_role($1::oid, $2, 'USAGE')`, member, group).Scan(&ok)
	return ok
}

func (a *Admin) inheritedOIDs(ctx context.Context, set []uint32) []uint32 {
	rows, err := a.conn.Query(ctx, `SELECT DISTINCT r.oid FROM pg_roles r, unnest($1::oid[]) s(o)
		WHERE r.oid = s.o OR (pg_has_role(s.o, r.oid, 'USAGE') AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = s.o))`, set)
	if err != nil {
		return set
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return set
	}
	return out
}

// VerifyPrivileges returns a *DiffError (ErrPrivilegeDiff) unless newRole can do
// everything oldRole can.
func (a *Admin) VerifyPrivileges(ctx context.Context, oldRole, newRole string) error {
	ms, err := a.Diff(ctx, oldRole, newRole)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		return &DiffError{Old: oldRole, New: newRole, Differences: ms}
	}
	return nil
}

func (a *Admin) roleOID(ctx context.Context, name string) (uint32, error) {
	var oid uint32
	err := a.conn.QueryRow(ctx, `SELECT oid FROM pg_roles WHERE rolname = $1`, name).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", ErrRoleNotFound, name)
	}
	if err != nil {
		return 0, fmt.Errorf("pgrole: look up role %q: %w", name, err)
	}
	return oid, nil
}

// withGrantOption renders ARRAY[privs…, each privilege WITH GRANT OPTION]:
// a role that may grant a privilege on can do more than one that holds it.
func withGrantOption(privs string) string {
	all := strings.Split(privs, ", ")
	for _, p := range strings.Split(privs, ", ") {
		all = append(all, strings.TrimSuffix(p, "'")+" WITH GRANT OPTION'")
	}
	return "ARRAY[" + strings.Join(all, ", ") + "]"
}
