package keyedmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
)

const curKey, prevKey = "current-secret-0123456789abcdef", "previous-secret-0123456789abcde"

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func sets() map[string]payment.SecretSet {
	cur, prev := fingerprint.NewSecret([]byte(curKey)), fingerprint.NewSecret([]byte(prevKey))
	return map[string]payment.SecretSet{
		"current only":    {Current: cur},
		"rotating":        {Current: cur, Previous: prev, PreviousUntil: t0.Add(time.Hour)},
		"previous closed": {Current: cur, Previous: prev, PreviousUntil: t0},
		"incident":        {Current: cur, Previous: prev, PreviousUntil: t0.Add(time.Hour), Incident: true},
		"empty":           {},
	}
}

func mac(h func() hash.Hash, key, msg string) []byte {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// TestSetMatchesSecretSet: for both hash functions, every set shape and a
// range of signatures (current, previous, wrong, truncated, uppercase,
// not hex, odd, empty, too long), Set returns what payment.SecretSet
// returns, slot for slot and error for error.
func TestSetMatchesSecretSet(t *testing.T) {
	for hn, h := range map[string]func() hash.Hash{"sha256": sha256.New, "sha512": sha512.New} {
		for _, msg := range []string{"", "m", strings.Repeat("accessKey=a&amount=1", 40)} {
			good, old := mac(h, curKey, msg), mac(h, prevKey, msg)
			sigs := [][]byte{good, old, mac(h, "other", msg), good[:len(good)-1], nil, append(good, 0)}
			hexes := []string{hex.EncodeToString(good), strings.ToUpper(hex.EncodeToString(old)), hex.EncodeToString(good)[1:],
				"zz" + hex.EncodeToString(good)[2:], "", "0g", strings.Repeat("00", 65), hex.EncodeToString(mac(h, "other", msg))}
			for sn, set := range sets() {
				k := NewSet(h, set)
				for _, at := range []time.Time{t0.Add(-time.Minute), t0, t0.Add(2 * time.Hour)} {
					for i, sig := range sigs {
						ws, we := set.VerifyMAC(h, []byte(msg), sig, at)
						gs, ge := k.VerifyMAC([]byte(msg), sig, at)
						if gs != ws || fmt.Sprint(ge) != fmt.Sprint(we) || !errors.Is(ge, we) && we != nil {
							t.Errorf("%s %s sig %d at %v: VerifyMAC = %q %v, SecretSet says %q %v", hn, sn, i, at, gs, ge, ws, we)
						}
					}
					for _, s := range hexes {
						ws, we := set.VerifyHex(h, []byte(msg), s, at)
						gs, ge := k.VerifyHex([]byte(msg), s, at)
						if gs != ws || fmt.Sprint(ge) != fmt.Sprint(we) {
							t.Errorf("%s %s hex %q at %v: VerifyHex = %q %v, SecretSet says %q %v", hn, sn, s, at, gs, ge, ws, we)
						}
						if gs, ge := k.VerifyHexBytes([]byte(msg), []byte(s), at); gs != ws || fmt.Sprint(ge) != fmt.Sprint(we) {
							t.Errorf("%s %s hex %q at %v: VerifyHexBytes = %q %v, SecretSet says %q %v", hn, sn, s, at, gs, ge, ws, we)
						}
					}
				}
			}
		}
	}
}

// TestReuse: a pooled state gives the right MAC again and again, for
// messages of different lengths one after the other (a state left mid-way
// by the previous message would show here), and Sum appends to dst.
func TestReuse(t *testing.T) {
	m := New(sha256.New, fingerprint.NewSecret([]byte(curKey)))
	for i := range 200 {
		msg := strings.Repeat("x", i*7%300)
		want := mac(sha256.New, curKey, msg)
		if !m.Equal([]byte(msg), want) {
			t.Fatalf("round %d: Equal false for the right MAC", i)
		}
		if m.Equal([]byte(msg+"."), want) {
			t.Fatalf("round %d: Equal true for another message", i)
		}
		if got := m.Sum([]byte("p"), []byte(msg)); string(got) != "p"+string(want) {
			t.Fatalf("round %d: Sum = %x", i, got)
		}
	}
	if New(sha256.New, fingerprint.Secret{}) != nil {
		t.Error("New of the empty secret is not nil")
	}
}

// TestConcurrent: goroutines verifying different messages at once each
// get their own state (run with -race).
func TestConcurrent(t *testing.T) {
	k := NewSet(sha256.New, sets()["rotating"])
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				msg := fmt.Sprintf("goroutine %d message %d %s", g, i, strings.Repeat("y", i%90))
				key := curKey
				if i%3 == 0 {
					key = prevKey
				}
				if _, err := k.VerifyMAC([]byte(msg), mac(sha256.New, key, msg), t0); err != nil {
					errs <- fmt.Errorf("goroutine %d message %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRedacted: no verb prints a MAC's or a Set's contents.
func TestRedacted(t *testing.T) {
	k := NewSet(sha256.New, sets()["rotating"])
	k.cur.Equal([]byte("m"), nil) // a warm pool, keyed states inside
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, v := range []any{k, k.cur, *k} {
			out := fmt.Sprintf(f, v)
			if out != "[keyed MAC]" {
				t.Errorf("Sprintf(%s) = %s", f, out)
			}
		}
	}
}

// FuzzVerifyHex: any signature string is accepted exactly when
// payment.SecretSet accepts it, with the same slot and error text.
func FuzzVerifyHex(f *testing.F) {
	set := sets()["rotating"]
	k := NewSet(sha256.New, set)
	good := hex.EncodeToString(mac(sha256.New, curKey, "m"))
	for _, s := range []string{good, strings.ToUpper(good), hex.EncodeToString(mac(sha256.New, prevKey, "m")), "", "0", "zz", good + "00", "0G", "g0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		ws, we := set.VerifyHex(sha256.New, []byte("m"), sig, t0)
		gs, ge := k.VerifyHex([]byte("m"), sig, t0)
		if gs != ws || fmt.Sprint(ge) != fmt.Sprint(we) {
			t.Fatalf("VerifyHex(%q) = %q %v, SecretSet says %q %v", sig, gs, ge, ws, we)
		}
		if gs, ge := k.VerifyHexBytes([]byte("m"), []byte(sig), t0); gs != ws || fmt.Sprint(ge) != fmt.Sprint(we) {
			t.Fatalf("VerifyHexBytes(%q) = %q %v, SecretSet says %q %v", sig, gs, ge, ws, we)
		}
	})
}

// BenchmarkEqualPaired is the keyed MAC (pooled, pads hashed once) next
// to hmac.New per message, the baseline the provider benchmarks use, over
// a 300-byte message: the part of a verifier's gain over that baseline
// that comes from keying once rather than from parsing.
//
//	go test -run '^$' -bench Paired -benchmem ./payment/internal/keyedmac
func BenchmarkEqualPaired(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    func() hash.Hash
	}{{"sha256", sha256.New}, {"sha512", sha512.New}} {
		b.Run(tc.name, func(b *testing.B) {
			msg := []byte(strings.Repeat("k=v&", 75))
			want := mac(tc.h, curKey, string(msg))
			m := New(tc.h, fingerprint.NewSecret([]byte(curKey)))
			key := []byte(curKey)
			var buf [64]byte
			b.ReportAllocs()
			paymenttest.Paired(b, func() {
				if !m.Equal(msg, want) {
					b.Fatal("mismatch")
				}
			}, func() {
				h := hmac.New(tc.h, key)
				h.Write(msg)
				if !hmac.Equal(h.Sum(buf[:0]), want) {
					b.Fatal("mismatch")
				}
			})
		})
	}
}
