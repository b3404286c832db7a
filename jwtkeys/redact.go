package jwtkeys

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/goodgo/rotation/fingerprint"
)

// Format prints String (key ids only) for every fmt verb and flag, %d
// included.
func (kr *Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, kr.String()) }

// LogValue makes log/slog print String.
func (kr *Keyring) LogValue() slog.Value { return slog.StringValue(kr.String()) }

// String names the source and the live keyring by key ids, e.g.
// "jwtkeys.LiveKeyring{source=environment jwtkeys.Keyring{…}}"; it never
// holds a key.
func (k *LiveKeyring) String() string {
	return "jwtkeys.LiveKeyring{source=" + k.src.String() + " " + k.Keyring().String() + "}"
}

// Format prints String for every fmt verb and flag: the source sits in an
// unexported field, and a map source (secretenv.Map) would otherwise print
// every value it holds, keys included.
func (k *LiveKeyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue makes log/slog print String.
func (k *LiveKeyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// redacted shows the tokens by fingerprint: each is a bearer credential.
func (p Pair) redacted() string {
	return "jwtkeys.Pair{access=[token fp=" + fingerprint.OfString(p.Access) + "] refresh=[token fp=" + fingerprint.OfString(p.Refresh) +
		"] refresh_id=" + p.RefreshID + " access_expires=" + p.AccessExpiresAt.UTC().Format("2006-01-02T15:04:05Z") +
		" refresh_expires=" + p.RefreshExpiresAt.UTC().Format("2006-01-02T15:04:05Z") + "}"
}

// Format prints the Pair with its tokens as fingerprints for every fmt
// verb and flag, so a logged or test-printed Pair does not hand out a
// working token. The fields themselves hold the tokens to send.
func (p Pair) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.redacted()) }

// LogValue makes log/slog print the redacted form.
func (p Pair) LogValue() slog.Value { return slog.StringValue(p.redacted()) }
