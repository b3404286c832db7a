package pgrole

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrThirdPartyGrants: the role to drop granted privileges or memberships
// to other roles (through its GRANT OPTION or ADMIN OPTION) that its
// successor cannot grant again; dropping it would revoke them from those
// roles. The error is a *GrantorError.
var ErrThirdPartyGrants = errors.New("pgrole: the role granted privileges to other roles that its successor cannot re-grant")

// GrantedBy is one grant a role made as grantor to another role: an ACL
// entry (Kind is an object kind, a parameter included) or, on PostgreSQL
// 16+, a membership (Kind MEMBERSHIP, Object the group role). DROP OWNED BY
// the grantor revokes most of them (cascading to what the grantee granted
// on with that option; shared objects' in whichever database it runs
// first), but not a column privilege granted through a table-level GRANT
// OPTION, which then blocks DROP ROLE: retire revokes each explicitly.
type GrantedBy struct {
	Database  string // "" for databases and memberships
	Kind      string
	Object    string
	Column    string
	Privilege string // "" for memberships
	Grantable bool   // WITH GRANT OPTION (memberships: ADMIN)
	Grantee   string
	// Public: the grantee is PUBLIC (ACL grantee 0), not a role that
	// happens to be named "PUBLIC".
	Public bool
	// Inherit, Set: the membership's options (PostgreSQL 16+).
	Inherit, Set bool
	// Regrantable: the successor holds the privilege WITH GRANT OPTION (or
	// the role WITH ADMIN OPTION), so it can make the same grant.
	Regrantable bool
	// held: the grantor holds the privilege WITH GRANT OPTION itself, in
	// the object's ACL (a column's: the column's or its table's), so it
	// can revoke the grant. False after an interrupted retire whose DROP
	// OWNED already took its grant options but left the grant (a column
	// privilege granted through a table-level option).
	held bool
}

func (g GrantedBy) grantee() string {
	if g.Public {
		return "PUBLIC"
	}
	return ident(g.Grantee)
}

// on renders the privilege and its object, as GRANT and REVOKE write them.
func (g GrantedBy) on() string {
	if g.Kind == KindColumn {
		return g.Privilege + " (" + g.Column + ") ON TABLE " + g.Object
	}
	return g.Privilege + " ON " + g.Kind + " " + g.Object
}

// revoke renders the statement, run as the grantor, that revokes the
// grant, cascading to what the grantee granted on with it unless the
// grantee holds the grant option from another grantor too (the successor:
// the grants are made again first).
func (g GrantedBy) revoke() string {
	return "REVOKE " + g.on() + " FROM " + g.grantee() + " CASCADE"
}

// sql renders the grant, without a grantor.
func (g GrantedBy) sql() string {
	if g.Kind == "MEMBERSHIP" {
		return "GRANT " + ident(g.Object) + " TO " + g.grantee() + " WITH ADMIN " + boolSQL(g.Grantable) +
			", INHERIT " + boolSQL(g.Inherit) + ", SET " + boolSQL(g.Set)
	}
	s := "GRANT " + g.on() + " TO " + g.grantee()
	if g.Grantable {
		s += " WITH GRANT OPTION"
	}
	return s
}

func boolSQL(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func (g GrantedBy) String() string {
	db := g.Database
	if db == "" {
		db = "(cluster)"
	}
	return db + ": " + g.sql()
}

// GrantorError is ErrThirdPartyGrants: what Role granted to other roles and
// Successor cannot grant again.
type GrantorError struct {
	Role, Successor string
	Grants          []GrantedBy
}

func (e *GrantorError) Error() string {
	var b strings.Builder
	if e.Successor == "" {
		fmt.Fprintf(&b, "pgrole: refusing to drop %q: it granted %d privilege(s) to other roles, which DROP OWNED would revoke from them; nothing was changed: give a reassign target, the role that re-grants them before the drop, or revoke them:", e.Role, len(e.Grants))
	} else {
		fmt.Fprintf(&b, "pgrole: refusing to drop %q: it granted %d privilege(s) to other roles that %q cannot grant again (it lacks the GRANT/ADMIN OPTION); DROP OWNED would revoke them from those roles; nothing was changed: grant them to %q WITH GRANT OPTION (roles: WITH ADMIN OPTION), or revoke them, then retire again:",
			e.Role, len(e.Grants), e.Successor, e.Successor)
	}
	for i, g := range e.Grants {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Grants)-20)
			break
		}
		b.WriteString("\n  " + g.String())
	}
	return b.String()
}

func (e *GrantorError) Unwrap() error { return ErrThirdPartyGrants }

// grantorQuery lists the ACL entries role $1 granted to another role in the
// current database, and whether role $2 holds each WITH GRANT OPTION. With
// $3 (a reassign target is set) objects role $1 owns are left out: REASSIGN
// OWNED makes the new owner the grantor of those entries.
const grantorQuery = `
SELECT k, o, col, p, g, ge = 0, coalesce((SELECT rolname::text FROM pg_roles WHERE oid = ge), ''), can, held FROM (
SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname), '',
       a.privilege_type, a.is_grantable, a.grantee,
       CASE c.relkind WHEN 'S' THEN has_sequence_privilege($2::oid, c.oid, a.privilege_type || ' WITH GRANT OPTION')
            ELSE has_table_privilege($2::oid, c.oid, a.privilege_type || ' WITH GRANT OPTION') END,
       EXISTS (SELECT 1 FROM aclexplode(c.relacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE c.relacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND c.relowner = $1)
UNION ALL
SELECT 'COLUMN', quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(t.attname),
       a.privilege_type, a.is_grantable, a.grantee, has_column_privilege($2::oid, c.oid, t.attnum, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(c.relacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable) OR EXISTS (SELECT 1 FROM aclexplode(t.attacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(t.attacl) a
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND c.relowner = $1)
UNION ALL
SELECT 'SCHEMA', quote_ident(n.nspname), '', a.privilege_type, a.is_grantable, a.grantee,
       has_schema_privilege($2::oid, n.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(n.nspacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_namespace n, aclexplode(n.nspacl) a
WHERE n.nspacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND n.nspowner = $1)
UNION ALL
SELECT CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       quote_ident(n.nspname) || '.' || quote_ident(f.proname) || '(' || pg_get_function_identity_arguments(f.oid) || ')', '',
       a.privilege_type, a.is_grantable, a.grantee, has_function_privilege($2::oid, f.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(f.proacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace, aclexplode(f.proacl) a
WHERE f.proacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND f.proowner = $1)
UNION ALL
SELECT 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname), '', a.privilege_type, a.is_grantable, a.grantee,
       has_type_privilege($2::oid, t.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(t.typacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, aclexplode(t.typacl) a
WHERE t.typacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND t.typowner = $1)
UNION ALL
SELECT 'LARGE OBJECT', l.oid::text, '', a.privilege_type, a.is_grantable, a.grantee,
       pg_has_role($2::oid, l.lomowner, 'USAGE') OR EXISTS (SELECT 1 FROM aclexplode(l.lomacl) b
         WHERE b.grantee = $2 AND b.privilege_type = a.privilege_type AND b.is_grantable),
       EXISTS (SELECT 1 FROM aclexplode(l.lomacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_largeobject_metadata l, aclexplode(l.lomacl) a
WHERE l.lomacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND l.lomowner = $1)
UNION ALL
SELECT 'FOREIGN DATA WRAPPER', quote_ident(w.fdwname), '', a.privilege_type, a.is_grantable, a.grantee,
       has_foreign_data_wrapper_privilege($2::oid, w.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(w.fdwacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a
WHERE w.fdwacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND w.fdwowner = $1)
UNION ALL
SELECT 'FOREIGN SERVER', quote_ident(s.srvname), '', a.privilege_type, a.is_grantable, a.grantee,
       has_server_privilege($2::oid, s.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(s.srvacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_foreign_server s, aclexplode(s.srvacl) a
WHERE s.srvacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND s.srvowner = $1)
UNION ALL
SELECT 'LANGUAGE', quote_ident(l.lanname), '', a.privilege_type, a.is_grantable, a.grantee,
       has_language_privilege($2::oid, l.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(l.lanacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_language l, aclexplode(l.lanacl) a
WHERE l.lanacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND l.lanowner = $1)
) x(k, o, col, p, g, ge, can, held)
ORDER BY 1, 2, 3, 7, 4`

// sharedGrantorQuery is grantorQuery for database and tablespace ACLs
// (followed by parameterGrantorQuery on PostgreSQL 15+, then
// sharedGrantorOrder).
const sharedGrantorQuery = `
SELECT 'DATABASE', quote_ident(d.datname), '', a.privilege_type, a.is_grantable, a.grantee = 0,
       coalesce((SELECT rolname::text FROM pg_roles WHERE oid = a.grantee), ''),
       has_database_privilege($2::oid, d.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(d.datacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_database d, aclexplode(d.datacl) a
WHERE d.datacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND d.datdba = $1)
UNION ALL
SELECT 'TABLESPACE', quote_ident(t.spcname), '', a.privilege_type, a.is_grantable, a.grantee = 0,
       coalesce((SELECT rolname::text FROM pg_roles WHERE oid = a.grantee), ''),
       has_tablespace_privilege($2::oid, t.oid, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(t.spcacl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_tablespace t, aclexplode(t.spcacl) a
WHERE t.spcacl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1 AND NOT ($3 AND t.spcowner = $1)`

// parameterGrantorQuery is the part of sharedGrantorQuery for parameter
// ACLs (pg_parameter_acl, PostgreSQL 15+). DROP OWNED BY the grantor, in
// whichever database runs first, revokes its grants cluster-wide.
const parameterGrantorQuery = `
UNION ALL
SELECT 'PARAMETER', p.parname::text, '', a.privilege_type, a.is_grantable, a.grantee = 0,
       coalesce((SELECT rolname::text FROM pg_roles WHERE oid = a.grantee), ''),
       has_parameter_privilege($2::oid, p.parname::text, a.privilege_type || ' WITH GRANT OPTION'),
       EXISTS (SELECT 1 FROM aclexplode(p.paracl) b WHERE b.grantee = $1 AND b.privilege_type = a.privilege_type AND b.is_grantable)
FROM pg_parameter_acl p, aclexplode(p.paracl) a
WHERE p.paracl IS NOT NULL AND a.grantor = $1 AND a.grantee <> $1`

const sharedGrantorOrder = `
ORDER BY 1, 2, 7, 4`

// membershipGrantorQuery lists the memberships role $1 granted (PostgreSQL
// 16+ tracks and revokes them with the grantor) and whether $2 may grant
// the same role (ADMIN OPTION, or superuser).
const membershipGrantorQuery = `
SELECT g.rolname::text, r.rolname::text, m.admin_option, m.inherit_option, m.set_option,
       (SELECT rolsuper FROM pg_roles WHERE oid = $2) OR pg_has_role($2::oid, m.roleid, 'MEMBER WITH ADMIN OPTION')
FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
WHERE m.grantor = $1 AND m.member <> $1 AND m.roleid <> $1
ORDER BY 1, 2`

// grantedByOthersQuery lists the ACL entries granting to role $1 made by a
// grantor other than the object's owner (a role holding a GRANT OPTION).
// DROP OWNED BY $1 revokes only what the owner granted: these would be
// left, and DROP ROLE would fail after DROP OWNED committed elsewhere.
const grantedByOthersQuery = `
SELECT k, o, col, p, gr FROM (
SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname), '',
       a.privilege_type, a.grantor
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE c.relacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, c.relowner)
UNION ALL
SELECT 'COLUMN', quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(t.attname), a.privilege_type, a.grantor
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(t.attacl) a
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND a.grantee = $1 AND a.grantor NOT IN ($1, c.relowner)
UNION ALL
SELECT 'SCHEMA', quote_ident(n.nspname), '', a.privilege_type, a.grantor
FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, n.nspowner)
UNION ALL
SELECT CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       quote_ident(n.nspname) || '.' || quote_ident(f.proname) || '(' || pg_get_function_identity_arguments(f.oid) || ')', '',
       a.privilege_type, a.grantor
FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace, aclexplode(f.proacl) a
WHERE f.proacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, f.proowner)
UNION ALL
SELECT 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname), '', a.privilege_type, a.grantor
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, aclexplode(t.typacl) a
WHERE t.typacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, t.typowner)
UNION ALL
SELECT 'LARGE OBJECT', l.oid::text, '', a.privilege_type, a.grantor
FROM pg_largeobject_metadata l, aclexplode(l.lomacl) a WHERE l.lomacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, l.lomowner)
UNION ALL
SELECT 'FOREIGN DATA WRAPPER', quote_ident(w.fdwname), '', a.privilege_type, a.grantor
FROM pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a WHERE w.fdwacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, w.fdwowner)
UNION ALL
SELECT 'FOREIGN SERVER', quote_ident(s.srvname), '', a.privilege_type, a.grantor
FROM pg_foreign_server s, aclexplode(s.srvacl) a WHERE s.srvacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, s.srvowner)
UNION ALL
SELECT 'LANGUAGE', quote_ident(l.lanname), '', a.privilege_type, a.grantor
FROM pg_language l, aclexplode(l.lanacl) a WHERE l.lanacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, l.lanowner)
) x(k, o, col, p, g) JOIN LATERAL (SELECT rolname::text FROM pg_roles WHERE oid = x.g) r(gr) ON true
ORDER BY 1, 2, 3, 5, 4`

const sharedGrantedByOthersQuery = `
SELECT 'DATABASE', quote_ident(d.datname), '', a.privilege_type, r.rolname::text
FROM pg_database d, aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantor
WHERE d.datacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, d.datdba)
UNION ALL
SELECT 'TABLESPACE', quote_ident(t.spcname), '', a.privilege_type, r.rolname::text
FROM pg_tablespace t, aclexplode(t.spcacl) a JOIN pg_roles r ON r.oid = a.grantor
WHERE t.spcacl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, t.spcowner)`

// parameterGrantedByOthersQuery is the part of sharedGrantedByOthersQuery
// for parameter ACLs (PostgreSQL 15+), whose owner is the bootstrap
// superuser (OID 10): DROP OWNED revokes only what it granted.
const parameterGrantedByOthersQuery = `
UNION ALL
SELECT 'PARAMETER', p.parname::text, '', a.privilege_type, r.rolname::text
FROM pg_parameter_acl p, aclexplode(p.paracl) a JOIN pg_roles r ON r.oid = a.grantor
WHERE p.paracl IS NOT NULL AND a.grantee = $1 AND a.grantor NOT IN ($1, 10)`

const sharedGrantedByOthersOrder = `
ORDER BY 1, 2, 5, 4`

// sharedKey keys cluster-wide statements in the maps of withRegrants.
const sharedKey = "\x00cluster"

// revokeGrantedByOthers returns, per database key (sharedKey: cluster-wide), the
// REVOKE … CASCADE statements, each run as its grantor, that remove what
// other grantors granted to r (see grantedByOthersQuery).
func (a *Admin) revokeGrantedByOthers(ctx context.Context, r *Role, key func(string) string) (map[string][]Step, error) {
	out := map[string][]Step{}
	scan := func(c *pgx.Conn, q, db string) error {
		rows, err := c.Query(ctx, q, r.OID)
		if err != nil {
			return err
		}
		type entry struct{ kind, obj, col, priv, grantor string }
		es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entry, error) {
			var e entry
			err := row.Scan(&e.kind, &e.obj, &e.col, &e.priv, &e.grantor)
			return e, err
		})
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.kind == KindParameter {
				e.obj = parameterIdent(e.obj)
			}
			on := e.priv + " ON " + e.kind + " " + e.obj
			if e.kind == KindColumn {
				on = e.priv + " (" + e.col + ") ON TABLE " + e.obj
			}
			s := "SET LOCAL ROLE " + ident(e.grantor) + "; REVOKE " + on + " FROM " + ident(r.Name) + " CASCADE; RESET ROLE"
			k, sk := "", sharedKey
			if db != "" {
				k, sk = key(db), key(db)
			}
			out[sk] = append(out[sk], Step{Database: k, SQL: s, exec: s})
		}
		return nil
	}
	shared := sharedGrantedByOthersQuery
	if a.version >= 150000 {
		shared += parameterGrantedByOthersQuery
	}
	if err := scan(a.conn, shared+sharedGrantedByOthersOrder, ""); err != nil {
		return nil, fmt.Errorf("pgrole: read database grants to %q by other grantors: %w", r.Name, err)
	}
	dbs := append([]string(nil), r.DependencyDatabases...)
	if !contains(dbs, a.cfg.Database) {
		dbs = append(dbs, a.cfg.Database)
	}
	for _, db := range dbs {
		if err := a.withDB(ctx, db, func(c *pgx.Conn) error { return scan(c, grantedByOthersQuery, db) }); err != nil {
			return nil, fmt.Errorf("pgrole: read grants to %q by other grantors in database %q: %w", r.Name, db, err)
		}
	}
	return out, nil
}

// GrantsMadeBy lists what role granted to other roles as grantor, in every
// database where it has dependencies (PostgreSQL records grantors there
// too) and cluster-wide (databases, tablespaces, parameters, memberships),
// and whether successor ("" = none) can grant each again. With reassign,
// grants on objects role owns are left out (REASSIGN OWNED moves them to
// the new owner).
func (a *Admin) GrantsMadeBy(ctx context.Context, role, successor string, reassign bool) ([]GrantedBy, error) {
	r, err := a.Introspect(ctx, role)
	if err != nil {
		return nil, err
	}
	return a.grantsMadeBy(ctx, r, successor, reassign)
}

func (a *Admin) grantsMadeBy(ctx context.Context, r *Role, successor string, reassign bool) ([]GrantedBy, error) {
	succ := r.OID // has_*_privilege needs a real role; answers are discarded below
	if successor != "" {
		var err error
		if succ, err = a.roleOID(ctx, successor); err != nil {
			return nil, err
		}
	}
	scan := func(c *pgx.Conn, q, db string) ([]GrantedBy, error) {
		rows, err := c.Query(ctx, q, r.OID, succ, reassign)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (GrantedBy, error) {
			g := GrantedBy{Database: db}
			err := row.Scan(&g.Kind, &g.Object, &g.Column, &g.Privilege, &g.Grantable, &g.Public, &g.Grantee, &g.Regrantable, &g.held)
			if g.Kind == KindParameter {
				g.Object = parameterIdent(g.Object)
			}
			return g, err
		})
	}
	shared := sharedGrantorQuery
	if a.version >= 150000 {
		shared += parameterGrantorQuery
	}
	out, err := scan(a.conn, shared+sharedGrantorOrder, "")
	if err != nil {
		return nil, fmt.Errorf("pgrole: read database grants made by %q: %w", r.Name, err)
	}
	if a.version >= 160000 {
		rows, err := a.conn.Query(ctx, membershipGrantorQuery, r.OID, succ)
		if err != nil {
			return nil, fmt.Errorf("pgrole: read memberships granted by %q: %w", r.Name, err)
		}
		ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (GrantedBy, error) {
			g := GrantedBy{Kind: "MEMBERSHIP"}
			err := row.Scan(&g.Object, &g.Grantee, &g.Grantable, &g.Inherit, &g.Set, &g.Regrantable)
			return g, err
		})
		if err != nil {
			return nil, fmt.Errorf("pgrole: read memberships granted by %q: %w", r.Name, err)
		}
		out = append(out, ms...)
	}
	dbs := append([]string(nil), r.DependencyDatabases...)
	if !contains(dbs, a.cfg.Database) {
		dbs = append(dbs, a.cfg.Database)
	}
	for _, db := range dbs {
		err := a.withDB(ctx, db, func(c *pgx.Conn) error {
			gs, err := scan(c, grantorQuery, db)
			out = append(out, gs...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("pgrole: read grants made by %q in database %q: %w", r.Name, db, err)
		}
	}
	if successor == "" {
		for i := range out {
			out[i].Regrantable = false
		}
	}
	return out, nil
}

// withRegrants puts, before the drop statements of role, the grants it made
// to other roles, made again by successor: cluster-wide ones (databases,
// tablespaces, parameters, memberships) before the first DROP OWNED, which
// revokes them in whichever database it runs, the others before the DROP
// OWNED of their database. Each object grant is then revoked explicitly,
// as role (REVOKE … CASCADE as its grantor): DROP OWNED does not remove
// every one of them (a column privilege granted through a table-level
// GRANT OPTION outlives that option and would make DROP ROLE fail after
// DROP OWNED committed). The statements are computed from the catalog on
// every call, so a retire that failed midway, run again, makes again and
// revokes what is left. It refuses (*GrantorError) if successor cannot
// make one of them.
func (a *Admin) withRegrants(ctx context.Context, r *Role, successor string, steps []Step) ([]Step, error) {
	gs, err := a.grantsMadeBy(ctx, r, successor, successor != "")
	if err != nil {
		return nil, err
	}
	var refused []GrantedBy
	for _, g := range gs {
		if !g.Regrantable {
			refused = append(refused, g)
		}
	}
	if len(refused) > 0 {
		return nil, &GrantorError{Role: r.Name, Successor: successor, Grants: refused}
	}
	key := func(db string) string {
		if db == a.cfg.Database {
			return ""
		}
		return db
	}
	revokes, err := a.revokeGrantedByOthers(ctx, r, key)
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 && len(revokes) == 0 {
		return steps, nil
	}
	var shared, sharedRevokes []Step
	perDB, perDBRevokes := map[string][]Step{}, map[string][]Step{}
	for _, g := range gs {
		s := g.sql()
		exec := s
		if g.Kind == "MEMBERSHIP" {
			by := ident(successor)
			if g.Grantee == successor && !g.Public {
				by = "CURRENT_USER"
			}
			exec = s + " GRANTED BY " + by
			s = exec
		} else if g.Public || g.Grantee != successor {
			// The grantor of an object privilege is always the current
			// user: act as the successor for the statement.
			exec = "SET LOCAL ROLE " + ident(successor) + "; " + s + "; RESET ROLE"
			s = exec
		}
		st := Step{Database: key(g.Database), SQL: s, exec: exec}
		if g.Database == "" {
			shared = append(shared, st)
		} else {
			perDB[st.Database] = append(perDB[st.Database], st)
		}
		if g.Kind == "MEMBERSHIP" {
			continue // DROP OWNED (16+) or DROP ROLE removes them
		}
		// REVOKE revokes only grants whose grantor is the current user:
		// act as role. If an earlier, interrupted retire took role's own
		// grant option, give it back for the statement (DROP OWNED
		// revokes it again).
		rv := "SET LOCAL ROLE " + ident(r.Name) + "; " + g.revoke() + "; RESET ROLE"
		if !g.held {
			rv = "GRANT " + g.on() + " TO " + ident(r.Name) + " WITH GRANT OPTION; " + rv
		}
		st = Step{Database: st.Database, SQL: rv, exec: rv}
		if g.Database == "" {
			sharedRevokes = append(sharedRevokes, st)
		} else {
			perDBRevokes[st.Database] = append(perDBRevokes[st.Database], st)
		}
	}
	// Re-grants first, so that a REVOKE … CASCADE finds the grantees
	// holding their grant options from the successor too; then role's own
	// grants, while it still holds its grant options; then what others
	// granted to role. Cluster-wide statements run before everything (in
	// the operator's database); each database's before its first drop
	// statement.
	shared = append(shared, sharedRevokes...)
	shared = append(shared, revokes[sharedKey]...)
	out := append([]Step(nil), shared...)
	seen := map[string]bool{}
	for _, s := range steps {
		if !seen[s.Database] {
			seen[s.Database] = true
			out = append(out, perDB[s.Database]...)
			out = append(out, perDBRevokes[s.Database]...)
			out = append(out, revokes[s.Database]...)
		}
		out = append(out, s)
	}
	return out, nil
}
