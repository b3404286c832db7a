package scram_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

// grammarCorpus holds strings at the edge of PostgreSQL's verifier grammar,
// built around one real verifier g.
func grammarCorpus(g string) []string {
	rest := strings.TrimPrefix(g, "SCRAM-SHA-256$")
	iterSalt, keys, _ := strings.Cut(rest, "$")
	_, salt, _ := strings.Cut(iterSalt, ":")
	stored, server, _ := strings.Cut(keys, ":")
	return []string{
		g,
		strings.Replace(g, salt, salt[:4]+"\r\n"+salt[4:], 1), // Go's decoder skips CR/LF
		strings.Replace(g, salt, salt[:4]+"\n"+salt[4:], 1),
		strings.Replace(g, stored, stored[:8]+"\r"+stored[8:], 1),
		g + "\n",
		strings.Replace(g, server, server[:10]+" "+server[10:], 1),
		strings.Replace(g, server, server[:10]+"\t"+server[10:], 1),
		"$" + g, // strtok skips leading delimiters
		strings.Replace(g, "$4096:", "$$4096::", 1),
		strings.Replace(g, "$4096:", "$+4096:", 1),
		strings.Replace(g, "$4096:", "$ 4096:", 1),
		strings.Replace(g, "$4096:", "$4096 :", 1),
		strings.Replace(g, "$4096:", "$04096:", 1),
		strings.Replace(g, "$4096:", "$0:", 1),
		strings.Replace(g, "$4096:", "$-1:", 1),
		strings.Replace(g, "$4096:", "$99999999999999999999:", 1),
		strings.Replace(g, "$4096:", "$x:", 1),
		strings.Replace(g, salt, strings.TrimRight(salt, "="), 1),      // unpadded
		strings.Replace(g, salt, strings.TrimRight(salt, "=")+"B=", 1), // stray bits / odd padding
		strings.Replace(g, salt, "AB==", 1),
		strings.Replace(g, salt, "AF==", 1), // non-zero padding bits
		strings.Replace(g, salt, "A===", 1),
		strings.Replace(g, salt, "AB=C", 1),
		strings.Replace(g, stored, stored[:len(stored)-4], 1),
		strings.Replace(g, ":"+server, ":"+server+":x", 1),
		strings.Replace(g, ":"+server, "::"+server, 1),
		"SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
		"scram-sha-256" + g[len("SCRAM-SHA-256"):],
		"SCRAM-SHA-256",
		"md5" + strings.Repeat("a", 32),
	}
}

// TestGrammarMatchesServer: for every string of the corpus, the server
// stores it as given (a verifier) exactly when the grammar model says so,
// and Parse accepts only strings the server stores as given and that are
// canonical.
func TestGrammarMatchesServer(t *testing.T) {
	ctx := context.Background()
	admin := testsvc.Admin(t)
	role := testsvc.RoleName(t, "grammar")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
		t.Fatal(err)
	}
	good, _ := scram.New(sec("pw"), scram.Options{Rand: bytes.NewReader([]byte("0123456789abcdef"))})
	for i, s := range grammarCorpus(string(good.Secret().Bytes())) {
		if _, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD '"+strings.ReplaceAll(s, "'", "''")+"'"); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var stored string
		if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		// An md5 hash is stored as given too, but it is no SCRAM verifier.
		asVerifier := stored == s && !strings.HasPrefix(s, "md5")
		if got := scram.PGAccepts(s); got != asVerifier {
			t.Errorf("case %d %q: model says verifier=%v, server stored it as verifier=%v", i, s, got, asVerifier)
		}
		v, err := scram.Parse(s)
		if err == nil && (!asVerifier || string(v.Secret().Bytes()) != s) {
			t.Errorf("case %d %q: Parse accepted what the server hashes as a plaintext password", i, s)
		}
		if i == 0 && err != nil {
			t.Fatalf("canonical verifier refused: %v", err)
		}
	}
}

func TestParseRefusesCRLF(t *testing.T) {
	good, _ := scram.New(sec("pw"), scram.Options{})
	g := string(good.Secret().Bytes())
	for _, s := range grammarCorpus(g)[1:7] {
		if _, err := scram.Parse(s); !errors.Is(err, scram.ErrMalformed) {
			t.Errorf("Parse accepted white space inside a verifier: %v", err)
		}
	}
}

// FuzzParseGrammar: whatever Parse accepts, PostgreSQL takes as a verifier
// (never as a plaintext password) and it re-serialises byte for byte.
func FuzzParseGrammar(f *testing.F) {
	good, _ := scram.New(sec("pw"), scram.Options{})
	for _, s := range grammarCorpus(string(good.Secret().Bytes())) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pg := scram.PGAccepts(s)
		v, err := scram.Parse(s)
		if err != nil {
			return
		}
		if !pg {
			t.Fatalf("Parse accepted %q, which PostgreSQL stores as a plaintext password", s)
		}
		if string(v.Secret().Bytes()) != s || v.SQLLiteral() != "'"+s+"'" {
			t.Fatal("accepted verifier does not re-serialise byte-identically")
		}
		w, err := scram.Parse(string(v.Secret().Bytes()))
		if err != nil || w.Fingerprint() != v.Fingerprint() {
			t.Fatal("re-serialised verifier does not parse back identically")
		}
	})
}
