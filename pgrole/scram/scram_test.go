package scram_test

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

func sec(s string) fingerprint.Secret { return fingerprint.NewSecret([]byte(s)) }

// The server's own verifier (password_encryption = scram-sha-256) parses and
// matches: both sides compute the same thing.
func TestParseServerVerifier(t *testing.T) {
	ctx := context.Background()
	admin := testsvc.Admin(t)
	role := testsvc.RoleName(t, "srv")
	if _, err := admin.Exec(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'server-side-pw'"); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	v, err := scram.Parse(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Matches(sec("server-side-pw")) || v.Matches(sec("other")) || v.Iterations() != 4096 {
		t.Fatal("server verifier does not match its password")
	}
}

func TestDeterministicWithInjectedSalt(t *testing.T) {
	a, _ := scram.New(sec("pw"), scram.Options{Rand: bytes.NewReader(make([]byte, 16))})
	b, _ := scram.New(sec("pw"), scram.Options{Rand: bytes.NewReader(make([]byte, 16))})
	c, _ := scram.New(sec("pw"), scram.Options{})
	if a.Fingerprint() != b.Fingerprint() || a.Fingerprint() == c.Fingerprint() {
		t.Fatal("salt source not honoured")
	}
	// Known answer: 16 zero bytes of salt, 4096 iterations (cross-checked by
	// TestParseServerVerifier's Matches against the server's own output).
	want := "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$"
	if got := string(a.Secret().Bytes()); !strings.HasPrefix(got, want) {
		t.Fatalf("verifier %q lacks prefix %q", got, want)
	}
	if _, err := scram.New(sec("pw"), scram.Options{Rand: bytes.NewReader(nil)}); !errors.Is(err, scram.ErrRandom) {
		t.Fatalf("failing salt source: %v", err)
	}
	if _, err := scram.New(fingerprint.Secret{}, scram.Options{}); !errors.Is(err, scram.ErrEmptyPassword) {
		t.Fatalf("empty password: %v", err)
	}
}

func TestVerifierNeverPrints(t *testing.T) {
	v, _ := scram.New(sec("pw"), scram.Options{})
	raw := string(v.Secret().Bytes())
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "v", v)
	js, _ := json.Marshal(map[string]any{"v": v})
	for _, out := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v), logBuf.String(), string(js)} {
		if strings.Contains(out, raw) || strings.Contains(out, "$4096:") {
			t.Fatalf("verifier leaked: %s", strings.ReplaceAll(out, raw, "[VERIFIER]"))
		}
		if !strings.Contains(out, "[redacted SCRAM-SHA-256 verifier fp="+v.Fingerprint()+"]") {
			t.Fatalf("no redacted form in %s", out)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := scram.New(sec("pw"), scram.Options{})
	g := string(good.Secret().Bytes())
	for _, bad := range []string{"", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:AAAA$x:y", strings.Replace(g, "$4096:", "$04096:", 1),
		g[:len(g)-4], strings.Replace(g, "SCRAM-SHA-256$4096", "SCRAM-SHA-256$99999999999", 1)} {
		if _, err := scram.Parse(bad); !errors.Is(err, scram.ErrMalformed) {
			t.Errorf("Parse accepted a malformed verifier: %v", err)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Error("error echoes the input")
		}
	}
	if _, err := scram.Parse(g); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := scram.New(sec("pw"), scram.Options{})
	f.Add(string(good.Secret().Bytes()))
	f.Add("SCRAM-SHA-256$4096:AAAA$AAAA:AAAA")
	f.Add("md5" + strings.Repeat("a", 32))
	f.Fuzz(func(t *testing.T, s string) {
		v, err := scram.Parse(s)
		if err != nil {
			// Inputs of 16+ bytes never appear in the message (shorter ones
			// may match its fixed wording, e.g. "SCRAM-SHA").
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatal("error echoes the input")
			}
			return
		}
		if string(v.Secret().Bytes()) != s || v.Iterations() < 1 {
			t.Fatal("parsed verifier differs from input")
		}
	})
}

func ExampleNew() {
	v, err := scram.New(fingerprint.NewSecret([]byte("new password")), scram.Options{Rand: bytes.NewReader(make([]byte, 16))})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Iterations(), strings.HasPrefix(v.SQLLiteral(), "'SCRAM-SHA-256$4096:"))
	fmt.Println(v.Matches(fingerprint.NewSecret([]byte("new password"))))
	// Output:
	// 4096 true
	// true
}

// BenchmarkNew compares a verifier (SASLprep + PBKDF2 + two HMACs) with the
// bare PBKDF2 baseline it is dominated by.
func BenchmarkNew(b *testing.B) {
	pw := sec("correct horse battery staple")
	b.Run("scram.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := scram.New(pw, scram.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline_pbkdf2", func(b *testing.B) {
		b.ReportAllocs()
		salt := make([]byte, 16)
		for b.Loop() {
			if _, err := pbkdf2.Key(sha256.New, string(pw.Bytes()), salt, 4096, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
