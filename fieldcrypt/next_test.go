package fieldcrypt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/goodgo/rotation/secretenv"
)

// The staged procedure: NEXT decrypts before any writer encrypts with it, it
// is never listed as previous (so never called retirable), and after the
// promotion the old primary is the previous key.
func TestStagedNextKey(t *testing.T) {
	oldK, newK := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	staged, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{fieldcrypt.EnvKey: oldK, fieldcrypt.EnvKeyNext: newK}))
	if err != nil {
		t.Fatal(err)
	}
	promoted, err := fieldcrypt.NewKeyring(newK, oldK)
	if err != nil {
		t.Fatal(err)
	}
	nextID, ok := staged.Next()
	if !ok || nextID != promoted.Primary() {
		t.Fatalf("Next() = %v, %v; want %v", nextID, ok, promoted.Primary())
	}
	if len(staged.Previous()) != 0 {
		t.Fatalf("the next key must not be a previous key: %v", staged.Previous())
	}
	if got := staged.Slot(nextID); got != "next" {
		t.Fatalf("Slot(next) = %q", got)
	}
	if got := promoted.Slot(staged.Primary()); got != "previous" {
		t.Fatalf("Slot(old) after promotion = %q", got)
	}
	if !strings.Contains(staged.String(), "next="+nextID.String()) {
		t.Fatalf("String() = %s", staged)
	}
	// A writer already promoted; a reader still staged decrypts its value.
	b := fieldcrypt.Binding{Table: "users", Column: "phone", Row: "1"}
	env, err := promoted.EncryptText(nil, []byte("0901234567"), b)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := staged.DecryptText(nil, env, b); err != nil || string(pt) != "0901234567" {
		t.Fatalf("staged reader: %q, %v", pt, err)
	}
	// The staged keyring still encrypts under the old primary.
	env2, _ := staged.EncryptText(nil, []byte("x"), b)
	if h, err := fieldcrypt.ParseHeader(env2, fieldcrypt.Text); err != nil || h.KeyID != staged.Primary() {
		t.Fatalf("staged encrypt: %+v %v", h, err)
	}
	// Same key as primary and next is refused.
	if _, err := fieldcrypt.NewStagedKeyring(oldK, oldK); err == nil {
		t.Fatal("next == primary accepted")
	}
	r, err := fieldcrypt.NewStagedKeyring(oldK, newK)
	if err != nil || r.Slot(nextID) != "next" {
		t.Fatalf("NewStagedKeyring: %v", err)
	}
}

// TestLegacyNeverSeesMarkedValues: FORMAT.md §2–3: only a value without the
// envelope marker may go to a legacy decoder. A text value with the "fc1:"
// marker whose decoded bytes are not a format-1 envelope is malformed, with
// a legacy decoder or without, and its error does not point at WithLegacy.
func TestLegacyNeverSeesMarkedValues(t *testing.T) {
	r, err := fieldcrypt.NewKeyring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	legacy := r.WithLegacy(fieldcrypt.Plaintext)
	marked := []byte("fc1:MDc5MjAxMDAxMjM0") // "fc1:" + base64("079201001234")
	for _, k := range []*fieldcrypt.Keyring{r, legacy} {
		if pt, err := k.DecryptText(nil, marked, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrMalformed) || pt != nil || strings.Contains(err.Error(), "WithLegacy") {
			t.Fatalf("DecryptText(marked) = %q, %v", pt, err)
		}
		if _, st, err := k.Rewrap(nil, marked, fieldcrypt.Text, fieldcrypt.Binding{}); st != fieldcrypt.Failed || !errors.Is(err, fieldcrypt.ErrMalformed) {
			t.Fatalf("Rewrap(marked) = %v, %v", st, err)
		}
		if _, err := fieldcrypt.ParseHeader(marked, fieldcrypt.Text); !errors.Is(err, fieldcrypt.ErrMalformed) {
			t.Fatalf("ParseHeader(marked) = %v", err)
		}
	}
	// Without the marker, the legacy decoder is used, and only then.
	if pt, err := legacy.DecryptText(nil, []byte("079201001234"), fieldcrypt.Binding{}); err != nil || string(pt) != "079201001234" {
		t.Fatalf("legacy plaintext: %q %v", pt, err)
	}
	if _, err := r.DecryptText(nil, []byte("079201001234"), fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
		t.Fatalf("plaintext without legacy: %v", err)
	}
}

// TestKeyErrorsNameTheirSource: NewKeyring's errors name the key by its
// place, not by an environment variable it did not come from; a space in a
// list is named as the problem; no error shows a key.
func TestKeyErrorsNameTheirSource(t *testing.T) {
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	cases := []struct {
		err        func() error
		want, dont string
	}{
		{func() error { _, err := fieldcrypt.NewKeyring("c2hvcnQ="); return err }, "primary key", "FIELD_ENCRYPTION_KEY"},
		{func() error { _, err := fieldcrypt.NewKeyring(k1, k2, "c2hvcnQ="); return err }, "previous key 2", "FIELD_ENCRYPTION_KEY"},
		{func() error { _, err := fieldcrypt.NewStagedKeyring(k1, "c2hvcnQ="); return err }, "next key", "FIELD_ENCRYPTION_KEY"},
		{func() error { _, err := fieldcrypt.NewKeyring(k1, k1); return err }, "previous key 1", "FIELD_ENCRYPTION_KEY"},
		{func() error { _, err := fieldcrypt.NewKeyring(k1, " "+k2); return err }, "contains a space", "FIELD_ENCRYPTION_KEY"},
		{func() error {
			_, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": k1, "FIELD_ENCRYPTION_KEY_PREVIOUS": k2 + ", " + fieldcrypttest.NewKey(t)}))
			return err
		}, "FIELD_ENCRYPTION_KEY_PREVIOUS: not valid standard base64", "@"},
		{func() error {
			_, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{"FIELD_ENCRYPTION_KEY": k1, "FIELD_ENCRYPTION_KEY_PREVIOUS": k2 + ", " + fieldcrypttest.NewKey(t)}))
			return err
		}, "separated by commas only", "@"},
	}
	for i, c := range cases {
		err := c.err()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.dont) {
			t.Errorf("case %d: %v; want %q and no %q", i, err, c.want, c.dont)
			continue
		}
		if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), k2) {
			t.Errorf("case %d: error shows a key", i)
		}
	}
}
