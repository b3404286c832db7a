package pgrole

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrVerifierWouldBeLogged: a statement carrying a verifier would be
// recorded by the server's logging settings, or its text kept by
// pg_stat_statements, and the operator may not change them for its
// transaction; nothing was sent. The error names the settings and the fix
// (GRANT SET ON PARAMETER, PostgreSQL 15+), or Admin.SetAllowLoggedVerifier
// overrides it.
var ErrVerifierWouldBeLogged = errors.New("pgrole: the server would log the verifier")

// SetAllowLoggedVerifier lets statements carrying a verifier run even when
// the server's logging settings would record them (the verifier then sits in
// the server log or in pg_stat_statements, from which, with an observed
// SCRAM exchange, a login is possible). The default, false, refuses before
// anything is sent.
func (a *Admin) SetAllowLoggedVerifier(allow bool) { a.allowLogged = allow }

// logSafe lists the settings that would put a statement's text in the server
// log, and the value under which they do not. The debug_print_* settings
// log the statement's parse tree, rewritten query or plan, constants (a
// PASSWORD, an OPTIONS value) included; anyone may set them, for a session
// or through ALTER ROLE … SET, so they are quieted for every operator.
var logSafe = []struct{ name, safe string }{
	{"log_statement", "none"},
	{"debug_print_parse", "off"},
	{"debug_print_rewritten", "off"},
	{"debug_print_plan", "off"},
	{"log_min_error_statement", "panic"},
	{"log_min_duration_statement", "-1"},
	{"log_min_duration_sample", "-1"},
	{"log_transaction_sample_rate", "0"},
	{"pgaudit.log", "none"},
}

// quietLogging runs in the transaction before a statement carrying a
// verifier (or copying a user mapping's options server-side): it sets every
// logging setting it may to its safe value (SET LOCAL: superusers, or a role
// granted SET on the parameter), does the same for pg_stat_statements (see
// quietStatStatements), then checks the effective values, refusing
// (ErrVerifierWouldBeLogged) unless all are safe or the operator allowed it.
// Settings that are not defined (pgaudit or pg_stat_statements not loaded,
// a setting an older server lacks) are skipped.
func (a *Admin) quietLogging(ctx context.Context, tx pgx.Tx) error {
	var unsafe []string
	for _, s := range logSafe {
		cur, defined, canSet, err := readSetting(ctx, tx, s.name)
		if err != nil {
			return err
		}
		if !defined {
			continue // pgaudit not loaded, or an older server
		}
		if canSet && !sameSetting(cur, s.safe) {
			if cur, err = setLocal(ctx, tx, s.name, s.safe); err != nil {
				return err
			}
		}
		if !sameSetting(cur, s.safe) {
			unsafe = append(unsafe, s.name+" = "+cur)
		}
	}
	u, err := quietStatStatements(ctx, tx)
	if err != nil {
		return err
	}
	unsafe = append(unsafe, u...)
	if len(unsafe) == 0 || a.allowLogged {
		return nil
	}
	return fmt.Errorf("%w: %s would record the statement carrying the verifier, and operator %q may not change it; nothing was sent. Have a superuser run GRANT SET ON PARAMETER %s TO %s (PostgreSQL 15+), run as a superuser, or accept the verifier in the log with --allow-verifier-in-log (SetAllowLoggedVerifier)",
		ErrVerifierWouldBeLogged, strings.Join(unsafe, ", "), a.user, paramNames(unsafe), ident(a.user))
}

// quietStatStatements keeps the statements of the transaction out of
// pg_stat_statements, whose view members of pg_read_all_stats read. When
// the extension is loaded (its settings are defined only then) it keeps the
// text of every utility statement it tracks (track_utility = on, the
// default) as sent: on PostgreSQL 15 to 17 a PASSWORD or an OPTIONS value is
// a plain string, not one of the constants it replaces by $n. Top-level
// statements are tracked unless track = none, nested ones (the user
// mapping copy's DO block executes CREATE USER MAPPING … OPTIONS) when
// track = all. So, each as the operator may: track = all becomes top (the
// DO block then need not change it itself), track_utility becomes off, and
// if track_utility stays on, track becomes none. It returns what to report
// ("pg_stat_statements.track_utility = on") when the statements would still
// be kept, nothing otherwise.
func quietStatStatements(ctx context.Context, tx pgx.Tx) ([]string, error) {
	const utilityName, trackName = "pg_stat_statements.track_utility", "pg_stat_statements.track"
	utility, loaded, canUtility, err := readSetting(ctx, tx, utilityName)
	if err != nil || !loaded {
		return nil, err
	}
	track, _, canTrack, err := readSetting(ctx, tx, trackName)
	if err != nil {
		return nil, err
	}
	if canTrack && strings.EqualFold(track, "all") {
		if track, err = setLocal(ctx, tx, trackName, "top"); err != nil {
			return nil, err
		}
	}
	if canUtility && !sameSetting(utility, "off") {
		if utility, err = setLocal(ctx, tx, utilityName, "off"); err != nil {
			return nil, err
		}
	}
	if canTrack && !sameSetting(utility, "off") && !sameSetting(track, "none") {
		if track, err = setLocal(ctx, tx, trackName, "none"); err != nil {
			return nil, err
		}
	}
	if sameSetting(utility, "off") || sameSetting(track, "none") {
		return nil, nil
	}
	return []string{utilityName + " = " + utility}, nil
}

// readSetting returns a setting's value, whether it is defined (an
// extension's settings are only once it is loaded) and whether the current
// user may SET it: anyone for a user-context setting, else a superuser, or
// (PostgreSQL 15+) a role granted SET on the parameter.
func readSetting(ctx context.Context, tx pgx.Tx, name string) (value string, defined, canSet bool, err error) {
	var cur *string
	err = tx.QueryRow(ctx, `SELECT current_setting($1, true),
		coalesce((SELECT context = 'user' FROM pg_settings WHERE name = $1), false)
		OR CASE WHEN current_setting('server_version_num')::int >= 150000 THEN has_parameter_privilege($1, 'SET') ELSE false END
		OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`, name).Scan(&cur, &canSet)
	if err != nil {
		return "", false, false, fmt.Errorf("pgrole: read logging setting %s: %w", name, err)
	}
	if cur == nil {
		return "", false, false, nil
	}
	return *cur, true, canSet, nil
}

// setLocal sets name to value for the transaction (SET LOCAL) and returns
// the value then in effect.
func setLocal(ctx context.Context, tx pgx.Tx, name, value string) (string, error) {
	if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", name, value); err != nil {
		return "", fmt.Errorf("pgrole: SET LOCAL %s: %w", name, classify(err))
	}
	var cur string
	if err := tx.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&cur); err != nil {
		return "", fmt.Errorf("pgrole: read logging setting %s: %w", name, err)
	}
	return cur, nil
}

func paramNames(unsafe []string) string {
	out := make([]string, len(unsafe))
	for i, u := range unsafe {
		out[i], _, _ = strings.Cut(u, " = ")
	}
	return strings.Join(out, ", ")
}

// sameSetting compares a setting's text with its safe value: "-1" and "0"
// as numbers ("0" is also how an unset sample rate reads), others
// case-insensitively.
func sameSetting(cur, safe string) bool {
	if strings.EqualFold(cur, safe) {
		return true
	}
	switch safe {
	case "-1":
		return cur == "-1" || cur == "-1ms"
	case "0":
		return cur == "0" || cur == "0.0" || cur == "0ms"
	}
	return false
}
