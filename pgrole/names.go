package pgrole

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// MaxNameLen is PostgreSQL's identifier limit (NAMEDATALEN-1 bytes). Longer
// names are silently truncated by the server, so they are refused here.
const MaxNameLen = 63

// ValidateName checks a role name pgrole will create, alter or drop. It
// accepts 1..63 bytes of ASCII letters, digits, '_', '$', '-' and '.',
// starting with a letter or '_', not starting with "pg_" (reserved). Names
// are still always quoted; this refuses names built to confuse a reviewer or
// a shell ("x\"; DROP ROLE postgres; --", control characters, spaces).
func ValidateName(name string) error {
	if name == "" {
		return &NameError{Name: name, Reason: "empty", Err: ErrInvalidName}
	}
	if len(name) > MaxNameLen {
		return &NameError{Name: name, Reason: fmt.Sprintf("%d bytes, the limit is %d (PostgreSQL would truncate it)", len(name), MaxNameLen), Err: ErrNameTooLong}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(i > 0 && (c >= '0' && c <= '9' || c == '$' || c == '-' || c == '.'))
		if !ok {
			// Name the character, not its first byte: byte 0xC3 of "é"
			// printed as a rune would read "Ã".
			r, _ := utf8.DecodeRuneInString(name[i:])
			what := fmt.Sprintf("character %q", r)
			if r == utf8.RuneError {
				what = fmt.Sprintf("byte 0x%02x (not UTF-8)", c)
			} else if r >= utf8.RuneSelf {
				what += " (not ASCII)"
			}
			return &NameError{Name: name, Reason: fmt.Sprintf("%s at byte %d is not allowed: use ASCII letters, digits, _ $ - . and start with a letter or _", what, i), Err: ErrInvalidName}
		}
	}
	if strings.HasPrefix(strings.ToLower(name), "pg_") {
		return &NameError{Name: name, Reason: `the "pg_" prefix is reserved for system roles`, Err: ErrInvalidName}
	}
	return nil
}

// ident quotes a validated identifier.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// SplitLoginName splits a login role name into its stable base and its
// generation: "app" → ("app", 1), "app_v3" → ("app", 3). Generations start at
// 2; "app_v1" and "app_v01" are not generation names and count as bases.
func SplitLoginName(name string) (base string, gen int) {
	i := strings.LastIndex(name, "_v")
	if i <= 0 {
		return name, 1
	}
	digits := name[i+2:]
	n, err := strconv.Atoi(digits)
	if err != nil || n < 2 || strconv.Itoa(n) != digits {
		return name, 1
	}
	return name[:i], n
}

// LoginName returns the name of generation gen of base: base itself for 1,
// base_v<gen> otherwise. It fails with ErrNameTooLong when that exceeds 63
// bytes.
func LoginName(base string, gen int) (string, error) {
	name := base
	if gen > 1 {
		name = base + "_v" + strconv.Itoa(gen)
	}
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return name, nil
}

// NextLoginName picks the login role that follows current by alternation:
// base → base_v2 → base_v3 …, taking the lowest generation ≥ 2 that is not
// current and does not exist (exists reports that). base is the stable
// role (Plan.Stable), the base of current (SplitLoginName) unless
// PlanOptions.Stable names another; redisauth.NextUserName takes the same
// arguments. Once a retired login role is dropped its name is free again,
// so names alternate between two generations instead of growing.
func NextLoginName(base, current string, exists func(string) bool) (string, error) {
	if err := ValidateName(base); err != nil {
		return "", err
	}
	for gen := 2; gen < 10000; gen++ {
		name, err := LoginName(base, gen)
		if err != nil {
			return "", err
		}
		if name != current && !exists(name) {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w: no free generation name for %q", ErrInvalidName, base)
}
