package webhook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hugeObject is a body of about a megabyte (DefaultMaxBody) holding one
// object with n short distinct keys, then tail.
func hugeObject(tail string) (string, int) {
	var b strings.Builder
	b.WriteString(`{"data":{`)
	n := 0
	for ; b.Len() < DefaultMaxBody-100; n++ {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strconv.FormatInt(int64(n), 36) + `":0`)
	}
	b.WriteString(tail + `},"signature":"00"}`)
	return b.String(), n
}

// The parser runs before any signature check (Casso and PayOS sign a
// canonical form of the parsed body), so its cost is what an anonymous
// sender can make the receiver pay. Detecting duplicate keys by scanning
// the object for each key took ~37 s of CPU for one 1 MiB body of ~150k
// keys; with a key set it takes well under a second. The bound is two
// orders of magnitude above the fixed cost so it cannot flake under -race.
func TestParseJSONManyKeysIsNotQuadratic(t *testing.T) {
	if testing.Short() {
		t.Skip("parses a 1 MiB body")
	}
	body, n := hugeObject(`,"0":1`) // "0" is the first key: a duplicate found only by a full check
	done := make(chan error, 1)
	go func() {
		_, err := parseJSON([]byte(body))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errDuplicateKey) {
			t.Fatalf("%d keys then a repeat of the first: got %v, want errDuplicateKey", n, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("parsing one object of %d keys took over 20 s: duplicate detection is quadratic", n)
	}

	body, n = hugeObject("")
	v, err := parseJSON([]byte(body))
	if err != nil {
		t.Fatalf("%d distinct keys: %v", n, err)
	}
	if d, ok := v.get("data"); !ok || d.len() != n {
		t.Fatalf("data has %d members, want %d", d.len(), n)
	}
}

// Small objects (scanned linearly) and large ones (key set) refuse a
// repeated key wherever it is.
func TestParseJSONDuplicateKeyAnySize(t *testing.T) {
	for _, size := range []int{1, linearKeys - 1, linearKeys, linearKeys + 1, 3 * linearKeys} {
		for _, dupOf := range []int{0, size / 2, size - 1} {
			var b strings.Builder
			b.WriteByte('{')
			for i := 0; i < size; i++ {
				b.WriteString(`"k` + strconv.Itoa(i) + `":0,`)
			}
			b.WriteString(`"k` + strconv.Itoa(dupOf) + `":1}`)
			if _, err := parseJSON([]byte(b.String())); !errors.Is(err, errDuplicateKey) {
				t.Errorf("%d keys, repeat of key %d: got %v, want errDuplicateKey", size, dupOf, err)
			}
			ok := strings.Replace(b.String(), `"k`+strconv.Itoa(dupOf)+`":1}`, `"other":1}`, 1)
			if _, err := parseJSON([]byte(ok)); err != nil {
				t.Errorf("%d distinct keys: %v", size+1, err)
			}
		}
	}
}

// UTF-8 is checked inside strings as they are scanned (not over the
// whole body first): invalid bytes are refused in a key, in a value, in
// a string with escapes, and outside strings.
func TestParseJSONRefusesInvalidUTF8(t *testing.T) {
	for _, b := range []string{"{\"k\xff\":1}", "{\"k\":\"v\xc3\"}", "{\"k\":\"\\n\xe2\x82\"}", "[1,\xff]", "\xef\xbb\xbf{}"} {
		if _, err := parseJSON([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
	for _, b := range []string{"{\"ké\":\"vé\\n€\"}", `{"k":"\u00e9"}`} {
		if _, err := parseJSON([]byte(b)); err != nil {
			t.Errorf("%q: %v", b, err)
		}
	}
}

// plainRun (eight bytes at a time) stops where a byte-by-byte scan does:
// every byte value at every position, after plain bytes, before others.
func TestPlainRunMatchesByteScan(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				for _, fill := range []byte{'a', 0x00, 0x1f, '"', '\\', 0x7f, 0x80, 0xff} {
					b := make([]byte, n)
					for i := range b {
						b[i] = 'a'
						if i > pos {
							b[i] = fill
						}
					}
					b[pos] = byte(c)
					want := 0
					for want < n && strPlain[b[want]] {
						want++
					}
					if got := plainRun(string(b), 0); got != want {
						t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}

// TestDepthLimitForEveryKind: a member nested maxDepth levels deep is
// read, one level deeper refused, whatever its kind (the object loop
// reads strings and numbers without parseValue's own depth check).
func TestDepthLimitForEveryKind(t *testing.T) {
	for _, leaf := range []string{`"x"`, `-1`, `7`, `true`, `null`, `[]`, `{}`} {
		for n, ok := range map[int]bool{maxDepth: true, maxDepth + 1: false} {
			body := strings.Repeat(`{"a":`, n) + leaf + strings.Repeat(`}`, n)
			_, err := parseJSON([]byte(body))
			if ok != (err == nil) || !ok && !errors.Is(err, errTooDeep) {
				t.Errorf("%s at depth %d: %v", leaf, n, err)
			}
		}
	}
}
