package fingerprint_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

func TestOfKnownAnswers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// sha256("") = e3b0c442 98fc1c14 9afbf4c8 …
		{"", "e3b0c44298fc1c14"},
		// sha256("abc") = ba7816bf 8f01cfea 414140de …
		{"abc", "ba7816bf8f01cfea"},
	} {
		if got := fingerprint.OfString(tc.in); got != tc.want {
			t.Errorf("Of(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestOfMatchesSha256sum checks Of against the coreutils command the docs
// recommend, including bytes that a shell pipeline could mangle.
func TestOfMatchesSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum not installed")
	}
	inputs := [][]byte{
		[]byte("kc6tTSHu+jKgSig6NGFEUEaeIMGDC++DhIl5kOrrqK9yvOhsw+znXm2+TlknedbQ"),
		[]byte("with trailing newline\n"),
		[]byte("tiếng Việt có dấu"),
		{0, 1, 2, 0xff, '\r', '\n'},
	}
	for _, in := range inputs {
		cmd := exec.Command("sha256sum")
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if want, got := string(out[:16]), fingerprint.Of(in); got != want {
			t.Errorf("Of = %s, sha256sum | cut -c1-16 = %s", got, want)
		}
	}
}

// TestRunbookOpenSSLLineIsBroken documents why the runbook's §2 command is
// replaced: under OpenSSL 3 every secret gets the same "fingerprint".
func TestRunbookOpenSSLLineIsBroken(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	fp := func(secret, extra string) string {
		cmd := exec.Command("sh", "-c", `printf '%s' "$S" | openssl dgst -sha256 `+extra+` | cut -c1-16`)
		cmd.Env = []string{"S=" + secret, "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	a, b := fp("first-secret-value", ""), fp("second-secret-value", "")
	if strings.HasPrefix(a, "SHA2-256(stdin)=") && a == b {
		t.Logf("runbook line gives %q for two different secrets (OpenSSL 3)", a)
	} else if a != fingerprint.OfString("first-secret-value") {
		t.Errorf("old OpenSSL output %q is neither the broken form nor a fingerprint", a)
	}
	// The documented fix, openssl dgst -r, agrees with Of.
	if got, want := fp("first-secret-value", "-r"), fingerprint.OfString("first-secret-value"); got != want {
		t.Errorf("openssl dgst -sha256 -r | cut -c1-16 = %q, want %q", got, want)
	}
}

func TestValid(t *testing.T) {
	if !fingerprint.Valid(fingerprint.OfString("x")) {
		t.Error("a fingerprint is not Valid")
	}
	for _, bad := range []string{"", "E3B0C44298FC1C14", "e3b0c44298fc1c1", "e3b0c44298fc1c14a", "../../etc/passwd", "e3b0c44298fc1c1g"} {
		if fingerprint.Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

const secretValue = "hunter2-but-much-longer-and-very-secret-value"

func TestSecretNeverPrints(t *testing.T) {
	s := fingerprint.NewSecret([]byte(secretValue))
	want := "[secret fp=" + fingerprint.OfString(secretValue) + "]"
	type wrapper struct {
		Name string
		Key  fingerprint.Secret
	}
	w := wrapper{"jwt", s}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, w), fmt.Sprintf(verb, &w))
	}
	outputs = append(outputs, fmt.Sprint(s), fmt.Sprintln(s), s.String(), s.GoString())

	var logbuf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logbuf, nil), slog.NewJSONHandler(&logbuf, nil)} {
		l := slog.New(h)
		l.Info("loaded", "key", s, "wrapped", w)
		l.Info("group", slog.Group("g", slog.Any("key", s)))
	}
	outputs = append(outputs, logbuf.String())
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))

	for _, out := range outputs {
		if strings.Contains(out, secretValue) || strings.Contains(out, fmt.Sprintf("%x", secretValue)) || strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked in an output (message withheld; fp of the output %s)", fingerprint.OfString(out))
		}
	}
	if got := fmt.Sprintf("%v", s); got != want {
		t.Errorf("%%v = %q, want %q", got, want)
	}
	if !strings.Contains(logbuf.String(), want) {
		t.Errorf("slog output lacks %q: %s", want, logbuf.String())
	}
	if !strings.Contains(string(j), want) {
		t.Errorf("JSON lacks %q: %s", want, j)
	}
}

func TestSecretCopiesAndCompares(t *testing.T) {
	b := []byte(secretValue)
	s := fingerprint.NewSecret(b)
	b[0] = 'X'
	if string(s.Bytes()) != secretValue {
		t.Fatal("NewSecret did not copy its input")
	}
	if !s.Equal(fingerprint.NewSecret([]byte(secretValue))) || s.Equal(fingerprint.NewSecret(b)) {
		t.Fatal("Equal is wrong")
	}
	var zero fingerprint.Secret
	if !zero.IsZero() || zero.String() != "[secret empty]" || zero.Fingerprint() != "" {
		t.Fatalf("zero Secret: %v %q", zero.IsZero(), zero.Fingerprint())
	}
	if !fingerprint.NewSecret(nil).IsZero() {
		t.Fatal("NewSecret(nil) is not zero")
	}
}

func Example() {
	fmt.Println(fingerprint.OfString("abc"))
	s := fingerprint.NewSecret([]byte("abc"))
	fmt.Printf("loaded %v\n", s)
	// Output:
	// ba7816bf8f01cfea
	// loaded [secret fp=ba7816bf8f01cfea]
}
