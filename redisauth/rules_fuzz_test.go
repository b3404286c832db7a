package redisauth

import (
	"errors"
	"testing"
)

// FuzzParseACLLine: the ACL LIST parser never panics, refuses with
// ErrUnreproducible, and what it accepts renders back to a line it parses
// to the same model.
func FuzzParseACLLine(f *testing.F) {
	for _, s := range []string{
		"user alice on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~foo* %R~bar resetchannels &ch* -@all +@read -get (~x* resetchannels -@all +set)",
		"user default on nopass sanitize-payload ~* &* +@all",
		"user x off resetchannels -@all",
		"user y on (~a +get) (%W~b &c +set)",
		"user z on ~a(b +get",
		"user  on",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		u, err := parseACLLine(line)
		if err != nil {
			if !errors.Is(err, ErrUnreproducible) {
				t.Fatalf("error not ErrUnreproducible: %v", err)
			}
			return
		}
		v, err := parseACLLine(u.describe(false))
		if err != nil {
			t.Fatalf("rendered line refused: %q: %v", u.describe(false), err)
		}
		if w := sameModel(u, v); w != "" {
			t.Fatalf("round trip differs in %s: %q → %q", w, line, u.describe(false))
		}
	})
}

func TestGetUserRedis6(t *testing.T) {
	// Redis 6.2's ACL GETUSER shape: allkeys/allchannels flags, arrays.
	reply := []any{"flags", []any{"on", "allkeys", "allchannels"}, "passwords", []any{}, "commands", "+@all", "keys", []any{}, "channels", []any{}}
	u, err := fromGetUser("app", reply)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := parseACLLine("user app on ~* &* +@all")
	if w := sameModel(u, want); w != "" {
		t.Fatalf("differs in %s: %+v", w, u)
	}
	reply = []any{"flags", []any{"on"}, "passwords", []any{}, "commands", "-@all +get", "keys", []any{"foo*"}, "channels", []any{"ch"}}
	u, err = fromGetUser("app", reply)
	if err != nil {
		t.Fatal(err)
	}
	want, _ = parseACLLine("user app on ~foo* resetchannels &ch -@all +get")
	if w := sameModel(u, want); w != "" {
		t.Fatalf("differs in %s: %+v", w, u)
	}
	if _, err := fromGetUser("app", []any{"flags", []any{"weird-flag"}}); !errors.Is(err, ErrUnreproducible) {
		t.Fatal(err)
	}
}

// FuzzParseURLCredentials: never panics; its errors never echo the URL.
func FuzzParseURLCredentials(f *testing.F) {
	f.Add("redis://app_v2:s3cr3t@cache:6379/0")
	f.Add("rediss://:pw@h")
	f.Add("redis://u:p@[bad")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, err := ParseURLCredentials(s)
		// The errors are fixed texts: nothing of the input is in them.
		if err != nil && err.Error() != ErrCredentials.Error()+": not a valid redis:// URL (details withheld: it may contain a password)" &&
			err.Error() != ErrCredentials.Error()+": the URL has no password" {
			t.Fatalf("unexpected error text: %d bytes", len(err.Error()))
		}
	})
}
