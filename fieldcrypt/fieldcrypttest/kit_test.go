package fieldcrypttest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/goodgo/rotation/secretenv"
)

var b = fieldcrypt.Binding{Table: "users", Column: "phone", Row: "42"}

func open(kr *fieldcrypt.Keyring, v []byte, f fieldcrypt.Form, b fieldcrypt.Binding) ([]byte, error) {
	if f == fieldcrypt.Text {
		return kr.DecryptText(nil, v, b)
	}
	return kr.Decrypt(nil, v, b)
}

func TestStagesDecryptWhatTheyMust(t *testing.T) {
	rot := fieldcrypttest.NewRotation(t)
	msg := []byte("0901234567")
	for _, f := range []fieldcrypt.Form{fieldcrypt.Binary, fieldcrypt.Text} {
		old := rot.Seal(t, rot.Old, msg, f, b)
		neu := rot.Seal(t, rot.New, msg, f, b)
		for _, c := range []struct {
			stage    string
			kr       *fieldcrypt.Keyring
			old, neu bool
			primary  string
		}{
			{"before", rot.Before(t), true, false, rot.Old},
			{"staged", rot.Staged(t), true, true, rot.Old},
			{"promoted", rot.Promoted(t), true, true, rot.New},
			{"after", rot.After(t), false, true, rot.New},
		} {
			for _, v := range []struct {
				name string
				val  []byte
				want bool
			}{{"old", old, c.old}, {"new", neu, c.neu}} {
				got, err := open(c.kr, v.val, f, b)
				if v.want && (err != nil || !bytes.Equal(got, msg)) {
					t.Errorf("%v %s: %s value: %v", f, c.stage, v.name, err)
				}
				if !v.want && !errors.Is(err, fieldcrypt.ErrUnknownKey) {
					t.Errorf("%v %s: %s value: %v, want ErrUnknownKey", f, c.stage, v.name, err)
				}
			}
			if c.kr.Primary() != fieldcrypttest.ID(t, c.primary) {
				t.Errorf("%s: wrong primary", c.stage)
			}
			env, err := fieldcrypt.LoadKeyring(secretenv.Map(rot.Env(c.stage)))
			if err != nil || env.Primary() != c.kr.Primary() || len(env.Previous()) != len(c.kr.Previous()) {
				t.Errorf("%s: Env does not describe the same keyring: %v", c.stage, err)
			}
		}
	}
}

func TestDamagedValuesAreRefused(t *testing.T) {
	rot := fieldcrypttest.NewRotation(t)
	kr := rot.Promoted(t)
	for _, f := range []fieldcrypt.Form{fieldcrypt.Binary, fieldcrypt.Text} {
		for _, msg := range [][]byte{[]byte("0901234567"), {}} {
			ds := rot.Damaged(t, msg, f, b)
			if len(ds) < 12 {
				t.Fatalf("only %d damaged values", len(ds))
			}
			for _, d := range ds {
				got, err := open(kr, d.Value, f, b)
				if !errors.Is(err, d.Err) || got != nil {
					t.Errorf("%v %q (%d bytes plaintext): %v, want %v", f, d.Name, len(msg), err, d.Err)
				}
			}
		}
	}
}

func TestUnsafeDeterministic(t *testing.T) {
	rot := fieldcrypttest.NewRotation(t)
	seal := func(seed string) []byte {
		kr := rot.After(t)
		kr = kr.WithRand(fieldcrypttest.UnsafeDeterministic(seed))
		return fieldcrypttest.Seal(t, kr, []byte("x"), fieldcrypt.Text, b)
	}
	if !bytes.Equal(seal("golden"), seal("golden")) {
		t.Error("same seed, different envelopes")
	}
	if bytes.Equal(seal("golden"), seal("other")) {
		t.Error("different seeds, same envelope")
	}
	kr := rot.After(t)
	kr = kr.WithRand(fieldcrypttest.UnsafeDeterministic("golden"))
	a := fieldcrypttest.Seal(t, kr, []byte("x"), fieldcrypt.Binary, b)
	c := fieldcrypttest.Seal(t, kr, []byte("x"), fieldcrypt.Binary, b)
	if bytes.Equal(a, c) {
		t.Error("two values from one deterministic source share a nonce")
	}
}
