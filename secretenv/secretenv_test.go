package secretenv

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fingerprint"
)

const (
	jwtA = "kc6tTSHu+jKgSig6NGFEUEaeIMGDC++DhIl5kOrrqK9yvOhsw+znXm2+TlknedbQ"
	jwtB = "Qw4kV0r2dW6w8d0o7lDqvH0K2mFZ3p8sX1yT5uJb9nEaRcLgMhIiOjPkQlSmTnUo"
)

var fieldKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func TestDecodeRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		rule Rule
		want error
	}{
		{"hmac ok", jwtA, HMACRule, nil},
		{"hmac short", "short-secret", HMACRule, ErrTooShort},
		{"hmac 31 bytes", strings.Repeat("a", 31), HMACRule, ErrTooShort},
		{"hmac 32 bytes", strings.Repeat("a", 32), HMACRule, nil},
		{"field ok", fieldKey, FieldKeyRule, nil},
		{"field 31 bytes", base64.StdEncoding.EncodeToString(make([]byte, 31)), FieldKeyRule, ErrWrongLength},
		{"field 33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)), FieldKeyRule, ErrWrongLength},
		{"field not base64", "not base64 at all!!", FieldKeyRule, ErrNotBase64},
		{"field unpadded", strings.TrimRight(fieldKey, "="), FieldKeyRule, ErrNotBase64},
		{"field url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff})), FieldKeyRule, ErrNotBase64},
		{"field with newline", fieldKey[:20] + "\n" + fieldKey[20:], FieldKeyRule, ErrNotBase64},
		{"db url ok", "postgres://app:Abcdefghijklmnop0123456789ABCDEF@db:5432/app", DatabaseURLRule, nil},
		{"db url no password", "postgres://app@db:5432/app", DatabaseURLRule, ErrNoPassword},
		{"db url short password", "postgres://app:pw9Zq@db:5432/app", DatabaseURLRule, ErrTooShort},
		{"db url garbage", "::not a url::", DatabaseURLRule, ErrBadURL},
		{"redis url without password", "redis://cache:6379/0", RedisURLRule, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("VAR", tc.raw, tc.rule)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil {
				assertNoLeak(t, err.Error(), tc.raw)
			}
		})
	}
}

// assertNoLeak fails when msg contains raw or a long enough part of it.
func assertNoLeak(t *testing.T, msg, raw string) {
	t.Helper()
	if len(raw) >= 6 && strings.Contains(msg, raw) {
		t.Fatalf("message contains the value: %q", msg)
	}
	if u := strings.Index(raw, ":"); u >= 0 {
		if at := strings.LastIndex(raw, "@"); at > u {
			pw := raw[strings.LastIndex(raw[:at], ":")+1 : at]
			if len(pw) >= 4 && strings.Contains(msg, pw) {
				t.Fatalf("message contains the URL password: %q", msg)
			}
		}
	}
}

func TestErrorNamesVariableAndFingerprint(t *testing.T) {
	_, err := Decode("JWT_SECRET_PREVIOUS", "too-short-secret", HMACRule)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"JWT_SECRET_PREVIOUS", fingerprint.OfString("too-short-secret"), "16 bytes, need at least 32"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	assertNoLeak(t, msg, "too-short-secret")
}

func TestLoadEmptyIsAbsent(t *testing.T) {
	src := Map(map[string]string{"JWT_SECRET": "", "JWT_SECRET_NEXT": jwtA})
	s, err := Load(src, "JWT_SECRET", HMACRule)
	if err != nil || !s.IsZero() {
		t.Fatalf("empty variable: secret %v err %v; want absent", s, err)
	}
	if _, err := Require(src, "JWT_SECRET", HMACRule); !errors.Is(err, ErrMissing) {
		t.Fatalf("Require(empty) = %v, want ErrMissing", err)
	}
	s, err = Require(src, "JWT_SECRET_NEXT", HMACRule)
	if err != nil || string(s.Bytes()) != jwtA {
		t.Fatalf("Require = %v, %v", s, err)
	}
}

func TestLoadList(t *testing.T) {
	other := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	list, err := LoadList(Map(map[string]string{"K": fieldKey + "," + other}), "K", FieldKeyListRule)
	if err != nil || len(list) != 2 || string(list[1].Bytes()) != "fedcba9876543210fedcba9876543210" {
		t.Fatalf("LoadList = %v, %v", list, err)
	}
	_, err = LoadList(Map(map[string]string{"K": fieldKey + ",," + other}), "K", FieldKeyListRule)
	var e *Error
	if !errors.Is(err, ErrEmptyItem) || !errors.As(err, &e) || e.Index != 1 {
		t.Fatalf("stray comma: %v", err)
	}
	_, err = LoadList(Map(map[string]string{"K": fieldKey + ",bad"}), "K", FieldKeyListRule)
	if !errors.As(err, &e) || e.Index != 1 || !errors.Is(err, ErrNotBase64) || !strings.Contains(err.Error(), "K[1]") {
		t.Fatalf("bad item: %v", err)
	}
}

func TestDistinct(t *testing.T) {
	a, b := fingerprint.NewSecret([]byte(jwtA)), fingerprint.NewSecret([]byte(jwtB))
	if err := Distinct(Named{"JWT_SECRET", a}, Named{"JWT_SECRET_PREVIOUS", fingerprint.Secret{}}, Named{"JWT_REFRESH_SECRET", b}); err != nil {
		t.Fatalf("distinct secrets refused: %v", err)
	}
	err := Distinct(Named{"JWT_SECRET", a}, Named{"JWT_REFRESH_SECRET", b}, Named{"JWT_REFRESH_SECRET_PREVIOUS", a})
	var e *Error
	if !errors.Is(err, ErrDuplicate) || !errors.As(err, &e) || e.Var != "JWT_REFRESH_SECRET_PREVIOUS" || e.Other != "JWT_SECRET" {
		t.Fatalf("duplicate: %v", err)
	}
	assertNoLeak(t, err.Error(), jwtA)
}

// TestDirKubernetesLayout builds the layout of a Kubernetes secret volume
// (files are links into a timestamped directory through "..data") and swaps
// it the way the kubelet does.
func TestDirKubernetesLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(ts string, values map[string]string) {
		d := filepath.Join(dir, ts)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range values {
			if err := os.WriteFile(filepath.Join(d, k), []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		for k := range values {
			link := filepath.Join(dir, k)
			if _, err := os.Lstat(link); err != nil {
				if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	write("..2026_11_27_10_00_00.1", map[string]string{"JWT_SECRET": jwtA})
	src := Dir(dir)
	s, err := Require(src, "JWT_SECRET", HMACRule)
	if err != nil || string(s.Bytes()) != jwtA {
		t.Fatalf("first read: %v %v", s, err)
	}
	write("..2026_11_27_11_00_00.2", map[string]string{"JWT_SECRET": jwtB})
	s, err = Require(src, "JWT_SECRET", HMACRule)
	if err != nil || string(s.Bytes()) != jwtB {
		t.Fatalf("after swap: %v %v", s, err)
	}
	names, err := Names(dir)
	if err != nil || len(names) != 1 || names[0] != "JWT_SECRET" {
		t.Fatalf("Names = %v, %v", names, err)
	}
	if _, ok, err := src.Lookup("MISSING"); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	for _, hostile := range []string{"../etc/passwd", "..data/JWT_SECRET", "", "a/b", strings.Repeat("A", 200)} {
		if _, _, err := src.Lookup(hostile); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Lookup(%q) = %v, want ErrInvalidName", hostile, err)
		}
	}
}

func TestDirReadsBytesAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "A"), []byte(jwtA+"\r\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "B"), []byte(jwtA+"\n\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "BIG"), make([]byte, MaxFileSize+1), 0o600)
	if v, _, _ := Dir(dir).Lookup("A"); v != jwtA+"\r\n" {
		t.Errorf("CRLF stripped: %d bytes, want %d bytes", len(v), len(jwtA)+2)
	}
	if v, _, _ := Dir(dir).Lookup("B"); v != jwtA+"\n\n" {
		t.Errorf("newline stripped: %d bytes, want %d bytes", len(v), len(jwtA)+2)
	}
	if _, _, err := Dir(dir).Lookup("BIG"); err == nil {
		t.Error("oversized file accepted")
	}
}

// One secret, one key (issue 13 point 3): the same value with a trailing
// newline is refused from every source, with an error naming the variable
// and the fix and never the value, unless EnvKeepTrailingSpace lists it;
// then every source gives the same bytes, newline included.
func TestTrailingWhitespaceOneRule(t *testing.T) {
	dir := t.TempDir()
	fk := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	vals := map[string]struct {
		raw  string
		rule Rule
	}{
		"JWT_SECRET":                    {jwtA + "\n", HMACRule},
		"JWT_REFRESH_SECRET":            {jwtB + "\r\n", HMACRule},
		"VNPAY_HASH_SECRET":             {jwtA + " ", ProviderSecretRule},
		"FIELD_ENCRYPTION_KEY":          {fk + "\n", FieldKeyRule},
		"FIELD_ENCRYPTION_KEY_PREVIOUS": {fk + ",\t", FieldKeyListRule},
		"DATABASE_URL":                  {"postgres://app:" + jwtB + "@db/app\n", DatabaseURLRule},
	}
	envm := map[string]string{}
	for k, v := range vals {
		os.WriteFile(filepath.Join(dir, k), []byte(v.raw), 0o600)
		envm[k] = v.raw
		t.Setenv(k, v.raw)
	}
	for _, src := range []Source{Env(), Dir(dir), Map(envm)} {
		for k, v := range vals {
			var err error
			if v.rule.List {
				_, err = LoadList(src, k, v.rule)
			} else {
				_, err = Load(src, k, v.rule)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrTrailingSpace) || e.Var != k {
				t.Errorf("%s from %s: %v, want ErrTrailingSpace naming it", k, src, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, EnvKeepTrailingSpace) || !strings.Contains(msg, "printf") {
				t.Errorf("%s: error does not say the fix: %s", k, msg)
			}
			if strings.Contains(msg, jwtA) || strings.Contains(msg, jwtB) || strings.Contains(msg, fk) {
				t.Errorf("%s: error shows the value", k)
			}
		}
		for _, f := range Check(src, Inventory()) {
			if _, ok := vals[f.Var]; ok && !errors.Is(f.Err, ErrTrailingSpace) {
				t.Errorf("Check %s from %s: %v, want ErrTrailingSpace", f.Var, src, f.Err)
			}
		}
	}
	// Explicit: the fleet signs with the newline. Every source then yields
	// the same bytes, and the fingerprint is of those bytes.
	t.Setenv(EnvKeepTrailingSpace, "JWT_REFRESH_SECRET, JWT_SECRET")
	for _, src := range []Source{Env(), Dir(dir), Map(envm)} {
		s, err := Require(src, "JWT_SECRET", HMACRule)
		if err != nil || string(s.Bytes()) != jwtA+"\n" || s.Fingerprint() != fingerprint.OfString(jwtA+"\n") {
			t.Errorf("kept from %s: %d bytes, %v", src, s.Len(), err)
		}
		if _, err := Require(src, "VNPAY_HASH_SECRET", ProviderSecretRule); !errors.Is(err, ErrTrailingSpace) {
			t.Errorf("unlisted variable kept from %s: %v", src, err)
		}
	}
	// The setting may also live in the source itself (a secrets directory).
	t.Setenv(EnvKeepTrailingSpace, "")
	os.Unsetenv(EnvKeepTrailingSpace)
	m := map[string]string{"JWT_SECRET": jwtA + "\n", EnvKeepTrailingSpace: "JWT_SECRET"}
	if _, err := Require(Map(m), "JWT_SECRET", HMACRule); err != nil {
		t.Errorf("setting in the source: %v", err)
	}
	// Whitespace inside or at the start is the value (nothing strips it).
	if _, err := Decode("X", " "+jwtA, HMACRule); err != nil {
		t.Errorf("leading space refused: %v", err)
	}
}

func TestInventoryCoversRunbook(t *testing.T) {
	want := []string{"JWT_SECRET", "JWT_REFRESH_SECRET", "FIELD_ENCRYPTION_KEY", "VNPAY_HASH_SECRET", "VNPAY_TMN_CODE",
		"MOMO_PARTNER_CODE", "MOMO_ACCESS_KEY", "MOMO_SECRET_KEY", "ZALOPAY_APP_ID", "ZALOPAY_KEY1", "ZALOPAY_KEY2",
		"BANK_TRANSFER_WEBHOOK_SECRET", "DATABASE_URL", "REDIS_URL", "REDIS_PASSWORD", "GOOGLE_CLIENT_SECRET",
		"ZALO_APP_SECRET", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "ZALO_OA_ACCESS_TOKEN"}
	have := map[string]bool{}
	classes := Inventory()
	if len(classes) != 11 {
		t.Errorf("%d classes, the runbook's §1 has 11", len(classes))
	}
	for _, c := range classes {
		if c.ID == "" || c.Cadence == "" || c.BlastRadius == "" || c.Owner == "" {
			t.Errorf("class %q incomplete", c.Name)
		}
		for _, v := range c.Vars {
			have[v.Name] = true
		}
	}
	for _, v := range want {
		if !have[v] {
			t.Errorf("inventory lacks %s", v)
		}
	}
}

func TestCheck(t *testing.T) {
	jwt, _ := LookupClass("jwt")
	field, _ := LookupClass("field")
	src := Map(map[string]string{
		"JWT_SECRET":                  jwtA,
		"JWT_REFRESH_SECRET":          jwtB,
		"JWT_REFRESH_SECRET_PREVIOUS": jwtA, // the access secret again
		"JWT_SECRET_NEXT":             "short",
		"FIELD_ENCRYPTION_KEY":        fieldKey,
	})
	got := map[string]Finding{}
	for _, f := range Check(src, []Class{jwt, field}) {
		got[f.Var] = f
	}
	if f := got["JWT_SECRET"]; !f.OK() || !f.Set || f.Fingerprints[0] != fingerprint.OfString(jwtA) {
		t.Errorf("JWT_SECRET: %+v", f)
	}
	if f := got["JWT_SECRET_PREVIOUS"]; !f.OK() || f.Set {
		t.Errorf("optional unset: %+v", f)
	}
	if f := got["JWT_SECRET_NEXT"]; !errors.Is(f.Err, ErrTooShort) {
		t.Errorf("short next: %+v", f)
	}
	if f := got["JWT_REFRESH_SECRET_PREVIOUS"]; !errors.Is(f.Err, ErrDuplicate) {
		t.Errorf("duplicate across rings: %+v", f)
	}
	// The ticket fingerprint of a field key is that of its base64 text.
	if f := got["FIELD_ENCRYPTION_KEY"]; !f.OK() || f.Fingerprints[0] != fingerprint.OfString(fieldKey) {
		t.Errorf("field key: %+v", f)
	}
	if f := got["FIELD_ENCRYPTION_KEY_PREVIOUS"]; !f.OK() {
		t.Errorf("optional previous: %+v", f)
	}
	if f := Check(Map(nil), []Class{jwt})[0]; !IsMissing(f.Err) {
		t.Errorf("missing required: %+v", f)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{jwtA, fieldKey, "postgres://u:p@h/db", "", "=", "a,b,,c", "\x00\xff", "redis://:pw@x"} {
		f.Add(s, uint8(0))
	}
	rules := []Rule{HMACRule, FieldKeyRule, FieldKeyListRule, DatabaseURLRule, RedisURLRule, ProviderSecretRule}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		rule := rules[int(r)%len(rules)]
		var err error
		if rule.List {
			_, err = DecodeList("V", raw, rule)
		} else {
			_, err = Decode("V", raw, rule)
		}
		if err != nil && len(raw) >= 12 && strings.Contains(err.Error(), raw) {
			t.Fatalf("error reveals the value (message withheld)")
		}
	})
}

func TestCheckPaymentDeadline(t *testing.T) {
	vnpay, _ := LookupClass("vnpay")
	base := map[string]string{"VNPAY_HASH_SECRET": strings.Repeat("N", 32), "VNPAY_TMN_CODE": "DEMOV210", "VNPAY_HASH_SECRET_PREVIOUS": strings.Repeat("O", 32)}
	find := func(m map[string]string) Finding {
		for _, f := range Check(Map(m), []Class{vnpay}) {
			if f.Var == "VNPAY_HASH_SECRET_PREVIOUS" {
				return f
			}
		}
		t.Fatal("no finding")
		return Finding{}
	}
	if f := find(base); !errors.Is(f.Err, ErrNoDeadline) || !strings.Contains(f.Err.Error(), "VNPAY_HASH_SECRET_PREVIOUS_UNTIL") {
		t.Errorf("previous without deadline: %v", f.Err)
	}
	if f := find(base); errors.Is(f.Err, ErrBadDeadline) {
		t.Errorf("a missing deadline reported as unreadable: %v", f.Err)
	}
	base["VNPAY_HASH_SECRET_PREVIOUS_UNTIL"] = "tomorrow"
	if f := find(base); !errors.Is(f.Err, ErrBadDeadline) || errors.Is(f.Err, ErrNoDeadline) || !strings.Contains(f.Err.Error(), "VNPAY_HASH_SECRET_PREVIOUS_UNTIL") {
		t.Errorf("bad deadline: %v, want ErrBadDeadline (not ErrNoDeadline) naming the variable", f.Err)
	}
	base["VNPAY_HASH_SECRET_PREVIOUS_UNTIL"] = "2026-11-28T02:00:00+07:00"
	if f := find(base); f.Err != nil || f.Until.IsZero() {
		t.Errorf("good deadline: %+v", f)
	}
}

// A snapshot of a Kubernetes-style directory reads every name from the
// version "..data" named when it was taken, even after a swap: a load never
// mixes a new JWT_SECRET with an old JWT_SECRET_PREVIOUS.
func TestDirSnapshotPinsOneVersion(t *testing.T) {
	dir := t.TempDir()
	version := func(ts string, values map[string]string) {
		d := filepath.Join(dir, ts)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for k, v := range values {
			if err := os.WriteFile(filepath.Join(d, k), []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(dir, k)); err != nil {
				if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", map[string]string{"A": "a1", "B": "b1"})
	snap, err := Snapshot(Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	version("..v2", map[string]string{"A": "a2", "B": "b2", "C": "c2"})
	for name, want := range map[string]string{"A": "a1", "B": "b1", "C": "c2"} {
		if v, ok, err := snap.Lookup(name); err != nil || !ok || v != want {
			t.Errorf("snapshot %s = %q %v %v, want %q", name, v, ok, err, want)
		}
	}
	if v, _, _ := Dir(dir).Lookup("A"); v != "a2" {
		t.Errorf("the live directory reads %q, want a2", v)
	}
	if _, _, err := snap.Lookup("../A"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("snapshot accepts a path: %v", err)
	}
	plain := t.TempDir()
	if s, _ := Snapshot(Dir(plain)); s != Dir(plain) {
		t.Error("a directory without ..data is not returned as it is")
	}
	if s, _ := Snapshot(Map(map[string]string{"A": "x"})); s.String() != "map" {
		t.Error("a non-directory source changed")
	}
}
