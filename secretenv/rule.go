package secretenv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
)

// Encoding says how a variable's value becomes the secret bytes.
type Encoding int

const (
	// Raw: the bytes of the value are the secret (JWT and webhook secrets,
	// provider-issued keys). This is how the existing Node service uses them.
	Raw Encoding = iota
	// Base64: the value is standard, padded base64 and the decoded bytes are
	// the secret (field encryption keys). Whitespace is not accepted.
	Base64
	// URLPassword: the value is a URL (DATABASE_URL, REDIS_URL) and the
	// secret is its password.
	URLPassword
)

// Rule is how one variable is validated.
type Rule struct {
	Encoding Encoding
	// MinLen is the minimum length of the secret in bytes (after decoding).
	MinLen int
	// ExactLen, when set, is the exact length of the secret in bytes after
	// decoding.
	ExactLen int
	// List: the value is a comma-separated list of secrets, each validated
	// on its own (FIELD_ENCRYPTION_KEY_PREVIOUS). Empty items are errors.
	List bool
	// PasswordOptional: for URLPassword, a URL without a password is valid
	// and yields no secret.
	PasswordOptional bool
	// KeepTrailingSpace: a value ending in whitespace (a newline, "\r\n",
	// spaces, tabs) is used as it is, whitespace included, instead of being
	// refused with ErrTrailingSpace. Load, LoadList and Require set it for
	// the variables named in EnvKeepTrailingSpace.
	KeepTrailingSpace bool
}

// EnvKeepTrailingSpace names the setting that lists (comma-separated) the
// variables whose trailing whitespace is part of the secret: for a fleet
// that already signs with such a value (a Node service reading an
// environment variable written with echo). It is looked up in the Source,
// then in the process environment. Nothing else ever keeps trailing
// whitespace, and nothing ever strips it: every source (environment,
// directory, the CLI's stdin) gives the same bytes for the same secret.
const EnvKeepTrailingSpace = "SECRET_KEEP_TRAILING_WHITESPACE"

// Sentinel errors, matched with errors.Is on an *Error.
var (
	ErrMissing     = errors.New("required but not set")
	ErrTooShort    = errors.New("too short")
	ErrWrongLength = errors.New("wrong length")
	ErrNotBase64   = errors.New("not valid standard base64")
	ErrBadURL      = errors.New("not a valid URL")
	ErrNoPassword  = errors.New("URL has no password")
	ErrEmptyItem   = errors.New("empty item in list")
	ErrDuplicate   = errors.New("same secret in two places")
	// ErrTrailingSpace: the value ends in whitespace. Stripped or not, it
	// would be a different key from the same secret written without it, so
	// it is refused unless the variable is listed in EnvKeepTrailingSpace.
	ErrTrailingSpace = errors.New("ends with whitespace")
)

// Error is a validation failure of one variable. Its message names the
// variable and the fingerprint of the offending value; it never contains the
// value.
type Error struct {
	Var         string // the variable, e.g. "JWT_SECRET"
	Index       int    // position in a list, or -1
	Fingerprint string // fingerprint of the raw value, "" when there is none
	Err         error  // one of the sentinels above
	Detail      string // e.g. "12 bytes, need at least 32"
	Other       string // for ErrDuplicate: the other variable holding it
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Var)
	if e.Index >= 0 {
		fmt.Fprintf(&b, "[%d]", e.Index)
	}
	if e.Fingerprint != "" {
		b.WriteString(" (fp=" + e.Fingerprint + ")")
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Other != "" {
		b.WriteString(" (also in " + e.Other + ")")
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Decode validates one raw value under r and returns the secret it holds.
// name is used only for messages. For a List rule use DecodeList.
func Decode(name, raw string, r Rule) (fingerprint.Secret, error) {
	return decodeItem(name, -1, raw, r)
}

// DecodeList validates a comma-separated list under r.
func DecodeList(name, raw string, r Rule) ([]fingerprint.Secret, error) {
	items := strings.Split(raw, ",")
	out := make([]fingerprint.Secret, 0, len(items))
	for i, it := range items {
		if it == "" {
			return nil, &Error{Var: name, Index: i, Err: ErrEmptyItem, Detail: "remove the stray comma"}
		}
		s, err := decodeItem(name, i, it, r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func decodeItem(name string, idx int, raw string, r Rule) (fingerprint.Secret, error) {
	shown := raw // what the error's fingerprint is of: the text, or a URL's password
	fail := func(err error, detail string) (fingerprint.Secret, error) {
		return fingerprint.Secret{}, &Error{Var: name, Index: idx, Fingerprint: fingerprint.OfString(shown), Err: err, Detail: detail}
	}
	if n := trailingSpace(raw); n > 0 && !r.KeepTrailingSpace {
		what := fmt.Sprintf("%d whitespace bytes", n)
		switch raw[len(raw)-n:] {
		case "\n":
			what = "a newline"
		case "\r\n":
			what = "a CRLF newline"
		}
		return fail(ErrTrailingSpace, fmt.Sprintf("the value ends with %s, which would make it a different key on an instance that strips it; "+
			"write it without (printf '%%s' \"$VALUE\" > file; rotate keygen writes none into a file or pipe) "+
			"(fp without it=%s), or, if the fleet already signs with it, add %s to %s",
			what, fingerprint.OfString(raw[:len(raw)-n]), baseName(name), EnvKeepTrailingSpace))
	}
	var b []byte
	switch r.Encoding {
	case Raw:
		b = []byte(raw)
	case Base64:
		d, err := base64.StdEncoding.Strict().DecodeString(raw)
		if err != nil || strings.ContainsAny(raw, "\r\n") {
			return fail(ErrNotBase64, "generate with: rotate keygen field")
		}
		b = d
	case URLPassword:
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			// url.Parse errors quote the input; never pass them on.
			return fail(ErrBadURL, "expected scheme://user:password@host/...")
		}
		pw, ok := u.User.Password()
		if !ok || pw == "" {
			if r.PasswordOptional {
				return fingerprint.Secret{}, nil
			}
			return fail(ErrNoPassword, "")
		}
		shown = pw
		b = []byte(pw)
	default:
		return fail(errors.New("unknown encoding"), "")
	}
	if r.ExactLen > 0 && len(b) != r.ExactLen {
		return fail(ErrWrongLength, fmt.Sprintf("%d bytes, need exactly %d", len(b), r.ExactLen))
	}
	if len(b) < r.MinLen {
		return fail(ErrTooShort, fmt.Sprintf("%d bytes, need at least %d", len(b), r.MinLen))
	}
	return fingerprint.NewSecret(b), nil
}

// trailingSpace counts the ASCII whitespace bytes at the end of s.
func trailingSpace(s string) int {
	n := 0
	for n < len(s) {
		switch s[len(s)-1-n] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			n++
			continue
		}
		break
	}
	return n
}

// baseName strips a list index ("X[2]") from a variable name.
func baseName(name string) string {
	if i := strings.IndexByte(name, '['); i > 0 {
		return name[:i]
	}
	return name
}

// keepRule returns r with KeepTrailingSpace set when name is listed in
// EnvKeepTrailingSpace (in src or the process environment).
func keepRule(src Source, name string, r Rule) (Rule, error) {
	if r.KeepTrailingSpace {
		return r, nil
	}
	list, ok, err := src.Lookup(EnvKeepTrailingSpace)
	if err != nil {
		return r, err
	}
	if !ok {
		list = os.Getenv(EnvKeepTrailingSpace)
	}
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == name {
			r.KeepTrailingSpace = true
		}
	}
	return r, nil
}

// Load reads name from src and validates it under r. An unset or empty
// variable is absent: Load returns the zero Secret and no error. (An empty
// value is never an empty key.)
func Load(src Source, name string, r Rule) (fingerprint.Secret, error) {
	raw, ok, err := src.Lookup(name)
	if err != nil || !ok || raw == "" {
		return fingerprint.Secret{}, err
	}
	if trailingSpace(raw) > 0 {
		if r, err = keepRule(src, name, r); err != nil {
			return fingerprint.Secret{}, err
		}
	}
	return Decode(name, raw, r)
}

// LoadList is Load for a comma-separated list; absent gives a nil slice.
func LoadList(src Source, name string, r Rule) ([]fingerprint.Secret, error) {
	raw, ok, err := src.Lookup(name)
	if err != nil || !ok || raw == "" {
		return nil, err
	}
	if strings.ContainsAny(raw, " \t\n\r\v\f") {
		if r, err = keepRule(src, name, r); err != nil {
			return nil, err
		}
	}
	return DecodeList(name, raw, r)
}

// Require is Load for a variable that must be set.
func Require(src Source, name string, r Rule) (fingerprint.Secret, error) {
	s, err := Load(src, name, r)
	if err == nil && s.IsZero() {
		return s, &Error{Var: name, Index: -1, Err: ErrMissing, Detail: "not found in " + src.String()}
	}
	return s, err
}

// Named is a secret with the variable it came from.
type Named struct {
	Var    string
	Secret fingerprint.Secret
}

// Distinct returns an *Error with ErrDuplicate when two non-empty secrets in
// list are equal (the same key in two slots, or in two rings), naming both
// variables.
func Distinct(list ...Named) error {
	for i := range list {
		if list[i].Secret.IsZero() {
			continue
		}
		for j := i + 1; j < len(list); j++ {
			if list[i].Secret.Equal(list[j].Secret) {
				return &Error{Var: list[j].Var, Index: -1, Fingerprint: list[j].Secret.Fingerprint(), Err: ErrDuplicate, Other: list[i].Var}
			}
		}
	}
	return nil
}
