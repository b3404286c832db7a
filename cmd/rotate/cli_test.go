package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

// result is one CLI run.
type result struct {
	code           int
	stdout, stderr string
}

// String masks secret-shaped tokens (24+ base64 or alphanumeric characters:
// generated keys and passwords, SCRAM verifier parts) by their fingerprint,
// so that a failure message printing a result with %v or %+v never shows
// a secret the command under test leaked.
func (r result) String() string {
	return fmt.Sprintf("{code:%d stdout:%q stderr:%q}", r.code, maskTokens(r.stdout), maskTokens(r.stderr))
}

var secretShaped = regexp.MustCompile(`[A-Za-z0-9+/=]{24,}`)

func maskTokens(s string) string {
	return secretShaped.ReplaceAllStringFunc(s, func(tok string) string { return "[token fp=" + fingerprint.OfString(tok) + "]" })
}

// runCLI runs rotate with args, stdin and the variables vars (no process
// environment leaks in).
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Vars: secretenv.Map(vars),
		Now: func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

// assertNoSecret fails when any of secrets appears in the run's output. The
// failure message shows the output with every secret replaced by its
// position, so a failing test does not print the secret itself.
func assertNoSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Fatalf("output contains secret #%d:\nstdout: %s\nstderr: %s", i, withoutSecrets(r.stdout, secrets), withoutSecrets(r.stderr, secrets))
		}
	}
}

// withoutSecrets replaces each non-empty secrets[i] in s by "[SECRET #i]".
func withoutSecrets(s string, secrets []string) string {
	for i, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, fmt.Sprintf("[SECRET #%d]", i))
		}
	}
	return s
}

func TestHelpAndUnknown(t *testing.T) {
	if r := runCLI(t, nil, ""); r.code != exitUsage || !strings.Contains(r.stdout, "keygen") {
		t.Errorf("no args: %+v", r)
	}
	if r := runCLI(t, nil, "", "help"); r.code != exitOK || !strings.Contains(r.stdout, "inventory") {
		t.Errorf("help: %+v", r)
	}
	if r := runCLI(t, nil, "", "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("unknown: %+v", r)
	}
	for name := range commands {
		if r := runCLI(t, nil, "", name, "--help"); r.code != exitOK {
			t.Errorf("%s --help: exit %d, stderr %s", name, r.code, r.stderr)
		}
	}
}

func TestKeygen(t *testing.T) {
	for _, tc := range []struct {
		class   string
		decoded int
	}{{"jwt", 48}, {"webhook", 48}, {"field", 32}, {"db", 0}, {"redis", 0}} {
		r := runCLI(t, nil, "", "keygen", tc.class)
		if r.code != exitOK {
			t.Fatalf("%s: %+v", tc.class, r)
		}
		secret := r.stdout // no newline into a pipe: `rotate keygen jwt > file` holds the secret exactly
		if strings.TrimSpace(secret) != secret {
			t.Errorf("%s: output ends with whitespace", tc.class)
		}
		if tc.class == "webhook" && !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("webhook: %d-character secret without the whsec_ prefix", len(secret))
		}
		if want := "fingerprint: " + fingerprint.OfString(secret) + "\n"; r.stderr != want {
			t.Errorf("%s: stderr %q, want %q", tc.class, r.stderr, want)
		}
		if tc.decoded > 0 {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil || len(b) != tc.decoded {
				t.Errorf("%s: %d bytes, want %d", tc.class, len(b), tc.decoded)
			}
		} else if len(secret) != 32 {
			t.Errorf("%s: %d characters, want 32", tc.class, len(secret))
		}
	}
	if r := runCLI(t, nil, "", "keygen", "ssh"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown secret class") {
		t.Errorf("unknown class: %+v", r)
	}
	if r := runCLI(t, nil, "", "keygen"); r.code != exitUsage {
		t.Errorf("no class: %+v", r)
	}
}

// TestFingerprintMatchesSha256sum checks the CLI against coreutils for the
// same bytes: the bytes a service uses. Input ending in whitespace is refused
// as a service refuses it, unless --keep-newline (issue 13 point 3).
func TestFingerprintMatchesSha256sum(t *testing.T) {
	secret := "kc6tTSHu+jKgSig6NGFEUEaeIMGDC++DhIl5kOrrqK9yvOhsw+znXm2+TlknedbQ"
	cmd := exec.Command("sha256sum")
	cmd.Stdin = strings.NewReader(secret)
	out, err := cmd.Output()
	if err != nil {
		t.Skip("sha256sum:", err)
	}
	want := string(out[:16])
	if r := runCLI(t, nil, secret, "fingerprint"); r.code != exitOK || r.stdout != want+"\n" {
		t.Errorf("fingerprint: %+v, want %s", r, want)
	} else {
		assertNoSecret(t, r, secret)
	}
	for _, tail := range []string{"\n", "\r\n", "\n\n", " "} {
		r := runCLI(t, nil, secret+tail, "fingerprint")
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "--keep-newline") || !strings.Contains(r.stderr, "printf") {
			t.Errorf("fingerprint of secret+%q: %+v, want refusal naming the fix", tail, r)
		}
		assertNoSecret(t, r, secret)
		if r := runCLI(t, nil, secret+tail, "fingerprint", "--keep-newline"); r.stdout != fingerprint.OfString(secret+tail)+"\n" {
			t.Errorf("--keep-newline %q: %+v", tail, r)
		}
	}
	// The fingerprint printed is the one the service logs for the same bytes.
	kept, err := secretenv.Require(secretenv.Map(map[string]string{"JWT_SECRET": secret + "\n", secretenv.EnvKeepTrailingSpace: "JWT_SECRET"}), "JWT_SECRET", secretenv.HMACRule)
	if err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, secret+"\n", "fingerprint", "--keep-newline"); r.stdout != kept.Fingerprint()+"\n" {
		t.Errorf("CLI %q, service %s", r.stdout, kept.Fingerprint())
	}
}

func TestFingerprintRefusesBadInput(t *testing.T) {
	for _, in := range []string{"", "\n"} {
		if r := runCLI(t, nil, in, "fingerprint"); r.code != exitUsage || !strings.Contains(r.stderr, "empty input") {
			t.Errorf("input %q: %+v", in, r)
		}
	}
	r := runCLI(t, nil, "", "fingerprint", "my-secret-on-argv")
	if r.code != exitUsage || !strings.Contains(r.stderr, "never from arguments") {
		t.Errorf("argv secret: %+v", r)
	}
	assertNoSecret(t, r, "my-secret-on-argv")
}

func TestInventory(t *testing.T) {
	jwtA := strings.Repeat("a", 40)
	vars := map[string]string{
		"JWT_SECRET":         jwtA,
		"JWT_REFRESH_SECRET": "too-short-refresh",
	}
	r := runCLI(t, vars, "", "inventory", "--class", "jwt")
	if r.code != exitCheck {
		t.Fatalf("invalid refresh secret: exit %d\n%s", r.code, r.stdout)
	}
	for _, want := range []string{fingerprint.OfString(jwtA), "INVALID", "too short", "JWT_SECRET_PREVIOUS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	assertNoSecret(t, r, jwtA, "too-short-refresh")

	vars["JWT_REFRESH_SECRET"] = strings.Repeat("b", 40)
	r = runCLI(t, vars, "", "inventory", "--class", "jwt", "--json")
	if r.code != exitOK {
		t.Fatalf("valid jwt class: %+v", r)
	}
	var rows []struct {
		Var   string `json:"var"`
		Valid bool   `json:"valid"`
		Set   bool   `json:"set"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 6 || !rows[0].Valid {
		t.Fatalf("json: %v %+v", err, rows)
	}
	if r := runCLI(t, nil, "", "inventory"); r.code != exitCheck || !strings.Contains(r.stdout, "MISSING") {
		t.Errorf("empty environment: exit %d", r.code)
	}
	if r := runCLI(t, nil, "", "inventory", "--class", "nope"); r.code != exitUsage {
		t.Errorf("unknown class: %+v", r)
	}
}

func TestChecklist(t *testing.T) {
	secret := "new-secret-value-from-keygen-0123456789"
	refresh := "new-refresh-secret-from-keygen-9876543210"
	r := runCLI(t, nil, secret+"\n"+refresh+"\n", "--tz", "Asia/Ho_Chi_Minh", "checklist", "--stdin",
		"--promoted-at", "2026-11-20T02:10:00+07:00", "jwt", "production")
	if r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{
		"## Rotation — JWT signing keys — production",
		"- [ ] Change window booked (date/time Asia/Ho_Chi_Minh (+07))",
		"- [ ] New JWT_SECRET fingerprint (SHA-256 first 16 chars): `" + fingerprint.OfString(secret) + "`",
		"- [ ] New JWT_REFRESH_SECRET fingerprint (SHA-256 first 16 chars): `" + fingerprint.OfString(refresh) + "`",
		// promotion + 30 days + 24 h, in the chosen zone, not "now + …"
		"- [ ] Overlap window end date (JWT only): 2026-12-21 02:10 +07 (promotion + refresh TTL 720h0m0s + margin 24h0m0s, promoted 2026-11-20 02:10 +07)",
		"JWT_SECRET_PREVIOUS_SINCE=promotion time",
		"- [ ] Old secret retired / role dropped (timestamp)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("checklist lacks %q:\n%s", want, r.stdout)
		}
	}
	assertNoSecret(t, r, secret, refresh)
	// Without a promotion time the overlap end is left to fill, never computed from now.
	if r := runCLI(t, nil, secret, "checklist", "--stdin", "jwt", "production"); r.code != exitOK ||
		!strings.Contains(r.stdout, "Overlap window end date (JWT only): ____ (promotion") {
		t.Errorf("no promotion time: %+v", r)
	}
	if r := runCLI(t, nil, "", "checklist", "--fingerprint", "ABC", "db", "staging"); r.code != exitUsage {
		t.Errorf("bad fingerprint: %+v", r)
	}
	if r := runCLI(t, nil, "", "checklist", "db", "Prod;rm"); r.code != exitUsage {
		t.Errorf("bad env name: %+v", r)
	}
	if r := runCLI(t, nil, "", "checklist", "db", "staging"); r.code != exitOK || !strings.Contains(r.stdout, "`________________`") {
		t.Errorf("no fingerprint: %+v", r)
	}
	if r := runCLI(t, nil, "a\nb\n", "checklist", "--stdin", "db", "staging"); r.code != exitUsage {
		t.Errorf("two secrets for db: %+v", r)
	}
	if r := runCLI(t, nil, "", "--tz", "Mars/Olympus", "checklist", "db", "staging"); r.code != exitUsage || !strings.Contains(r.stderr, "IANA") {
		t.Errorf("bad zone: %+v", r)
	}
}

// The checklist is filled from the audit log's records of one ticket.
func TestChecklistFromAudit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	access, refresh, other := fingerprint.OfString("a"), fingerprint.OfString("r"), fingerprint.OfString("o")
	lines := []AuditRecord{
		{Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Ticket: "GOO-1", Command: "jwt stage", Outcome: "ok",
			After: map[string]string{"JWT_SECRET_NEXT": access, "JWT_REFRESH_SECRET_NEXT": refresh}},
		{Time: time.Date(2026, 11, 2, 19, 10, 0, 0, time.UTC), Ticket: "GOO-1", Command: "jwt promote", Outcome: "ok"},
		{Time: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Ticket: "GOO-2", Command: "jwt stage", Outcome: "ok",
			After: map[string]string{"JWT_SECRET_NEXT": other}},
		{Time: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Ticket: "GOO-1", Command: "pg apply", Outcome: "ok",
			After: map[string]string{"verifier app_v2": other}},
	}
	var b strings.Builder
	for _, l := range lines {
		j, _ := json.Marshal(l)
		b.Write(append(j, '\n'))
	}
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, map[string]string{"ROTATE_AUDIT_LOG": log}, "", "--ticket", "GOO-1", "--tz", "UTC", "checklist", "--from-audit", "jwt", "production")
	for _, want := range []string{"`" + access + "`", "`" + refresh + "`", "2026-12-03 19:10 UTC"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("lacks %q: %+v", want, r)
		}
	}
	if strings.Contains(r.stdout, other) {
		t.Errorf("another ticket's fingerprint: %s", r.stdout)
	}
	if r := runCLI(t, map[string]string{"ROTATE_AUDIT_LOG": log}, "", "--ticket", "GOO-1", "checklist", "--from-audit", "db", "production"); r.code != exitOK ||
		!strings.Contains(r.stdout, "`"+other+"`") {
		t.Errorf("db from audit: %+v", r)
	}
	if r := runCLI(t, map[string]string{"ROTATE_AUDIT_LOG": log}, "", "--ticket", "GOO-9", "checklist", "--from-audit", "jwt", "production"); r.code != exitUsage {
		t.Errorf("unknown ticket: %+v", r)
	}
}

func TestRedactorHidesKnownSecretsAndURLPasswords(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	var buf bytes.Buffer
	w := newRedactor(&buf, secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": key, "JWT_SECRET": strings.Repeat("z", 40)}))
	io.WriteString(w, "boom: "+key+" and "+strings.Repeat("z", 40)+" and 0123456789abcdef0123456789abcdef\n")
	io.WriteString(w, "dial postgres://app:S3cretPassw0rd@db:5432/app failed\n")
	out := buf.String()
	leaks := []string{key, strings.Repeat("z", 40), "0123456789abcdef0123456789abcdef", "S3cretPassw0rd"}
	for i, leak := range leaks {
		if strings.Contains(out, leak) {
			t.Errorf("redactor let secret #%d through: %s", i, withoutSecrets(out, leaks))
		}
	}
	if !strings.Contains(out, "[secret fp="+fingerprint.OfString(key)+"]") || !strings.Contains(out, "postgres://app:[redacted]@db") {
		t.Errorf("redacted forms missing: %s", out)
	}
}

func TestRedactorLeavesIdentifiersAndShortValues(t *testing.T) {
	var buf bytes.Buffer
	w := newRedactor(&buf, secretenv.Map(map[string]string{"MOMO_PARTNER_CODE": "MOMO", "ZALOPAY_APP_ID": "2553", "MINIO_ACCESS_KEY": "abc"}))
	io.WriteString(w, "MOMO_SECRET_KEY missing for partner MOMO, app 2553, key abc\n")
	if got := buf.String(); got != "MOMO_SECRET_KEY missing for partner MOMO, app 2553, key abc\n" {
		t.Errorf("redactor changed non-secret text: %q", got)
	}
}
