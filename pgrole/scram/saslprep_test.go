package scram_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/pgrole/scram"
	"github.com/jackc/pgx/v5"
)

// saslprepCorpus: passwords on every path of pg_saslprep.
var saslprepCorpus = []string{
	"correct horse battery staple", // ASCII: unchanged
	"ascii\x01ctl",                 // ASCII control: unchanged too
	"ünïcödé",                      // NFC already: unchanged
	"Ａbc",                          // fullwidth: NFKC → "Abc"
	"ﬁle",                          // ligature: NFKC → "file"
	"cafe\u0301\u00a0pw",           // decomposed é, no-break space
	"x\u200by\u00adz",              // U+200B is a space to PostgreSQL, U+00AD maps to nothing
	"\u00ad",                       // maps to nothing: empty → raw
	"\u05d0\u05d1\u05d2",           // RandALCat only: valid bidi
	"\u05d0abc",                    // RandALCat with LCat: bidi fails → raw
	"pw\ue000x",                    // private use: prohibited → raw
	"pw\u0340x",                    // C.8, checked before NFKC → raw
	"pw\u00a0cafe\u0301\U0001F600", // unassigned in 3.2 → raw
	"\u2163x",                      // Roman numeral four → "IVx"
}

// TestSASLprepMatchesServer: the server computes the verifier of each
// password itself (plaintext ALTER ROLE, password_encryption scram-sha-256,
// so its own pg_saslprep); our Matches, which hashes SASLprep(password),
// agrees with it for every path, fallbacks included, and disagrees for a
// neighbour.
func TestSASLprepMatchesServer(t *testing.T) {
	ctx := context.Background()
	admin := testsvc.Admin(t)
	role := testsvc.RoleName(t, "prep")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, c *pgx.Conn, pw string) {
		t.Helper()
		if _, err := c.Exec(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD '"+strings.ReplaceAll(pw, "'", "''")+"'"); err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		var stored string
		if err := c.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		v, err := scram.Parse(stored)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Matches(sec(pw)) {
			t.Errorf("%q: SASLprep gives %q, the server hashed something else", pw, scram.SASLprep(pw))
		}
		if v.Matches(sec(pw + "x")) {
			t.Errorf("%q: neighbour matches", pw)
		}
	}
	for _, pw := range saslprepCorpus {
		check(t, admin, pw)
	}
	// Invalid UTF-8 reaches the server only through a SQL_ASCII database.
	t.Run("invalid-utf8", func(t *testing.T) {
		name := testsvc.RoleName(t, "sqlascii") // unique; used as a database name
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = testsvc.Admin(t).Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		})
		u, _ := url.Parse(testsvc.DatabaseURL())
		u.Path = "/" + name
		cfg, err := pgx.ParseConfig(u.String())
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["client_encoding"] = "SQL_ASCII"
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, pw := range []string{"\xff\xfepw", "caf\xe9", "\xed\xa0\x80x" /* UTF-16 surrogate */} {
			if scram.SASLprep(pw) != pw {
				t.Errorf("%q: invalid UTF-8 must be used raw", pw)
			}
			check(t, c, pw)
		}
	})
}

func TestUnportablePasswordRefused(t *testing.T) {
	for _, pw := range []string{"Ａbc", "ﬁle", "cafe\u0301\u00a0pw", "x\u200by", "a\x00b", "\u2163x"} {
		_, err := scram.New(sec(pw), scram.Options{})
		if !errors.Is(err, scram.ErrUnportablePassword) {
			t.Errorf("%q: %v", pw, err)
			continue
		}
		if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "ASCII") {
			t.Errorf("%q: message %q", pw, err)
		}
	}
	for _, pw := range []string{"correct horse battery staple", "ünïcödé", "pw\u00a0cafe\u0301\U0001F600"} {
		if why := scram.Portable(pw); why != "" {
			t.Errorf("%q refused: %s", pw, why)
		}
	}
}

// TestLoginOverRealScramLibpqAndPgx: a verifier of every portable password
// of the corpus lets both libpq (psql) and pgx log in over real SCRAM; a
// wrong password is refused by both.
func TestLoginOverRealScramLibpqAndPgx(t *testing.T) {
	testsvc.RequireScram(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	ctx := context.Background()
	admin := testsvc.Admin(t)
	n := 0
	for _, pw := range saslprepCorpus {
		if scram.Portable(pw) != "" {
			continue
		}
		n++
		role := testsvc.RoleName(t, "login")
		v, err := scram.New(sec(pw), scram.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD "+v.SQLLiteral()); err != nil {
			t.Fatal(err)
		}
		for _, try := range []struct {
			pw string
			ok bool
		}{{pw, true}, {pw + "x", false}} {
			c, err := pgx.Connect(ctx, testsvc.URLAs(testsvc.ScramDatabase, role, try.pw))
			if err == nil {
				c.Close(ctx)
			}
			if (err == nil) != try.ok {
				t.Errorf("%q: pgx login with %q: %v", pw, try.pw, err)
			}
			cmd := exec.CommandContext(ctx, psql, "-XAtqc", "SELECT current_user", testsvc.URLAs(testsvc.ScramDatabase, role, ""))
			cmd.Env = append(os.Environ(), "PGPASSWORD="+try.pw, "PGCONNECT_TIMEOUT=5")
			out, err := cmd.CombinedOutput()
			if ok := err == nil && strings.TrimSpace(string(out)) == role; ok != try.ok {
				t.Errorf("%q: psql login with %q: %v %s", pw, try.pw, err, out)
			}
		}
	}
	if n < 4 {
		t.Fatalf("only %d portable passwords in the corpus", n)
	}
}
