package redisauth

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxNameLen bounds the user names redisauth creates or changes.
const MaxNameLen = 128

// ValidateName checks a user name redisauth will read, create or delete:
// 1..128 bytes of ASCII letters, digits and "_ - . : @", starting with a
// letter or "_". Redis itself accepts almost anything without a space; the
// narrower set keeps a name from confusing a reviewer, a shell or the
// space-separated ACL LIST format.
func ValidateName(name string) error {
	if name == "" {
		return &NameError{Name: name, Reason: "empty"}
	}
	if len(name) > MaxNameLen {
		return &NameError{Name: name, Reason: fmt.Sprintf("%d bytes, the limit is %d", len(name), MaxNameLen)}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '@'))
		if !ok {
			return &NameError{Name: name, Reason: fmt.Sprintf("byte %d (%q) is not allowed: use letters, digits, _ - . : @ and start with a letter or _", i, string([]byte{c}))}
		}
	}
	return nil
}

// SplitUserName splits a user name into its base and generation, as
// pgrole.SplitLoginName does for roles: "app" → ("app", 1), "app_v3" →
// ("app", 3).
func SplitUserName(name string) (base string, gen int) {
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

// NextUserName picks the user that follows current by alternation, as
// pgrole.NextLoginName does for login roles: base → base_v2 → base_v3 …,
// taking the lowest generation ≥ 2 that is not current and does not exist
// (exists reports that). base is the base of current (SplitUserName) unless
// the generations hang off another name. Once the old user is retired
// (deleted) its name is free again, so names alternate between two
// generations instead of growing.
func NextUserName(base, current string, exists func(string) bool) (string, error) {
	if err := ValidateName(base); err != nil {
		return "", err
	}
	for gen := 2; gen < 10000; gen++ {
		name := base + "_v" + strconv.Itoa(gen)
		if err := ValidateName(name); err != nil {
			return "", err
		}
		if name != current && !exists(name) {
			return name, nil
		}
	}
	return "", &NameError{Name: base, Reason: "no free generation name"}
}
