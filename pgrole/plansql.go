package pgrole

// This file holds the SQL of a plan: the builder that fills each phase, and
// the GRANT, ALTER ROLE SET and DEFAULT PRIVILEGES text it writes, with the
// quoting rules that keep catalog values from ever becoming SQL.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goodgo/rotation/pgrole/scram"
)

// builder fills a Plan's phases from the old role's snapshot.
type builder struct {
	p         *Plan
	old       *Role
	cur       *Phase
	noSetRole bool
}

// hasRoleSetting reports whether settings set "role" for every database
// (the old login role's own ALTER ROLE … SET role, copied as it is).
func hasRoleSetting(settings []Setting) bool {
	for _, s := range settings {
		if s.Database == "" && strings.EqualFold(s.Name, "role") {
			return true
		}
	}
	return false
}

func (b *builder) phase(name PhaseName) {
	b.p.Phases = append(b.p.Phases, Phase{Name: name})
	b.cur = &b.p.Phases[len(b.p.Phases)-1]
}

func (b *builder) add(db, sql string) {
	b.cur.Steps = append(b.cur.Steps, Step{Database: db, SQL: sql, exec: sql})
}

// addShared adds a cluster-wide statement (see Step.shared).
func (b *builder) addShared(sql string) {
	b.cur.Steps = append(b.cur.Steps, Step{SQL: sql, exec: sql, shared: true})
}

func (b *builder) addPassword(db, template string, v scram.Verifier) {
	b.cur.Steps = append(b.cur.Steps, Step{Database: db, password: true,
		SQL:     fmt.Sprintf(template, "'"+v.Redacted()+"'"),
		exec:    fmt.Sprintf(template, v.SQLLiteral()),
		dryExec: fmt.Sprintf(template, "NULL")})
}

// addLocked adds a statement on relation rel (see Step.lockRel).
func (b *builder) addLocked(db, sql, rel string) {
	b.cur.Steps = append(b.cur.Steps, Step{Database: db, SQL: sql, exec: sql, lockRel: rel})
}

// addAlone adds a statement that runs in a transaction of its own.
func (b *builder) addAlone(db, sql string) {
	b.cur.Steps = append(b.cur.Steps, Step{Database: db, SQL: sql, exec: sql, alone: true})
}

func (b *builder) check(s string) { b.cur.Checks = append(b.cur.Checks, s) }

func (b *builder) create() {
	b.phase(PhaseCreate)
	at := b.old.Attributes
	opts := []string{"LOGIN"}
	if b.p.Strategy == Mirror && !at.Inherit {
		opts = append(opts, "NOINHERIT")
	} else {
		opts = append(opts, "INHERIT")
	}
	for _, x := range []struct {
		on   bool
		name string
	}{{at.Superuser, "SUPERUSER"}, {at.CreateDB, "CREATEDB"}, {at.CreateRole, "CREATEROLE"}, {at.Replication, "REPLICATION"}, {at.BypassRLS, "BYPASSRLS"}} {
		if x.on {
			opts = append(opts, x.name)
		}
	}
	if r := b.p.resumeAttrs; b.p.resume && r != nil {
		// A resumed create phase repairs the role it made: an attribute
		// the old role lacks (added by hand since) is removed.
		for _, x := range []struct {
			extra bool
			name  string
		}{{r.Superuser && !at.Superuser, "NOSUPERUSER"}, {r.CreateDB && !at.CreateDB, "NOCREATEDB"}, {r.CreateRole && !at.CreateRole, "NOCREATEROLE"},
			{r.Replication && !at.Replication, "NOREPLICATION"}, {r.BypassRLS && !at.BypassRLS, "NOBYPASSRLS"}} {
			if x.extra {
				opts = append(opts, x.name)
			}
		}
	}
	opts = append(opts, "CONNECTION LIMIT "+strconv.Itoa(at.ConnLimit))
	// VALID UNTIL belongs to the password: the plan's (given, or the old
	// role's when still in the future; see PlanOptions.ValidUntil). A
	// resumed create phase sets it even when it is none, so a changed
	// expiry is repaired.
	switch {
	case b.p.validUntil != "":
		opts = append(opts, "VALID UNTIL "+literal(b.p.validUntil))
	case at.ValidUntil == "infinity" || b.p.resume:
		opts = append(opts, "VALID UNTIL 'infinity'")
	}
	verb := "CREATE ROLE "
	if b.p.resume {
		verb = "ALTER ROLE "
	}
	b.addPassword("", verb+ident(b.p.New)+" WITH "+strings.Join(opts, " ")+" PASSWORD %s", b.p.verifier)
	b.cur.Steps = append(b.cur.Steps, stateStep(b.p))
	b.check(fmt.Sprintf("role %q exists with LOGIN and logs in with the new password", b.p.New))
}

func (b *builder) grantMembership(role, member string, m *Membership) {
	sql := "GRANT " + ident(role) + " TO " + ident(member)
	var with []string
	if b.p.ServerVersion >= 160000 {
		admin, inherit, set := false, true, true
		if m != nil {
			admin = m.Admin
			if m.Inherit != nil {
				inherit = *m.Inherit
			}
			if m.Set != nil {
				set = *m.Set
			}
		}
		with = append(with, "ADMIN "+strings.ToUpper(strconv.FormatBool(admin)), "INHERIT "+strings.ToUpper(strconv.FormatBool(inherit)), "SET "+strings.ToUpper(strconv.FormatBool(set)))
	} else if m != nil && m.Admin {
		with = append(with, "ADMIN OPTION")
	}
	if len(with) > 0 {
		sql += " WITH " + strings.Join(with, ", ")
	}
	if b.p.ServerVersion >= 160000 && m != nil && m.Grantor != "" && b.grantors(role) > 1 {
		// PostgreSQL 16 keeps one grant per grantor, each with its own
		// options: grants of the same role by several grantors are made
		// again by the same grantors, or the second would overwrite the
		// first (one grant, from the operator).
		sql += " GRANTED BY " + ident(m.Grantor)
	}
	b.addShared(sql)
}

// grantors counts the grants of role to the old role (one per grantor).
func (b *builder) grantors(role string) int {
	n := 0
	if b.old == nil {
		return 0
	}
	for _, m := range b.old.MemberOf {
		if m.Role == role {
			n++
		}
	}
	return n
}

func (b *builder) grant() {
	b.phase(PhaseGrant)
	p, old := b.p, b.old
	// Memberships.
	if p.Strategy == Alternate {
		b.grantMembership(p.Stable, p.New, nil)
	}
	for i := range old.MemberOf {
		m := old.MemberOf[i]
		if p.Strategy == Alternate && m.Role == p.Stable {
			continue
		}
		b.grantMembership(m.Role, p.New, &m)
	}
	// Alternate: sessions of the login role run as the stable role, so
	// what the application creates belongs to the stable role, which the
	// next login role (and break-glass) can use without a reassign.
	if p.Strategy == Alternate && !b.noSetRole && !hasRoleSetting(old.Settings) {
		b.addShared("ALTER ROLE " + ident(p.New) + " SET role TO " + literal(p.Stable))
	}
	// Settings are per role, never inherited.
	for _, s := range old.Settings {
		sql := "ALTER ROLE " + ident(p.New)
		if s.Database != "" {
			sql += " IN DATABASE " + ident(s.Database)
		}
		b.addShared(sql + " SET " + settingSQL(s.Name, s.Value))
	}
	// Where the old role's direct privileges go: the new role (mirror), or
	// the stable role when an earlier login role drifted (alternate).
	target := p.New
	rehome := p.Strategy == Alternate && p.Old != p.Stable
	if rehome {
		target = p.Stable
	}
	copyDirect := p.Strategy == Mirror || rehome
	if copyDirect {
		for _, kind := range []string{KindDatabase, KindParameter, KindTablespace} {
			for _, g := range groupPrivileges(old.Privileges, p.Old, kind) {
				b.addShared(g.sql(target))
			}
		}
	}
	dbs := append([]string(nil), old.Databases...)
	for _, db := range dbs {
		dbKey := db
		if db == p.AdminDatabase {
			dbKey = ""
		}
		if copyDirect {
			for _, g := range groupPrivileges(old.Privileges, p.Old, "", db) {
				switch g.kind {
				case KindTable, KindSequence, KindColumn:
					b.addLocked(dbKey, g.sql(target), g.object)
				default:
					b.add(dbKey, g.sql(target))
				}
			}
		}
		for _, d := range old.DefaultPrivileges {
			if d.Database != db {
				continue
			}
			switch {
			case d.Owner == p.Old && (d.Public || d.Grantee != p.Old):
				// Defined by the old role: objects the new role creates get the same.
				b.add(dbKey, defaultSQL(p.New, d, d.Grantee, d.Public))
			case copyDirect && !d.Public && d.Grantee == p.Old && d.Owner != p.Old:
				// Granting to the old role: objects others create later.
				b.add(dbKey, defaultSQL(d.Owner, d, target, false))
			}
		}
		// User mappings are per role, never inherited: the new login role
		// gets a copy of each of the old role's (their options, e.g. a
		// remote password, copied server-side), unless its sessions run
		// as another role and use that role's (the alternate strategy's
		// SET role TO <stable>): no copy of the secret is made then.
		if !runsAsAnother(p.Strategy, b.noSetRole, old.Settings) {
			for _, m := range old.UserMappings {
				if m.Database == db {
					b.addUserMapping(dbKey, m)
				}
			}
		}
		if copyDirect {
			for _, pol := range old.Policies {
				if pol.Database != db || !contains(pol.Roles, p.Old) || contains(pol.Roles, target) {
					continue
				}
				roles := make([]string, 0, len(pol.Roles)+2)
				if pol.Public {
					roles = append(roles, "PUBLIC")
				}
				for _, r := range append(append([]string(nil), pol.Roles...), target) {
					roles = append(roles, ident(r)) // a role named "PUBLIC" too
				}
				b.addAlone(dbKey, "ALTER POLICY "+ident(pol.Name)+" ON "+pol.Table+" TO "+strings.Join(roles, ", "))
			}
		}
		if rehome && contains(old.DependencyDatabases, db) && ownsIn(old, db) {
			b.addAlone(dbKey, "REASSIGN OWNED BY "+ident(p.Old)+" TO "+ident(p.Stable))
		}
	}
	if p.Strategy == Alternate {
		b.check(fmt.Sprintf("%q is a member of %q and inherits its privileges", p.New, p.Stable))
	} else {
		b.check(fmt.Sprintf("every privilege, default privilege, setting, membership, user mapping and policy of %q is granted to %q", p.Old, p.New))
	}
}

// addUserMapping adds the copy of the old role's user mapping m for the
// new role (userMappingCopy), in a transaction of its own under the log
// guard (see Admin.quietLogging): the options exist in clear text only
// inside the server, in the statements the DO block executes.
func (b *builder) addUserMapping(db string, m UserMapping) {
	sql := userMappingCopy(b.p.Old, b.p.New, m.Server, false)
	b.cur.Steps = append(b.cur.Steps, Step{Database: db, SQL: sql, exec: sql, password: true, alone: true,
		dryExec: userMappingCopy(b.p.Old, b.p.New, m.Server, true)})
}

// userMappingCopy returns a DO block that (re)creates the user mapping of
// role to on server (a quoted name) with the options of from's mapping,
// read from pg_user_mappings when the block runs: the values (a remote
// password) never appear in the plan, its file or the statement the
// client sends. It is safe to repeat (the new role's mapping is dropped
// and created again in the same transaction). It refuses when the mapping
// is gone or the operator cannot read its options (only a superuser can),
// keeps pg_stat_statements from recording the inner statements, and
// replaces an error of the inner statements (whose context would quote
// them, values included) by one naming only the role and server. dry
// (Precheck) creates the mapping without options: the same privilege
// checks, no value read.
func userMappingCopy(from, to, server string, dry bool) string {
	f, t, s := dollarLiteral(from), dollarLiteral(to), dollarLiteral(server)
	dryStmt := ""
	if dry {
		dryStmt = "\nopts := NULL; -- pre-check: no option value is read"
	}
	return `DO $pgrole$DECLARE srv oid; src oid; hidden bool; opts text; BEGIN
-- copy a user mapping of the old role to the new role: the option values are read here, never printed
SELECT oid INTO srv FROM pg_foreign_server WHERE quote_ident(srvname) = ` + s + `;
SELECT oid INTO src FROM pg_roles WHERE rolname = ` + f + `;
SELECT m.umoptions IS NULL AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       (SELECT string_agg(quote_ident(split_part(x, '=', 1)) || ' ' || quote_literal(substr(x, strpos(x, '=') + 1)), ', ') FROM unnest(m.umoptions) x)
  INTO hidden, opts FROM pg_user_mappings m WHERE m.srvid = srv AND m.umuser = src;
IF NOT FOUND THEN RAISE EXCEPTION 'pgrole: no user mapping for % on server % to copy', ` + f + `, ` + s + ` USING ERRCODE = '42704'; END IF;
IF hidden THEN RAISE EXCEPTION 'pgrole: the options of the user mapping for % on server % are hidden from %: only a superuser can copy them', ` + f + `, ` + s + `, current_user USING ERRCODE = '42501'; END IF;` + dryStmt + `
IF current_setting('pg_stat_statements.track', true) = 'all' THEN PERFORM set_config('pg_stat_statements.track', 'top', true); END IF;
BEGIN
  EXECUTE format('DROP USER MAPPING IF EXISTS FOR %I SERVER %s', ` + t + `, ` + s + `);
  EXECUTE format('CREATE USER MAPPING FOR %I SERVER %s', ` + t + `, ` + s + `) || coalesce(' OPTIONS (' || opts || ')', '');
EXCEPTION WHEN OTHERS THEN
  RAISE EXCEPTION 'pgrole: copy the user mapping for % on server % to %: %', ` + f + `, ` + s + `, ` + t + `, SQLERRM USING ERRCODE = SQLSTATE;
END;
END$pgrole$`
}

// dollarLiteral quotes s as a string literal for a dollar-quoted body: an
// escape string with every '$' spelled \x24, so no name can end the body.
func dollarLiteral(s string) string {
	lit := strings.ReplaceAll(literal(s), "$", `\x24`)
	if !strings.HasPrefix(lit, "E") {
		lit = "E" + lit
	}
	return lit
}

func ownsIn(r *Role, db string) bool {
	for _, o := range r.Owned {
		if o.Database == db {
			return true
		}
	}
	return false
}

func (b *builder) verify() {
	b.phase(PhaseVerify)
	b.check(fmt.Sprintf("privilege diff %q → %q is empty (rotate pg verify; Admin.VerifyPrivileges in Go): tables, columns, sequences, schemas, functions, types, large objects, foreign-data wrappers, servers, languages, user mappings, databases, tablespaces, parameters, ownership, policies, default privileges, attributes, settings, memberships", b.p.Old, b.p.New))
	b.check("cutover is refused while the diff is not empty")
}

func (b *builder) cutover() {
	b.phase(PhaseCutover)
	b.check(fmt.Sprintf("PgBouncer userlist.txt has %q with the same verifier (%s), written atomically, then RELOAD; SHOW USERS lists it", b.p.New, b.p.verifier.Redacted()))
	b.check(fmt.Sprintf("applications read the new DSN (user %q) through their BeforeConnect hook as connections recycle", b.p.New))
	b.check(fmt.Sprintf("rollback until retire (§5.7): point applications back at %q, then rotate pg rollback --role %s (Admin.Rollback in Go) drains and drops %q", b.p.Old, b.p.Old, b.p.New))
}

func (b *builder) drain() {
	b.phase(PhaseDrain)
	if b.p.Incident {
		b.add("", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "+literal(b.p.Old)+" AND backend_type = 'client backend'")
		b.check(fmt.Sprintf("incident mode (§5.5): sessions of %q are terminated, not waited for", b.p.Old))
	}
	b.check(fmt.Sprintf("pg_stat_activity shows no client backend of %q (PgBouncer: RECONNECT, WAIT_CLOSE)", b.p.Old))
}

func (b *builder) retire(depDBs []string) {
	b.phase(PhaseRetire)
	p := b.p
	switch p.Retire {
	case RetireBreakGlass:
		b.addPassword("", "ALTER ROLE "+ident(p.Old)+" PASSWORD %s", p.breakGlass)
		b.check(fmt.Sprintf("%q keeps its privileges with a fresh random password (break-glass, fp=%s); remove it from PgBouncer's userlist", p.Old, p.breakGlassPassword.Fingerprint()))
	case RetireNoLogin:
		b.add("", "ALTER ROLE "+ident(p.Old)+" NOLOGIN")
		b.check(fmt.Sprintf("%q keeps its privileges but cannot log in; remove it from PgBouncer's userlist", p.Old))
	case RetireDrop:
		b.cur.Steps = append(b.cur.Steps, dropSteps(p.Old, p.ReassignTo, depDBs, p.AdminDatabase)...)
		b.check(fmt.Sprintf("refused while a role is a member of %q, while it has sessions, or while it owns objects with no reassign target", p.Old))
	}
}

// dropSteps are the statements that drop role: in every database where it
// has dependencies (and the operator's, for shared ones), REASSIGN OWNED to
// target then DROP OWNED; then DROP ROLE.
func dropSteps(role, target string, depDBs []string, adminDB string) []Step {
	dbs := append([]string(nil), depDBs...)
	if !contains(dbs, adminDB) {
		dbs = append(dbs, adminDB)
	}
	sort.Strings(dbs)
	var out []Step
	for _, db := range dbs {
		key := db
		if db == adminDB {
			continue // last, with DROP ROLE
		}
		if target != "" {
			s := "REASSIGN OWNED BY " + ident(role) + " TO " + ident(target)
			out = append(out, Step{Database: key, SQL: s, exec: s})
		}
		s := "DROP OWNED BY " + ident(role)
		out = append(out, Step{Database: key, SQL: s, exec: s})
	}
	if target != "" {
		s := "REASSIGN OWNED BY " + ident(role) + " TO " + ident(target)
		out = append(out, Step{SQL: s, exec: s})
	}
	for _, s := range []string{"DROP OWNED BY " + ident(role), "DROP ROLE " + ident(role)} {
		out = append(out, Step{SQL: s, exec: s})
	}
	return out
}

type privGroup struct {
	kind, object, db string
	grantable        bool
	privs            []string
	columns          map[string][]string // column → privileges
}

func (g privGroup) sql(to string) string {
	suffix := ""
	if g.grantable {
		suffix = " WITH GRANT OPTION"
	}
	if g.kind == KindColumn {
		// GRANT SELECT ("a", "b"), UPDATE ("b") ON TABLE t TO r
		byPriv := map[string][]string{}
		for col, ps := range g.columns {
			for _, pr := range ps {
				byPriv[pr] = append(byPriv[pr], col)
			}
		}
		var parts []string
		for _, pr := range sortedKeys(byPriv) {
			cols := byPriv[pr]
			sort.Strings(cols)
			parts = append(parts, pr+" ("+strings.Join(cols, ", ")+")")
		}
		return "GRANT " + strings.Join(parts, ", ") + " ON TABLE " + g.object + " TO " + ident(to) + suffix
	}
	return "GRANT " + strings.Join(g.privs, ", ") + " ON " + g.kind + " " + g.object + " TO " + ident(to) + suffix
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// groupPrivileges groups the direct privileges of role: only kind (when
// set) or every kind but databases, in database db (when given).
func groupPrivileges(privs []Privilege, role, kind string, db ...string) []privGroup {
	var order []string
	groups := map[string]*privGroup{}
	for _, pr := range privs {
		if pr.Public || pr.Grantee != role {
			continue
		}
		if kind != "" && pr.Kind != kind {
			continue
		}
		if kind == "" && sharedKind(pr.Kind) {
			continue
		}
		if len(db) > 0 && pr.Database != db[0] {
			continue
		}
		key := pr.Database + "\x00" + pr.Kind + "\x00" + pr.Object + "\x00" + strconv.FormatBool(pr.Grantable)
		g, ok := groups[key]
		if !ok {
			g = &privGroup{kind: pr.Kind, object: pr.Object, db: pr.Database, grantable: pr.Grantable, columns: map[string][]string{}}
			groups[key] = g
			order = append(order, key)
		}
		if pr.Kind == KindColumn {
			g.columns[pr.Column] = append(g.columns[pr.Column], pr.Privilege)
		} else if !contains(g.privs, pr.Privilege) {
			g.privs = append(g.privs, pr.Privilege)
		}
	}
	sort.Strings(order)
	out := make([]privGroup, 0, len(order))
	for _, k := range order {
		g := groups[k]
		sort.Strings(g.privs)
		out = append(out, *g)
	}
	return out
}

// defaultSQL renders ALTER DEFAULT PRIVILEGES; public (the ACL grantee 0)
// is the only way to write TO PUBLIC: a role named "PUBLIC" is quoted.
func defaultSQL(forRole string, d DefaultPrivilege, grantee string, public bool) string {
	sql := "ALTER DEFAULT PRIVILEGES FOR ROLE " + ident(forRole)
	if d.Schema != "" {
		sql += " IN SCHEMA " + d.Schema
	}
	to := "PUBLIC"
	if !public {
		to = ident(grantee)
	}
	sql += " GRANT " + d.Privilege + " ON " + d.ObjType + " TO " + to
	if d.Grantable {
		sql += " WITH GRANT OPTION"
	}
	return sql
}

var gucName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// listQuoteGUCs are GUC_LIST_QUOTE settings: the stored value is a list of
// identifiers, which must be given back element by element.
var listQuoteGUCs = map[string]bool{"search_path": true, "temp_tablespaces": true,
	"session_preload_libraries": true, "local_preload_libraries": true}

// settingSQL renders "name TO value" for ALTER ROLE … SET.
func settingSQL(name, value string) string {
	n := strings.ToLower(name)
	if !gucName.MatchString(name) {
		// The catalog held it, so it is a real setting; quote it rather than refuse.
		n = ident(name)
	}
	if listQuoteGUCs[n] {
		elems := splitList(value)
		lits := make([]string, len(elems))
		for i, e := range elems {
			lits[i] = literal(e)
		}
		if len(lits) == 0 {
			lits = []string{"''"}
		}
		return n + " TO " + strings.Join(lits, ", ")
	}
	return n + " TO " + literal(value)
}

// splitList splits a flattened GUC list ("\"$user\", public") into its
// unquoted elements.
func splitList(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, any := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuote = !inQuote
			any = true
		case !inQuote && c == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			any = false
		case !inQuote && (c == ' ' || c == '\t') && !any && cur.Len() == 0:
		default:
			cur.WriteByte(c)
			any = true
		}
	}
	if any || cur.Len() > 0 || len(out) > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// literal quotes s as a SQL string literal that reads back as s whatever
// standard_conforming_strings is: a value holding a backslash is written as
// an escape string (E'…', backslashes doubled), as libpq's
// PQescapeLiteral does, so a catalog value such as `\'; DROP …` cannot end
// the literal early on a connection with standard_conforming_strings off.
// NUL bytes, which no SQL literal can hold, are dropped.
func literal(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(s, `\`, `\\`) + "'"
	}
	return "'" + s + "'"
}
