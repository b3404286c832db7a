// Package scram computes and parses PostgreSQL SCRAM-SHA-256 password
// verifiers ("SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"),
// so a password reaches the server, and PgBouncer's userlist.txt, only as a
// verifier computed client-side, never as plaintext.
//
// The password is hashed as PostgreSQL hashes it (SASLprep, exactly as
// pg_saslprep, raw bytes when SASLprep fails). New refuses passwords that
// some client would send in another form (see Portable): libpq applies
// SASLprep, pgx its own normalisation, so for such a password no verifier
// works for every client. Parse accepts exactly the verifiers PostgreSQL
// itself produces, and never a string PostgreSQL would store as a plaintext
// password.
//
//	v, err := scram.New(password, scram.Options{})        // 4096 iterations, 16-byte random salt
//	sql := "ALTER ROLE app PASSWORD " + v.SQLLiteral()     // send it, never log it
//	fmt.Println(v)                                          // [redacted SCRAM-SHA-256 verifier fp=…]
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
)

// Defaults match PostgreSQL's (src/include/common/scram-common.h).
const (
	DefaultIterations = 4096
	DefaultSaltLen    = 16
	// MaxIterations bounds what Parse accepts, so a hostile verifier cannot
	// make a check spin for minutes.
	MaxIterations = 10_000_000
	prefix        = "SCRAM-SHA-256$"
)

var (
	// ErrEmptyPassword is returned for an empty password.
	ErrEmptyPassword = errors.New("scram: empty password: supply a non-empty password")
	// ErrMalformed is returned by Parse for anything that is not a
	// SCRAM-SHA-256 verifier.
	ErrMalformed = errors.New("scram: malformed SCRAM-SHA-256 verifier")
	// ErrUnportablePassword is returned by New for a password that some
	// client would send in another form than others (Portable), so that no
	// verifier works for every client. Generated passwords are ASCII.
	ErrUnportablePassword = errors.New("scram: password refused: not every client would send it as is")
	// ErrRandom is returned when the salt source fails.
	ErrRandom = errors.New("scram: reading the salt source failed")
)

// Options tunes New. The zero value gives PostgreSQL's defaults.
type Options struct {
	Iterations int       // 0 = DefaultIterations
	SaltLen    int       // 0 = DefaultSaltLen
	Rand       io.Reader // salt source; nil = crypto/rand
}

// Verifier is a SCRAM-SHA-256 verifier: PostgreSQL's name for the stored form
// of a password (pg_authid.rolpassword, PgBouncer's userlist), not something that
// checks signatures like payment/webhook.Verifier. It is not the password, but it is
// still sensitive (with an observed SCRAM exchange it lets a pooler or an
// attacker log in), so it prints only as "[redacted SCRAM-SHA-256 verifier
// fp=…]" through fmt, slog and JSON. The zero Verifier is invalid.
type Verifier struct {
	text       string
	iterations int
	salt       []byte
	storedKey  []byte
	serverKey  []byte
}

// New computes the verifier of password with a fresh salt.
func New(password fingerprint.Secret, opt Options) (Verifier, error) {
	if password.IsZero() {
		return Verifier{}, ErrEmptyPassword
	}
	if why := Portable(string(password.Bytes())); why != "" {
		return Verifier{}, fmt.Errorf("%w: %s; use a password SASLprep leaves unchanged (ASCII without NUL, e.g. from rotate keygen db)", ErrUnportablePassword, why)
	}
	iter := opt.Iterations
	if iter == 0 {
		iter = DefaultIterations
	}
	if iter < 1 || iter > MaxIterations {
		return Verifier{}, fmt.Errorf("scram: iterations %d out of range 1..%d", iter, MaxIterations)
	}
	n := opt.SaltLen
	if n == 0 {
		n = DefaultSaltLen
	}
	if n < 1 || n > 1024 {
		return Verifier{}, fmt.Errorf("scram: salt length %d out of range 1..1024", n)
	}
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, n)
	if _, err := io.ReadFull(r, salt); err != nil {
		return Verifier{}, fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return compute(password.Bytes(), salt, iter)
}

func compute(password, salt []byte, iter int) (Verifier, error) {
	salted, err := pbkdf2.Key(sha256.New, SASLprep(string(password)), salt, iter, sha256.Size)
	if err != nil {
		return Verifier{}, fmt.Errorf("scram: pbkdf2: %w", err)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	server := mac(salted, "Server Key")
	b := base64.StdEncoding.EncodeToString
	return Verifier{
		text:       prefix + strconv.Itoa(iter) + ":" + b(salt) + "$" + b(stored[:]) + ":" + b(server),
		iterations: iter, salt: salt, storedKey: stored[:], serverKey: server,
	}, nil
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Parse checks that s is a SCRAM-SHA-256 verifier in the form PostgreSQL
// produces ("SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>",
// iterations in decimal without sign or leading zero, each part canonical
// standard base64) and returns it; its Secret is s, byte for byte. It never
// accepts a string PostgreSQL would take for a plaintext password and hash
// again (Go's base64 decoder skips CR and LF; PostgreSQL's does not). Other
// spellings PostgreSQL would still store as a verifier are refused as not
// canonical. The error never contains s.
func Parse(s string) (Verifier, error) {
	v, err := parseCanonical(s)
	if err != nil {
		return Verifier{}, err
	}
	if !pgAccepts(s) {
		// Unreachable for canonical input; kept so that Parse can never
		// hand out a "verifier" the server would hash as a password.
		return Verifier{}, fmt.Errorf("%w: PostgreSQL would store it as a plaintext password", ErrMalformed)
	}
	return v, nil
}

func parseCanonical(s string) (Verifier, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Verifier{}, fmt.Errorf("%w: want prefix %q", ErrMalformed, prefix)
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return Verifier{}, fmt.Errorf("%w: want <iterations>:<salt>$<StoredKey>:<ServerKey>", ErrMalformed)
	}
	iterText, saltText, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return Verifier{}, fmt.Errorf("%w: want <iterations>:<salt>", ErrMalformed)
	}
	iter, err := strconv.Atoi(iterText)
	if err != nil || iter < 1 || iter > MaxIterations || strconv.Itoa(iter) != iterText {
		return Verifier{}, fmt.Errorf("%w: iterations must be a number in 1..%d", ErrMalformed, MaxIterations)
	}
	storedText, serverText, ok := strings.Cut(keys, ":")
	if !ok {
		return Verifier{}, fmt.Errorf("%w: want <StoredKey>:<ServerKey>", ErrMalformed)
	}
	salt, ok := decodeCanonical(saltText)
	if !ok || len(salt) == 0 {
		return Verifier{}, fmt.Errorf("%w: salt is not canonical standard base64", ErrMalformed)
	}
	stored, ok := decodeCanonical(storedText)
	if !ok || len(stored) != sha256.Size {
		return Verifier{}, fmt.Errorf("%w: StoredKey must be 32 bytes of canonical standard base64", ErrMalformed)
	}
	server, ok := decodeCanonical(serverText)
	if !ok || len(server) != sha256.Size {
		return Verifier{}, fmt.Errorf("%w: ServerKey must be 32 bytes of canonical standard base64", ErrMalformed)
	}
	return Verifier{text: s, iterations: iter, salt: salt, storedKey: stored, serverKey: server}, nil
}

// decodeCanonical decodes standard padded base64 and accepts it only if it
// re-encodes to exactly t: no skipped CR/LF, no stray padding bits.
func decodeCanonical(t string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(t)
	if err != nil || base64.StdEncoding.EncodeToString(b) != t {
		return nil, false
	}
	return b, true
}

// Matches reports whether password is the one this verifier was built from
// (constant-time comparison of the StoredKey).
func (v Verifier) Matches(password fingerprint.Secret) bool {
	if v.IsZero() || password.IsZero() {
		return false
	}
	w, err := compute(password.Bytes(), v.salt, v.iterations)
	if err != nil {
		return false
	}
	return hmac.Equal(w.storedKey, v.storedKey) && hmac.Equal(w.serverKey, v.serverKey)
}

// IsZero reports whether v is the zero Verifier.
func (v Verifier) IsZero() bool { return v.text == "" }

// Iterations returns the PBKDF2 iteration count.
func (v Verifier) Iterations() int { return v.iterations }

// Secret returns the verifier text as a fingerprint.Secret, the form in which
// it is written to PostgreSQL and to userlist.txt.
func (v Verifier) Secret() fingerprint.Secret { return fingerprint.NewSecret([]byte(v.text)) }

// SQLLiteral returns the verifier as a SQL string literal ('…'), for
// CREATE/ALTER ROLE … PASSWORD. Utility statements take no bind parameters,
// so this is how it must be sent; the verifier alphabet holds no quote, and
// any quote is doubled anyway.
func (v Verifier) SQLLiteral() string { return "'" + strings.ReplaceAll(v.text, "'", "''") + "'" }

// Fingerprint returns the fingerprint of the verifier text (not of the
// password), the value a plan or a ticket may show.
func (v Verifier) Fingerprint() string {
	if v.IsZero() {
		return ""
	}
	return fingerprint.OfString(v.text)
}

// Redacted returns "[redacted SCRAM-SHA-256 verifier fp=…]".
func (v Verifier) Redacted() string {
	return "[redacted SCRAM-SHA-256 verifier fp=" + v.Fingerprint() + "]"
}

// String returns Redacted.
func (v Verifier) String() string { return v.Redacted() }

// GoString returns Redacted.
func (v Verifier) GoString() string { return v.Redacted() }

// Format prints Redacted for every verb.
func (v Verifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.Redacted()) }

// LogValue makes slog print Redacted.
func (v Verifier) LogValue() slog.Value { return slog.StringValue(v.Redacted()) }

// MarshalText makes JSON and text encoders print Redacted.
func (v Verifier) MarshalText() ([]byte, error) { return []byte(v.Redacted()), nil }
