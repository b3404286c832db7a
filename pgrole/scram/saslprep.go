package scram

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// SASLprep returns the password as PostgreSQL hashes it (pg_saslprep in
// src/common/saslprep.c, on the server and in libpq): an ASCII password
// unchanged; a password that is not valid UTF-8 unchanged; otherwise
// non-ASCII spaces mapped to U+0020, the "mapped to nothing" characters
// removed, and the result NFKC-normalised, unless the mapped password is
// empty, holds a prohibited or (in Unicode 3.2) unassigned code point, or
// breaks the bidirectional rule, in which case PostgreSQL falls back to the
// raw bytes and so does SASLprep. As in PostgreSQL, the prohibition and bidi
// checks look at the mapped password before normalisation.
func SASLprep(password string) string {
	ascii := true
	for i := 0; i < len(password); i++ {
		if password[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(password) {
		return password
	}
	mapped := make([]rune, 0, len(password))
	for _, r := range password {
		switch {
		case unicode.Is(nonASCIISpace, r):
			mapped = append(mapped, ' ')
		case unicode.Is(mappedToNothing, r):
		default:
			mapped = append(mapped, r)
		}
	}
	if len(mapped) == 0 {
		return password
	}
	randAL := false
	for _, r := range mapped {
		if unicode.Is(prohibitedOutput, r) || unicode.Is(unassigned32, r) {
			return password
		}
		randAL = randAL || unicode.Is(randALCat, r)
	}
	if randAL {
		if !unicode.Is(randALCat, mapped[0]) || !unicode.Is(randALCat, mapped[len(mapped)-1]) {
			return password
		}
		for _, r := range mapped {
			if unicode.Is(lCat, r) {
				return password
			}
		}
	}
	return norm.NFKC.String(string(mapped))
}

// pgxNormalize is what pgx (v5.12, pgconn/auth_scram.go) sends for a
// password: the raw bytes if it holds a code point unassigned in Unicode
// 3.2, otherwise precis.OpaqueString, falling back to the raw bytes.
func pgxNormalize(password string) string {
	for _, r := range password {
		if unicode.Is(unassigned32, r) {
			return password
		}
	}
	if p, err := precis.OpaqueString.String(password); err == nil {
		return p
	}
	return password
}

// Portable reports why password cannot be used with every client, or ""
// when it can: libpq applies SASLprep, pgx its own PRECIS normalisation,
// and a C client cannot send a NUL byte. A password that any of them would
// change logs in through some clients and not others, whatever verifier is
// stored, so New refuses it. ASCII passwords without NUL are always
// portable.
func Portable(password string) string {
	switch {
	case strings.IndexByte(password, 0) >= 0:
		return "it contains a NUL byte, which libpq cannot send"
	case SASLprep(password) != password:
		return "SASLprep (applied by libpq and the server) changes it, and pgx sends it otherwise"
	case pgxNormalize(password) != password:
		return "pgx's normalisation changes it, and libpq sends it otherwise"
	}
	return ""
}
