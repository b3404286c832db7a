package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/refreshpg"
	"github.com/goodgo/rotation/secretenv"
	"github.com/jackc/pgx/v5"
)

// normalized replaces what varies between runs against a live service (a
// random salt's fingerprint, a duration, a start time) by placeholders, with
// pairs of regular expression and replacement.
func normalized(r result, pairs ...string) result {
	for i := 0; i+1 < len(pairs); i += 2 {
		re := regexp.MustCompile(pairs[i])
		r.stdout = re.ReplaceAllLiteralString(r.stdout, pairs[i+1])
		r.stderr = re.ReplaceAllLiteralString(r.stderr, pairs[i+1])
	}
	return r
}

// goldenJSON is golden for a --json run, which must also be in the schema
// style (assertJSONStyle, before norm replaces what varies).
func goldenJSON(t *testing.T, name string, r result, norm func(result) result, replace ...string) {
	t.Helper()
	assertJSONStyle(t, name, r.stdout)
	if norm != nil {
		r = norm(r)
	}
	golden(t, name, r, replace...)
}

// TestGoldenPaymentSmoke pins payment smoke's human and JSON output: a VNPay
// secret mid-rotation, and a real callback.
func TestGoldenPaymentSmoke(t *testing.T) {
	vars := vnpayVars(map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00Z"})
	golden(t, "payment-smoke-vnpay", runCLI(t, vars, "", "payment", "smoke", "vnpay"))
	goldenJSON(t, "payment-smoke-vnpay-json", runCLI(t, vars, "", "payment", "smoke", "vnpay", "--json"), nil)
	goldenJSON(t, "payment-smoke-callback-json", runCLI(t, vars, "vnp_Amount=1000&vnp_SecureHash=00", "payment", "smoke", "--callback", "vnpay", "-o", "json"), nil)
	golden(t, "payment-smoke-no-provider", runCLI(t, vars, "", "payment", "smoke"))
}

// TestGoldenJWTSign pins jwt sign --json (the token itself varies: its id
// is random).
func TestGoldenJWTSign(t *testing.T) {
	r := runCLI(t, jwtVars, "", "jwt", "sign", "--sub", "user-42", "--json")
	if r.code != exitOK {
		t.Fatalf("%v", r)
	}
	goldenJSON(t, "jwt-sign-json", r, func(r result) result { return normalized(r, `"token": "[A-Za-z0-9_.-]+"`, `"token": "$TOKEN"`) })
}

// TestGoldenPgBouncerReloadDryRun pins what reload would send.
func TestGoldenPgBouncerReloadDryRun(t *testing.T) {
	args := []string{"pgbouncer", "reload", "--confirm", "app_v2", "--reconnect", "*", "--wait-close", "--dry-run"}
	golden(t, "pgbouncer-reload-dry-run", runCLI(t, nil, "", args...))
	goldenJSON(t, "pgbouncer-reload-dry-run-json", runCLI(t, nil, "", append(args, "--json")...), nil)
}

// TestGoldenPG pins the human and JSON output of rotate pg and rotate
// pgbouncer against the real Postgres: one mirror rotation of a role with a
// table grant, through plan, apply, verify, drain, retire's dry run, then a
// rollback of a second rotation.
func TestGoldenPG(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	app, bare := testsvc.RoleName(t, "gold"), testsvc.RoleName(t, "bare")
	if _, err := testsvc.Admin(t).Exec(ctx, "CREATE ROLE "+pgx.Identifier{app}.Sanitize()+" LOGIN; CREATE ROLE "+pgx.Identifier{bare}.Sanitize()+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE t (id int); GRANT SELECT ON t TO "+pgx.Identifier{app}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL, "ROTATE_TZ": "UTC"}
	pw := "golden-pg-password-" + testsvc.Suffix()
	norm := func(r result) result {
		r = normalized(r,
			`fp=[0-9a-f]{16}`, `fp=$FP`,
			`"verifier_fingerprint": "[0-9a-f]{16}"`, `"verifier_fingerprint": "$FP"`,
			`"catalog_digest": "[0-9a-f]{16}"`, `"catalog_digest": "$DIGEST"`,
			`"server_version": \d+`, `"server_version": 0`,
			`server_version_num: \d+`, `server_version_num: $V`,
			`"elapsed_seconds": [0-9.e+-]+`, `"elapsed_seconds": 0`,
			`"started_at": "[^"]+"`, `"started_at": "$TIME"`,
			`started \d{4}-\d\d-\d\d \d\d:\d\d UTC`, `started $TIME`,
			`"verifier_fingerprint": "\$FP"`, `"verifier_fingerprint": "$FP"`,
			`\d+(\.\d+)?m?s: 0 session`, `$ELAPSED: 0 session`)
		rp := strings.NewReplacer(bare, "$BARE", app, "$ROLE", db.Name, "$DB")
		r.stdout, r.stderr = rp.Replace(r.stdout), rp.Replace(r.stderr)
		return r
	}
	raw := func(stdin string, args ...string) result { return runCLI(t, vars, stdin, args...) }
	run := func(stdin string, args ...string) result { return norm(raw(stdin, args...)) }
	mirror := []string{"--role", app, "--strategy", "mirror"}

	golden(t, "pg-plan", run(pw, append([]string{"pg", "plan"}, mirror...)...))
	goldenJSON(t, "pg-plan-json", raw(pw, append([]string{"pg", "plan", "--json"}, mirror...)...), norm)
	golden(t, "pg-apply-dry-run", run(pw, append([]string{"pg", "apply", "--dry-run"}, mirror...)...))
	goldenJSON(t, "pg-apply-json", raw(pw, append([]string{"pg", "apply", "-o", "json"}, mirror...)...), norm)
	newRole := app + "_v2"
	golden(t, "pg-status", run("", "pg", "status", "--role", app))
	goldenJSON(t, "pg-status-json", raw("", "pg", "status", "--role", app, "--json"), norm)
	golden(t, "pg-verify", run("", "pg", "verify", "--old", app, "--new", newRole))
	goldenJSON(t, "pg-verify-json", raw("", "pg", "verify", "--old", app, "--new", newRole, "--json"), norm)
	goldenJSON(t, "pg-verify-missing-json", raw("", "pg", "verify", "--old", app, "--new", bare, "--json"), norm)
	golden(t, "pg-drain-dry-run", run("", "pg", "drain", "--role", app, "--dry-run"))
	goldenJSON(t, "pg-drain-json", raw("", "pg", "drain", "--role", app, "--timeout", "5s", "--json"), norm)
	golden(t, "pg-retire-dry-run", run("", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "nologin", "--dry-run"))
	goldenJSON(t, "pg-retire-dry-run-json", raw("", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "nologin", "--dry-run", "--json"), norm)
	goldenJSON(t, "pg-retire-json", raw("", "pg", "retire", "--role", app, "--strategy", "mirror", "--mode", "nologin", "--yes", "--json"), norm)

	ul := filepath.Join(t.TempDir(), "userlist.txt")
	if err := os.WriteFile(ul, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	goldenJSON(t, "pgbouncer-userlist-dry-run-json", raw("", "pgbouncer", "userlist", "--userlist", ul, "--user", newRole, "--dry-run", "--json"), norm, ul, "$USERLIST")
	if b, _ := os.ReadFile(ul); len(b) != 0 {
		t.Fatalf("userlist --dry-run wrote %q", b)
	}

	// A second rotation, from the new role, undone.
	if r := run(pw, "pg", "apply", "--role", newRole, "--strategy", "mirror", "--phase", "create"); r.code != exitOK {
		t.Fatalf("create: %v", r)
	}
	golden(t, "pg-rollback-dry-run", run("", "pg", "rollback", "--role", newRole, "--dry-run"))
	goldenJSON(t, "pg-rollback-json", raw("", "pg", "rollback", "--role", newRole, "--timeout", "5s", "--json"), norm)
	goldenJSON(t, "pg-status-none-json", raw("", "pg", "status", "--role", newRole, "--json"), norm)
}

// TestGoldenField pins census, verify and reencrypt (human and JSON) on a
// table of three rows: two under the previous key, one under the new one,
// one NULL.
func TestGoldenField(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	old, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": goldenFieldKey}))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": goldenFieldNext}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE users (id int PRIMARY KEY, phone text)"); err != nil {
		t.Fatal(err)
	}
	for i, ring := range []*fieldcrypt.Keyring{old, old, cur} {
		row := string(rune('1' + i))
		v, err := ring.EncryptText(nil, []byte("090000000"+row), fieldcrypt.Binding{Table: "users", Column: "phone", Row: row})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, "INSERT INTO users VALUES ($1, $2)", i+1, string(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, "INSERT INTO users VALUES (4, NULL)"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": db.URL, "FIELD_ENCRYPTION_KEY": goldenFieldNext, "FIELD_ENCRYPTION_KEY_PREVIOUS": goldenFieldKey}
	tbl := []string{"--table", "users", "--column", "phone:text", "--bind"}
	norm := func(r result) result {
		return normalized(r, `"elapsed_seconds": [0-9.e+-]+`, `"elapsed_seconds": 0`, `"rows_per_second": [0-9.e+-]+`, `"rows_per_second": 0`)
	}
	golden(t, "field-census", runCLI(t, vars, "", "field", "census", "--table", "users", "--column", "phone:text"))
	goldenJSON(t, "field-census-json", runCLI(t, vars, "", "field", "census", "--table", "users", "--column", "phone:text", "--json"), nil)
	goldenJSON(t, "field-verify-json", runCLI(t, vars, "", append([]string{"field", "verify", "--json"}, tbl...)...), nil)
	goldenJSON(t, "field-reencrypt-dry-run-json", runCLI(t, vars, "", append([]string{"field", "reencrypt", "--dry-run", "--json"}, tbl...)...), norm)
	goldenJSON(t, "field-reencrypt-json", runCLI(t, vars, "", append([]string{"field", "reencrypt", "-o", "json"}, tbl...)...), norm)
	golden(t, "field-census-after", runCLI(t, vars, "", "field", "census", "--table", "users", "--column", "phone:text"))
}

// TestGoldenRevokeRefresh pins jwt revoke-refresh's JSON: a dry run, then the
// revocation.
func TestGoldenRevokeRefresh(t *testing.T) {
	ctx := context.Background()
	db := testsvc.Postgres(t)
	if err := refreshpg.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	st := refreshpg.New(db.Pool)
	exp := time.Date(2026, 12, 27, 9, 0, 0, 0, time.UTC)
	for i, sub := range []string{"alice", "alice", "bob"} {
		if err := st.Record(ctx, jwtkeys.RefreshRecord{ID: sub + string(rune('0'+i)), Subject: sub, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	goldenJSON(t, "jwt-revoke-refresh-dry-run-json", runCLI(t, vars, "", "jwt", "revoke-refresh", "--sub", "alice", "--dry-run", "--json"), nil)
	goldenJSON(t, "jwt-revoke-refresh-json", runCLI(t, vars, "", "jwt", "revoke-refresh", "--sub", "alice", "--yes", "--json"), nil)
	golden(t, "jwt-revoke-refresh-no-yes", runCLI(t, vars, "", "jwt", "revoke-refresh", "--all"))
}
