package keygen

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestClasses(t *testing.T) {
	for _, tc := range []struct {
		class      Class
		prefix     string
		textLen    int
		decodedLen int // 0: not base64
	}{
		{JWT, "", 64, 48}, {Webhook, "whsec_", 70, 48}, {Field, "", 44, 32}, {DB, "", 32, 0}, {Redis, "", 32, 0},
	} {
		full, err := New(tc.class)
		if err != nil {
			t.Fatalf("%s: %v", tc.class, err)
		}
		if len(full) != tc.textLen {
			t.Errorf("%s: %d characters, want %d", tc.class, len(full), tc.textLen)
		}
		s, ok := strings.CutPrefix(full, tc.prefix)
		if !ok {
			t.Errorf("%s: %d-character secret does not start with %q", tc.class, len(full), tc.prefix)
		}
		if tc.decodedLen > 0 {
			b, err := base64.StdEncoding.Strict().DecodeString(s)
			if err != nil || len(b) != tc.decodedLen {
				t.Errorf("%s: decodes to %d bytes (%v), want %d", tc.class, len(b), err, tc.decodedLen)
			}
		} else if strings.Trim(s, passwordAlphabet) != "" {
			t.Errorf("%s: %q has characters outside [A-Za-z0-9]", tc.class, s)
		}
		if again, _ := New(tc.class); again == full {
			t.Errorf("%s: two calls gave the same secret", tc.class)
		}
	}
}

func TestUnknownClass(t *testing.T) {
	if _, err := New("ssh"); !errors.Is(err, ErrUnknownClass) {
		t.Fatalf("err = %v", err)
	}
}

func TestFailingRandomIsAnError(t *testing.T) {
	for _, c := range Classes() {
		for _, r := range []io.Reader{iotest.ErrReader(errors.New("entropy gone")), bytes.NewReader(make([]byte, 5))} {
			s, err := NewFrom(r, c)
			if !errors.Is(err, ErrRandom) || s != "" {
				t.Errorf("%s: got %q, %v; want ErrRandom and no secret", c, s, err)
			}
		}
	}
}

// TestPasswordUniform draws many characters and checks that none of the 62
// is far from its expected count (rejection sampling removes modulo bias).
func TestPasswordUniform(t *testing.T) {
	const n = 62 * 2000
	s, err := Password(bytes.NewReader(nil), 0)
	if err != nil || s != "" {
		t.Fatalf("empty password: %q %v", s, err)
	}
	// A deterministic source covering every byte value equally: without
	// rejection the first 8 symbols would get 5/4 of the others' share.
	src := make([]byte, 0, 256*600)
	for i := 0; i < 600; i++ {
		for b := 0; b < 256; b++ {
			src = append(src, byte(b))
		}
	}
	s, err = Password(bytes.NewReader(src), n)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	for _, r := range passwordAlphabet {
		if c := counts[r]; c < n/62*9/10 || c > n/62*11/10 {
			t.Errorf("%q drawn %d times, want about %d", r, c, n/62)
		}
	}
}
