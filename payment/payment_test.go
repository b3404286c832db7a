package payment

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

const (
	cur  = "current-secret-0123456789abcdef"
	prev = "previous-secret-0123456789abcde"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func mac(key, msg string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func rotating() SecretSet {
	return SecretSet{
		Current:       fingerprint.NewSecret([]byte(cur)),
		Previous:      fingerprint.NewSecret([]byte(prev)),
		PreviousUntil: UntilAfterRotation(t0, VNPayRetryWindow),
	}
}

func TestVerifyMAC(t *testing.T) {
	set := rotating()
	incident := set
	incident.Incident = true
	noPrev := SecretSet{Current: set.Current}
	for _, tc := range []struct {
		name string
		set  SecretSet
		sig  []byte
		at   time.Time
		slot secretenv.Slot
		err  error
	}{
		{"current", set, mac(cur, "m"), t0, secretenv.SlotCurrent, nil},
		{"current after the window", set, mac(cur, "m"), t0.Add(1000 * time.Hour), secretenv.SlotCurrent, nil},
		{"previous inside", set, mac(prev, "m"), t0.Add(24*time.Hour - time.Nanosecond), secretenv.SlotPrevious, nil},
		{"previous at the deadline (exclusive)", set, mac(prev, "m"), t0.Add(24 * time.Hour), "", ErrRetiredKey},
		{"previous in incident mode", incident, mac(prev, "m"), t0, "", ErrRetiredKey},
		{"current in incident mode", incident, mac(cur, "m"), t0, secretenv.SlotCurrent, nil},
		{"previous not configured", noPrev, mac(prev, "m"), t0, "", ErrBadSignature},
		{"other message", set, mac(cur, "n"), t0, "", ErrBadSignature},
		{"truncated", set, mac(cur, "m")[:31], t0, "", ErrBadSignature},
		{"missing", set, nil, t0, "", ErrMissingSignature},
		{"no secret", SecretSet{}, mac(cur, "m"), t0, "", ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slot, err := tc.set.VerifyMAC(sha256.New, []byte("m"), tc.sig, tc.at)
			if !errors.Is(err, tc.err) || slot != tc.slot {
				t.Errorf("VerifyMAC = %q, %v; want %q, %v", slot, err, tc.slot, tc.err)
			}
		})
	}
	// A zero PreviousUntil never accepts Previous.
	s := set
	s.PreviousUntil = time.Time{}
	if _, err := s.VerifyMAC(sha256.New, []byte("m"), mac(prev, "m"), t0); !errors.Is(err, ErrRetiredKey) {
		t.Errorf("zero deadline: %v", err)
	}
}

func TestVerifyHexAndSign(t *testing.T) {
	set := rotating()
	sig, err := set.SignHex(sha256.New, []byte("m"))
	if err != nil || sig != hex.EncodeToString(mac(cur, "m")) {
		t.Fatalf("SignHex = %s, %v", sig, err)
	}
	for _, s := range []string{sig, strings.ToUpper(sig)} {
		if slot, err := set.VerifyHex(sha256.New, []byte("m"), s, t0); err != nil || slot != secretenv.SlotCurrent {
			t.Errorf("VerifyHex(%s) = %q %v", s, slot, err)
		}
	}
	for s, want := range map[string]error{
		"":                       ErrMissingSignature,
		"abc":                    ErrMalformed,
		strings.Repeat("zz", 32): ErrMalformed,
		strings.Repeat("00", 65): ErrMalformed,
		strings.Repeat("00", 32): ErrBadSignature,
	} {
		if _, err := set.VerifyHex(sha256.New, []byte("m"), s, t0); !errors.Is(err, want) {
			t.Errorf("VerifyHex(%q): %v, want %v", s, err, want)
		}
	}
	// SHA-512 signatures fill the whole 64-byte buffer.
	m := hmac.New(sha512.New, []byte(prev))
	m.Write([]byte("m"))
	if slot, err := set.VerifyHex(sha512.New, []byte("m"), hex.EncodeToString(m.Sum(nil)), t0); err != nil || slot != secretenv.SlotPrevious {
		t.Errorf("sha512 previous: %q %v", slot, err)
	}
	if _, err := (SecretSet{}).SignHex(sha256.New, nil); !errors.Is(err, ErrNoSecret) {
		t.Errorf("SignHex without secret: %v", err)
	}
	if got := MAC(sha256.New, set.Previous, []byte("m"), nil); !hmac.Equal(got, mac(prev, "m")) {
		t.Error("MAC differs from crypto/hmac")
	}
}

func TestValidate(t *testing.T) {
	set := rotating()
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (SecretSet{}).Validate(); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty: %v", err)
	}
	same := SecretSet{Current: set.Current, Previous: fingerprint.NewSecret([]byte(cur))}
	err := same.Validate()
	if !errors.Is(err, ErrSameSecret) || strings.Contains(err.Error(), cur) {
		t.Errorf("same: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", set, set, set); strings.Contains(s, cur) || strings.Contains(s, prev) {
		t.Errorf("a SecretSet prints a secret (output withheld)")
	}
}

func TestLoadSecretSet(t *testing.T) {
	vars := NewSecretVars("X_SECRET")
	if vars != (SecretVars{"X_SECRET", "X_SECRET_PREVIOUS", "X_SECRET_PREVIOUS_UNTIL"}) {
		t.Fatalf("Vars = %+v", vars)
	}
	rule := secretenv.ProviderSecretRule
	ok := map[string]string{"X_SECRET": cur, "X_SECRET_PREVIOUS": prev, "X_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00+07:00"}
	s, err := LoadSecretSet(secretenv.Map(ok), vars, rule)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Current.Bytes()) != cur || string(s.Previous.Bytes()) != prev || !s.PreviousUntil.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("set = %+v until %v", s, s.PreviousUntil)
	}
	// PreviousUntil defaults to Previous + "_UNTIL".
	if s, err := LoadSecretSet(secretenv.Map(ok), SecretVars{Current: "X_SECRET", Previous: "X_SECRET_PREVIOUS"}, rule); err != nil || s.PreviousUntil.IsZero() {
		t.Errorf("default deadline name: %v", err)
	}
	// From a mounted secret directory.
	dir := t.TempDir()
	for k, v := range ok {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := LoadSecretSet(secretenv.Dir(dir), vars, rule); err != nil || string(s.Previous.Bytes()) != prev {
		t.Errorf("Dir: %v", err)
	}
	// No previous: no deadline needed, and a stale deadline is ignored.
	if s, err := LoadSecretSet(secretenv.Map(map[string]string{"X_SECRET": cur, "X_SECRET_PREVIOUS_UNTIL": "junk"}), vars, rule); err != nil || !s.Previous.IsZero() {
		t.Errorf("no previous: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(map[string]string)
		want error
	}{
		"no current":      {func(m map[string]string) { delete(m, "X_SECRET") }, secretenv.ErrMissing},
		"short current":   {func(m map[string]string) { m["X_SECRET"] = "k3y-sh0rt" }, secretenv.ErrTooShort},
		"short previous":  {func(m map[string]string) { m["X_SECRET_PREVIOUS"] = "k3y-sh0rt" }, secretenv.ErrTooShort},
		"same secret":     {func(m map[string]string) { m["X_SECRET_PREVIOUS"] = cur }, secretenv.ErrDuplicate},
		"no deadline":     {func(m map[string]string) { delete(m, "X_SECRET_PREVIOUS_UNTIL") }, ErrNoDeadline},
		"empty deadline":  {func(m map[string]string) { m["X_SECRET_PREVIOUS_UNTIL"] = "" }, ErrNoDeadline},
		"bad deadline":    {func(m map[string]string) { m["X_SECRET_PREVIOUS_UNTIL"] = "2026-11-28 09:00" }, ErrBadDeadline},
		"date only":       {func(m map[string]string) { m["X_SECRET_PREVIOUS_UNTIL"] = "2026-11-28" }, ErrBadDeadline},
		"no zone in time": {func(m map[string]string) { m["X_SECRET_PREVIOUS_UNTIL"] = "2026-11-28T09:00:00" }, ErrBadDeadline},
	} {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range ok {
				m[k] = v
			}
			tc.mod(m)
			_, err := LoadSecretSet(secretenv.Map(m), vars, rule)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, secret := range []string{cur, prev, "k3y-sh0rt"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("an error shows a secret (message withheld)")
				}
			}
		})
	}
}

func TestReasonOf(t *testing.T) {
	for err, want := range map[error]Reason{
		ErrMissingSignature: ReasonMissingSignature, ErrRetiredKey: ReasonRetiredKey, ErrBadSignature: ReasonBadSignature,
		ErrDuplicateParam: ReasonDuplicateParam, ErrTimestamp: ReasonTimestamp, ErrReplay: ReasonReplay, ErrBodyTooLarge: ReasonBodyTooLarge,
		ErrNoSecret: ReasonNoSecret, ErrWrongMerchant: ReasonWrongMerchant, ErrMalformed: ReasonMalformed, errors.New("x"): ReasonMalformed,
	} {
		if got := ReasonOf(fmt.Errorf("provider: %w", err)); got != want {
			t.Errorf("ReasonOf(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestOrNop(t *testing.T) {
	if _, ok := OrNop(nil).(NopObserver); !ok {
		t.Error("OrNop(nil) is not a NopObserver")
	}
	o := NopObserver{}
	o.Verified("p", secretenv.SlotCurrent)
	o.SignatureFailed("p", ReasonBadSignature)
	o.IPNRejected("p", ReasonMethod)
}

// TestNoDatabaseOrRedis checks the import graph: a service that imports one
// provider package must not link a database or Redis client.
func TestNoDatabaseOrRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	forbidden := []string{"database/sql", "github.com/jackc/", "github.com/redis/", "github.com/lib/pq", "github.com/go-sql-driver/"}
	for _, pkg := range []string{".", "./vnpay", "./momo", "./zalopay", "./paymentprom"} {
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
