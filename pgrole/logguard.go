package pgrole

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrVerifierWouldBeLogged: a statement carrying a verifier would be
// recorded by the server's logging settings, which the operator may not
// change for its transaction; nothing was sent. The error names the
// settings and the fix (GRANT SET ON PARAMETER, PostgreSQL 15+), or
// Admin.SetAllowLoggedVerifier overrides it.
var ErrVerifierWouldBeLogged = errors.New("pgrole: the server would log the verifier")

// SetAllowLoggedVerifier lets statements carrying a verifier run even when
// the server's logging settings would record them (the verifier then sits in
// the server log, from which, with an observed SCRAM exchange, a login is
// possible). The default, false, refuses before anything is sent.
func (a *Admin) SetAllowLoggedVerifier(allow bool) { a.allowLogged = allow }

// logSafe lists the settings that would put a statement's text in the server
// log, and the value under which they do not.
var logSafe = []struct{ name, safe string }{
	{"log_statement", "none"},
	{"log_min_error_statement", "panic"},
	{"log_min_duration_statement", "-1"},
	{"log_min_duration_sample", "-1"},
	{"log_transaction_sample_rate", "0"},
	{"pgaudit.log", "none"},
}

// quietLogging runs in the transaction before a statement carrying a
// verifier (or copying a user mapping's options server-side): it sets every logging setting it may to its safe value (SET
// LOCAL: superusers, or a role granted SET on the parameter), then checks
// the effective values, refusing (ErrVerifierWouldBeLogged) unless all are
// safe or the operator allowed it.
func (a *Admin) quietLogging(ctx context.Context, tx pgx.Tx) error {
	var unsafe []string
	for _, s := range logSafe {
		var cur *string
		var canSet bool
		err := tx.QueryRow(ctx, `SELECT current_setting($1, true),
			CASE WHEN current_setting('server_version_num')::int >= 150000 THEN has_parameter_privilege($1, 'SET') ELSE false END
			OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`, s.name).Scan(&cur, &canSet)
		if err != nil {
			return fmt.Errorf("pgrole: read logging setting %s: %w", s.name, err)
		}
		if cur == nil {
			continue // not defined (pgaudit not loaded, or an older server)
		}
		if canSet && !sameSetting(*cur, s.safe) {
			if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", s.name, s.safe); err != nil {
				return fmt.Errorf("pgrole: SET LOCAL %s: %w", s.name, classify(err))
			}
			if err := tx.QueryRow(ctx, "SELECT current_setting($1)", s.name).Scan(cur); err != nil {
				return err
			}
		}
		if !sameSetting(*cur, s.safe) {
			unsafe = append(unsafe, s.name+" = "+*cur)
		}
	}
	if len(unsafe) == 0 || a.allowLogged {
		return nil
	}
	return fmt.Errorf("%w: %s would record the statement carrying the verifier, and operator %q may not change it; nothing was sent. Have a superuser run GRANT SET ON PARAMETER %s TO %s (PostgreSQL 15+), run as a superuser, or accept the verifier in the log with --allow-verifier-in-log (SetAllowLoggedVerifier)",
		ErrVerifierWouldBeLogged, strings.Join(unsafe, ", "), a.user, paramNames(unsafe), ident(a.user))
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
