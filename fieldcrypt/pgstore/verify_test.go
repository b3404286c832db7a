package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
)

// TestVerifyFindsWhatTheCensusCannot: after a full re-encryption, a bound
// value copied to another row (under the new key) and a forged value that
// merely carries the primary key's id pass the job and the census, which
// read headers only; Verify decrypts every value with its binding and lists
// both by row.
func TestVerifyFindsWhatTheCensusCannot(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	f := newFixture(t, 500, ring(t, oldK), true)
	rNew := ring(t, newK, oldK)
	ctx := context.Background()
	if _, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	vr, err := Verify(ctx, f.pool, rNew, f.t, VerifyOptions{BatchSize: 64})
	if err != nil || !vr.OK() || vr.Rows != 500 || vr.Checked != 900 || vr.Nulls != 100 || vr.ValuesUnder(rNew.Primary()) != 900 {
		t.Fatalf("clean table: %v %+v", err, vr)
	}
	// Row 7's nid moved to row 8; row 9's email replaced by a forgery: the
	// primary key's prefix followed by random bytes.
	if _, err := f.pool.Exec(ctx, `UPDATE accounts SET nid = (SELECT nid FROM accounts WHERE id = 7) WHERE id = 8`); err != nil {
		t.Fatal(err)
	}
	forged := string(rNew.Primary().Prefix(fieldcrypt.Text)) + "AUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5emFi"
	if _, err := f.pool.Exec(ctx, `UPDATE accounts SET email = $1 WHERE id = 9`, forged); err != nil {
		t.Fatal(err)
	}
	c, err := TakeCensus(ctx, f.pool, rNew, f.t)
	if err != nil || c.NotUpToDate() != 0 || !c.HeadersOnly {
		t.Fatalf("census: %v %+v", err, c)
	}
	rep, err := Reencrypt(ctx, f.pool, rNew, f.t, ReencryptOptions{})
	if err != nil || rep.Census.NotUpToDate() != 0 || rep.Undecryptable != 0 {
		t.Fatalf("job: %v %s", err, rep.Summary())
	}
	vr, err = Verify(ctx, f.pool, rNew, f.t, VerifyOptions{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if vr.OK() || vr.Undecryptable != 2 || len(vr.Failures) != 2 {
		t.Fatalf("verify: %+v", vr)
	}
	got := map[string]error{}
	for _, fl := range vr.Failures {
		got[fl.Row+"/"+fl.Column] = fl.Err
	}
	if !errors.Is(got["8/nid"], fieldcrypt.ErrAuthentication) || got["9/email"] == nil {
		t.Fatalf("failures %v", got)
	}
	if !strings.Contains(vr.Summary(), "2 undecryptable") {
		t.Fatal(vr.Summary())
	}
	// A legacy keyring does not make a plaintext pass.
	if _, err := f.pool.Exec(ctx, `UPDATE accounts SET email = 'plain@example.com' WHERE id = 10`); err != nil {
		t.Fatal(err)
	}
	vr, err = Verify(ctx, f.pool, rNew.WithLegacy(fieldcrypt.Plaintext), f.t, VerifyOptions{})
	if err != nil || vr.Undecryptable != 3 || strings.Contains(vr.Summary(), "plain@") {
		t.Fatalf("verify with legacy: %v %+v", err, vr)
	}
}
