package fieldcrypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/goodgo/rotation/secretenv"
)

func mustRing(t testing.TB, primary string, prev ...string) *fieldcrypt.Keyring {
	t.Helper()
	r, err := fieldcrypt.NewKeyring(primary, prev...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var algs = []fieldcrypt.Algorithm{fieldcrypt.XChaCha20Poly1305, fieldcrypt.AES256GCM}
var forms = []fieldcrypt.Form{fieldcrypt.Binary, fieldcrypt.Text}

func seal(t testing.TB, r *fieldcrypt.Keyring, f fieldcrypt.Form, pt []byte, b fieldcrypt.Binding) []byte {
	t.Helper()
	var out []byte
	var err error
	if f == fieldcrypt.Text {
		out, err = r.EncryptText(nil, pt, b)
	} else {
		out, err = r.Encrypt(nil, pt, b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func open(r *fieldcrypt.Keyring, f fieldcrypt.Form, v []byte, b fieldcrypt.Binding) ([]byte, error) {
	if f == fieldcrypt.Text {
		return r.DecryptText(nil, v, b)
	}
	return r.Decrypt(nil, v, b)
}

func TestRoundTrip(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	bind := fieldcrypt.Binding{Table: "users", Column: "email", Row: "7"}
	for _, alg := range algs {
		var err error
		if r, err = r.WithAlgorithm(alg); err != nil {
			t.Fatal(err)
		}
		for _, f := range forms {
			for _, n := range []int{0, 1, 12, 64, 100, 4096} {
				for _, b := range []fieldcrypt.Binding{{}, bind} {
					name := fmt.Sprintf("%v/%v/%d/bound=%v", alg, f, n, !b.IsZero())
					pt := bytes.Repeat([]byte{0xA5}, n)
					v := seal(t, r, f, pt, b)
					h, err := fieldcrypt.ParseHeader(v, f)
					if err != nil || h.KeyID != r.Primary() || h.Algorithm != alg {
						t.Fatalf("%s: header %+v, %v", name, h, err)
					}
					got, err := open(r, f, v, b)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("%s: got %x, %v", name, got, err)
					}
					if got == nil {
						t.Fatalf("%s: empty plaintext decrypts to nil (NULL), want empty", name)
					}
					// Appending to a non-empty dst keeps its prefix.
					dst := []byte("keep:")
					if f == fieldcrypt.Text {
						got, err = r.DecryptText(dst, v, b)
					} else {
						got, err = r.Decrypt(dst, v, b)
					}
					if err != nil || !bytes.Equal(got, append([]byte("keep:"), pt...)) {
						t.Fatalf("%s: append to dst: %q, %v", name, got, err)
					}
					if f == fieldcrypt.Binary && len(v) != 10+map[fieldcrypt.Algorithm]int{1: 24, 2: 12}[alg]+n+16 {
						t.Fatalf("%s: length %d", name, len(v))
					}
				}
			}
		}
	}
}

// TestNoncesDiffer: two encryptions of one value never look alike.
func TestNoncesDiffer(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	a, _ := r.Encrypt(nil, []byte("same"), fieldcrypt.Binding{})
	b, _ := r.Encrypt(nil, []byte("same"), fieldcrypt.Binding{})
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions are identical")
	}
}

// TestTamperEveryByte flips each bit position of each byte of envelopes of
// both algorithms and forms: every change must fail, with no plaintext.
func TestTamperEveryByte(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t))
	b := fieldcrypt.Binding{Table: "t", Column: "c", Row: "1"}
	pt := []byte("secret national id 0792")
	for _, alg := range algs {
		r, _ = r.WithAlgorithm(alg)
		env := seal(t, r, fieldcrypt.Binary, pt, b)
		for i := range env {
			for bit := 0; bit < 8; bit++ {
				c := slices.Clone(env)
				c[i] ^= 1 << bit
				out, err := r.Decrypt(nil, c, b)
				if err == nil || out != nil {
					t.Fatalf("%v byte %d bit %d: accepted", alg, i, bit)
				}
				var want error
				switch {
				case i == 0:
					want = fieldcrypt.ErrNotEnvelope
				case i >= 1 && i <= 8:
					want = fieldcrypt.ErrUnknownKey
				case i == 9:
					// another algorithm id is either unknown (malformed) or
					// the other algorithm, whose layout then fails to open.
					if !errors.Is(err, fieldcrypt.ErrMalformed) && !errors.Is(err, fieldcrypt.ErrAuthentication) {
						t.Fatalf("byte 9: %v", err)
					}
					continue
				default: // nonce, ciphertext, tag
					want = fieldcrypt.ErrAuthentication
				}
				if !errors.Is(err, want) {
					t.Fatalf("%v byte %d bit %d: %v, want %v", alg, i, bit, err, want)
				}
				if strings.Contains(err.Error(), string(pt)) {
					t.Fatal("error reveals plaintext")
				}
			}
		}
		// The text form: change each base64 character to another symbol.
		text := seal(t, r, fieldcrypt.Text, pt, b)
		for i := len(fieldcrypt.TextPrefix); i < len(text); i++ {
			c := slices.Clone(text)
			if c[i] == 'A' {
				c[i] = 'B'
			} else {
				c[i] = 'A'
			}
			if out, err := r.DecryptText(nil, c, b); err == nil || out != nil {
				t.Fatalf("%v text char %d: accepted", alg, i)
			}
		}
	}
}

func TestWrongBinding(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	b := fieldcrypt.Binding{Table: "users", Column: "email", Row: "7"}
	others := []fieldcrypt.Binding{
		{},
		{Table: "users", Column: "email", Row: "8"},
		{Table: "users", Column: "phone", Row: "7"},
		{Table: "admins", Column: "email", Row: "7"},
		// Length prefixes make these differ even though they concatenate alike.
		{Table: "usersemail", Column: "", Row: "7"},
		{Table: "users", Column: "email7", Row: ""},
		{Table: "user", Column: "semail", Row: "7"},
	}
	for _, f := range forms {
		v := seal(t, r, f, []byte("x"), b)
		for _, o := range others {
			if _, err := open(r, f, v, o); !errors.Is(err, fieldcrypt.ErrAuthentication) {
				t.Fatalf("%v %+v: %v", f, o, err)
			}
		}
		// Sealed without a binding, opened with one.
		u := seal(t, r, f, []byte("x"), fieldcrypt.Binding{})
		if _, err := open(r, f, u, b); !errors.Is(err, fieldcrypt.ErrAuthentication) {
			t.Fatalf("unbound opened with binding: %v", err)
		}
	}
}

func TestWrongKeyAndUnknownKey(t *testing.T) {
	k1, k2 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	r1 := mustRing(t, k1)
	r2 := mustRing(t, k2)
	v := seal(t, r1, fieldcrypt.Binary, []byte("pii"), fieldcrypt.Binding{})
	_, err := r2.Decrypt(nil, v, fieldcrypt.Binding{})
	var ke *fieldcrypt.KeyError
	if !errors.As(err, &ke) || !errors.Is(err, fieldcrypt.ErrUnknownKey) || ke.KeyID != r1.Primary() {
		t.Fatalf("unknown key: %v", err)
	}
	if !strings.Contains(err.Error(), r1.Primary().String()) {
		t.Fatalf("error does not name the key id: %v", err)
	}
	// A damaged id byte also lands here: the advice must not be only "add
	// the key".
	if !strings.Contains(err.Error(), "damaged or forged") {
		t.Fatalf("unknown key error does not say the value may be damaged: %v", err)
	}
	if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), "pii") {
		t.Fatal("error reveals key or plaintext")
	}
	// The right key id with the wrong key behind it: forge the id of k2.
	forged := slices.Clone(v)
	copy(forged[1:9], k2id(t, k2))
	if _, err := r2.Decrypt(nil, forged, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrAuthentication) {
		t.Fatalf("wrong key: %v", err)
	}
	// The key id is the fingerprint of the base64 text (the ticket's).
	s, _ := secretenv.Decode("K", k1, secretenv.FieldKeyRule)
	if r1.Primary().String() != secretenv.TextFingerprint(s, secretenv.FieldKeyRule) {
		t.Fatal("key id is not the text fingerprint")
	}
}

func k2id(t *testing.T, k string) []byte {
	r := mustRing(t, k)
	id := r.Primary()
	return id[:]
}

func TestPreviousKeysDecryptOnly(t *testing.T) {
	old, cur := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	before := mustRing(t, old)
	v := seal(t, before, fieldcrypt.Binary, []byte("v"), fieldcrypt.Binding{})
	after := mustRing(t, cur, old)
	if got, err := after.Decrypt(nil, v, fieldcrypt.Binding{}); err != nil || string(got) != "v" {
		t.Fatalf("previous key does not decrypt: %v", err)
	}
	w := seal(t, after, fieldcrypt.Binary, []byte("w"), fieldcrypt.Binding{})
	if h, _ := fieldcrypt.ParseHeader(w, fieldcrypt.Binary); h.KeyID != after.Primary() {
		t.Fatal("did not encrypt with the primary")
	}
	if got := after.Previous(); len(got) != 1 || got[0] != before.Primary() {
		t.Fatalf("Previous() = %v", got)
	}
}

// TestTruncatedAndExtended: every prefix and every extension is rejected.
func TestTruncatedAndExtended(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	for _, alg := range algs {
		r, _ = r.WithAlgorithm(alg)
		for _, f := range forms {
			v := seal(t, r, f, []byte("0123456789"), fieldcrypt.Binding{})
			for n := 0; n < len(v); n++ {
				if out, err := open(r, f, v[:n], fieldcrypt.Binding{}); err == nil || out != nil {
					t.Fatalf("%v %v truncated to %d accepted", alg, f, n)
				}
			}
			for _, ext := range []string{"\x00", "A", "AAAA", "====", "\n", " "} {
				if _, err := open(r, f, append(slices.Clone(v), ext...), fieldcrypt.Binding{}); err == nil {
					t.Fatalf("%v %v extended by %q accepted", alg, f, ext)
				}
			}
		}
	}
}

// TestNonCanonical: the same envelope written any other way is rejected.
func TestNonCanonical(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	text := string(seal(t, r, fieldcrypt.Text, []byte("abcde"), fieldcrypt.Binding{})) // 55-byte envelope: "==" padding
	if !strings.HasSuffix(text, "=") {
		t.Fatalf("expected padding in %s", text)
	}
	body := text[4:]
	raw, _ := base64.StdEncoding.DecodeString(body)
	nonzeroPad := func(s string) string {
		const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		i := strings.TrimRight(s, "=")
		last := len(i) - 1
		p := strings.IndexByte(alpha, i[last])
		return i[:last] + string(alpha[p|1]) + s[last+1:]
	}
	cases := map[string]string{
		"upper prefix":       "FC1:" + body,
		"other version":      "fc2:" + body,
		"no prefix":          body,
		"line break":         "fc1:" + body[:8] + "\n" + body[8:],
		"crlf":               "fc1:" + body[:8] + "\r\n" + body[8:],
		"trailing newline":   text + "\n",
		"leading space":      " " + text,
		"no padding":         "fc1:" + strings.TrimRight(body, "="),
		"nonzero pad bits":   "fc1:" + nonzeroPad(body),
		"url alphabet":       "fc1:" + base64.URLEncoding.EncodeToString(raw),
		"raw url no padding": "fc1:" + base64.RawURLEncoding.EncodeToString(raw),
		"double prefix":      "fc1:" + text,
	}
	if base64.URLEncoding.EncodeToString(raw) == body {
		delete(cases, "url alphabet") // no '+' or '/' in this sample
	}
	for name, c := range cases {
		if _, err := r.DecryptText(nil, []byte(c), fieldcrypt.Binding{}); err == nil {
			t.Errorf("%s: accepted %q", name, c)
		}
	}
	// Binary: unknown format byte and algorithm ids.
	bin := seal(t, r, fieldcrypt.Binary, []byte("abcd"), fieldcrypt.Binding{})
	for _, b0 := range []byte{0x00, 0xFB, 0xFD, 0xFF} {
		c := slices.Clone(bin)
		c[0] = b0
		if _, err := r.Decrypt(nil, c, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
			t.Errorf("format byte %#x: %v", b0, err)
		}
	}
	for _, a := range []byte{0x00, 0x03, 0xFF} {
		c := slices.Clone(bin)
		c[9] = a
		if _, err := r.Decrypt(nil, c, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrMalformed) {
			t.Errorf("algorithm %#x: %v", a, err)
		}
	}
	// The binary form is not accepted as text, nor the text form as binary.
	if _, err := r.DecryptText(nil, bin, fieldcrypt.Binding{}); err == nil {
		t.Error("binary accepted as text")
	}
	if _, err := r.Decrypt(nil, []byte(text), fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
		t.Error("text accepted as binary")
	}
}

func TestNotEnvelopeAndLegacy(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	for _, f := range forms {
		if _, err := open(r, f, []byte("plain value"), fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
			t.Fatalf("%v: plaintext: %v", f, err)
		}
		if _, err := open(r, f, []byte{}, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
			t.Fatalf("%v: empty stored value: %v", f, err)
		}
	}
	m := r.WithLegacy(fieldcrypt.Plaintext)
	if got, err := m.DecryptText(nil, []byte("plain value"), fieldcrypt.Binding{}); err != nil || string(got) != "plain value" {
		t.Fatalf("legacy plaintext: %q %v", got, err)
	}
	// A damaged envelope never reaches the legacy decoder.
	v := seal(t, r, fieldcrypt.Binary, []byte("x"), fieldcrypt.Binding{})
	v[len(v)-1] ^= 1
	if _, err := m.Decrypt(nil, v, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrAuthentication) {
		t.Fatalf("damaged envelope with legacy: %v", err)
	}
	// A caller-supplied legacy decoder: reversed bytes stand in for an old scheme.
	rev := func(dst, v []byte) ([]byte, error) {
		if len(v) == 0 {
			return nil, errors.New("legacy: empty")
		}
		for i := len(v) - 1; i >= 0; i-- {
			dst = append(dst, v[i])
		}
		return dst, nil
	}
	out, st, err := r.WithLegacy(rev).Rewrap(nil, []byte("cba"), fieldcrypt.Binary, fieldcrypt.Binding{})
	if err != nil || st != fieldcrypt.Rewrapped {
		t.Fatalf("legacy rewrap: %v %v", st, err)
	}
	if got, _ := r.Decrypt(nil, out, fieldcrypt.Binding{}); string(got) != "abc" {
		t.Fatalf("legacy value became %q", got)
	}
	// The original keyring stays strict.
	if _, _, err := r.Rewrap(nil, []byte("cba"), fieldcrypt.Binary, fieldcrypt.Binding{}); !errors.Is(err, fieldcrypt.ErrNotEnvelope) {
		t.Fatalf("strict keyring accepted legacy: %v", err)
	}
}

func TestNullVersusEmpty(t *testing.T) {
	old, cur := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	r := mustRing(t, cur, old)
	o := mustRing(t, old)
	// NULL stays NULL.
	out, st, err := r.Rewrap(nil, nil, fieldcrypt.Binary, fieldcrypt.Binding{})
	if st != fieldcrypt.Null || out != nil || err != nil {
		t.Fatalf("NULL: %v %v %v", out, st, err)
	}
	// The empty string is encrypted and rewrapped like any value.
	for _, f := range forms {
		v := seal(t, o, f, []byte{}, fieldcrypt.Binding{})
		if len(v) == 0 {
			t.Fatal("empty string stored as empty")
		}
		nv, st, err := r.Rewrap(nil, v, f, fieldcrypt.Binding{})
		if st != fieldcrypt.Rewrapped || err != nil {
			t.Fatalf("%v empty: %v %v", f, st, err)
		}
		got, err := open(r, f, nv, fieldcrypt.Binding{})
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%v empty decrypts to %v, %v", f, got, err)
		}
	}
}

func TestRewrapAndIterator(t *testing.T) {
	old, cur, gone := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	ro, rc, rg := mustRing(t, old), mustRing(t, cur, old), mustRing(t, gone)
	cells := []fieldcrypt.Cell{
		{Table: "u", Column: "c", Row: "1", Bound: true, Value: seal(t, ro, fieldcrypt.Binary, []byte("one"), fieldcrypt.Binding{Table: "u", Column: "c", Row: "1"})},
		{Table: "u", Column: "c", Row: "2", Value: seal(t, rc, fieldcrypt.Binary, []byte("two"), fieldcrypt.Binding{})},
		{Table: "u", Column: "c", Row: "3", Value: nil},
		{Table: "u", Column: "c", Row: "4", Value: seal(t, rg, fieldcrypt.Binary, []byte("four"), fieldcrypt.Binding{})},
		{Table: "u", Column: "t", Row: "5", Form: fieldcrypt.Text, Value: seal(t, ro, fieldcrypt.Text, []byte("five"), fieldcrypt.Binding{})},
		// Moved from row 1 to row 6: the binding refuses it.
		{Table: "u", Column: "c", Row: "6", Bound: true, Value: seal(t, ro, fieldcrypt.Binary, []byte("one"), fieldcrypt.Binding{Table: "u", Column: "c", Row: "1"})},
	}
	want := []fieldcrypt.RewrapResult{fieldcrypt.Rewrapped, fieldcrypt.UpToDate, fieldcrypt.Null, fieldcrypt.Failed, fieldcrypt.Rewrapped, fieldcrypt.Failed}
	i := 0
	for res := range rc.Reencrypt(slices.Values(cells)) {
		if res.Outcome != want[i] {
			t.Fatalf("cell %d: %v (%v), want %v", i, res.Outcome, res.Err, want[i])
		}
		switch res.Outcome {
		case fieldcrypt.Rewrapped:
			got, err := open(rc, res.Form, res.New, res.Binding())
			if err != nil || string(got) != map[string]string{"1": "one", "5": "five"}[res.Row] {
				t.Fatalf("row %s: %q %v", res.Row, got, err)
			}
			if h, _ := fieldcrypt.ParseHeader(res.New, res.Form); h.KeyID != rc.Primary() {
				t.Fatal("not under the primary")
			}
		case fieldcrypt.Failed:
			if res.Err == nil || res.New != nil {
				t.Fatal("failed without error or with a value")
			}
		default:
			if res.New != nil {
				t.Fatal("new value for an unchanged cell")
			}
		}
		i++
	}
	if i != len(cells) {
		t.Fatalf("iterated %d cells", i)
	}
	// Breaking out of the loop stops the iteration.
	n := 0
	for range rc.Reencrypt(slices.Values(cells)) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("break ignored")
	}
}

func TestKeyringFromSource(t *testing.T) {
	k1, k2, k3 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	r, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{
		fieldcrypt.EnvKey: k1, fieldcrypt.EnvKeyPrevious: k2 + "," + k3,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous()) != 2 || r.Primary() != mustRing(t, k1).Primary() {
		t.Fatalf("ring %v", r)
	}
	bad := map[string]map[string]string{
		"missing":          {},
		"not base64":       {fieldcrypt.EnvKey: "not base64 at all!"},
		"16 bytes":         {fieldcrypt.EnvKey: base64.StdEncoding.EncodeToString(make([]byte, 16))},
		"primary repeated": {fieldcrypt.EnvKey: k1, fieldcrypt.EnvKeyPrevious: k2 + "," + k1},
		"stray comma":      {fieldcrypt.EnvKey: k1, fieldcrypt.EnvKeyPrevious: k2 + ","},
		"bad previous":     {fieldcrypt.EnvKey: k1, fieldcrypt.EnvKeyPrevious: k2[:20]},
	}
	for name, m := range bad {
		_, err := fieldcrypt.LoadKeyring(secretenv.Map(m))
		var se *secretenv.Error
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v", name, err)
		}
		for _, k := range []string{k1, k2, k2[:20]} {
			if strings.Contains(err.Error(), k) {
				t.Fatalf("%s: error reveals a key: %v", name, err)
			}
		}
	}
	// Nothing that prints a keyring shows a key.
	for _, s := range []string{r.String(), fmt.Sprintf("%v %+v %s", r, r, r)} {
		for _, k := range []string{k1, k2, k3} {
			if strings.Contains(s, k) {
				t.Fatalf("printing reveals a key: %s", s)
			}
		}
	}
	if _, err := r.WithAlgorithm(fieldcrypt.Algorithm(9)); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

// TestLoadKeyringEnv: LoadKeyringEnv reads the process environment, key for
// key as LoadKeyring reads any other source (the Env suffix, as
// jwtkeys.OpenEnv).
func TestLoadKeyringEnv(t *testing.T) {
	k1, k2, k3, k4 := fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t), fieldcrypttest.NewKey(t)
	vars := map[string]string{fieldcrypt.EnvKey: k1, fieldcrypt.EnvKeyNext: k4, fieldcrypt.EnvKeyPrevious: k2 + "," + k3}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	want, err := fieldcrypt.LoadKeyring(secretenv.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() (*fieldcrypt.Keyring, error){
		"LoadKeyringEnv": fieldcrypt.LoadKeyringEnv,
	} {
		got, err := load()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		next, _ := got.Next()
		wantNext, _ := want.Next()
		if got.String() != want.String() || got.Primary() != want.Primary() || next != wantNext || !slices.Equal(got.Previous(), want.Previous()) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
	}
	// The environment is the only source: without FIELD_ENCRYPTION_KEY the
	// load fails and names the variable.
	t.Setenv(fieldcrypt.EnvKey, "")
	if _, err := fieldcrypt.LoadKeyringEnv(); err == nil || !strings.Contains(err.Error(), fieldcrypt.EnvKey) {
		t.Fatalf("without %s: %v", fieldcrypt.EnvKey, err)
	}
}

func TestParseKeyIDAndPrefix(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	id, err := fieldcrypt.ParseKeyID(r.Primary().String())
	if err != nil || id != r.Primary() {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "0123", "0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdef0"} {
		if _, err := fieldcrypt.ParseKeyID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, alg := range algs {
		r, _ = r.WithAlgorithm(alg)
		for _, f := range forms {
			v := seal(t, r, f, []byte("x"), fieldcrypt.Binding{})
			if !bytes.HasPrefix(v, r.Primary().Prefix(f)) {
				t.Fatalf("%v %v: %x lacks prefix %x", alg, f, v, r.Primary().Prefix(f))
			}
		}
	}
	if len(r.Primary().Prefix(fieldcrypt.Text)) != 16 {
		t.Fatal("text prefix is not 16 characters")
	}
}

// TestRewrapResultString pins the outcome names reports print: UpToDate is
// "up_to_date", never a second meaning of "current" (the slot's name).
func TestRewrapResultString(t *testing.T) {
	for st, want := range map[fieldcrypt.RewrapResult]string{
		fieldcrypt.UpToDate:  "up_to_date",
		fieldcrypt.Rewrapped: "rewrapped",
		fieldcrypt.Null:      "null",
		fieldcrypt.Failed:    "failed",
		9:                    "RewrapResult(9)",
	} {
		if got := st.String(); got != want {
			t.Errorf("RewrapResult(%d).String() = %q, want %q", uint8(st), got, want)
		}
	}
}

// TestWithCopies: a Keyring never changes; WithAlgorithm and WithRand return
// configured copies, so a keyring already shared keeps its algorithm.
func TestWithCopies(t *testing.T) {
	r := mustRing(t, fieldcrypttest.NewKey(t))
	aes, err := r.WithAlgorithm(fieldcrypt.AES256GCM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ring *fieldcrypt.Keyring
		want fieldcrypt.Algorithm
	}{{r, fieldcrypt.XChaCha20Poly1305}, {aes, fieldcrypt.AES256GCM}} {
		v, err := tc.ring.Encrypt(nil, []byte("x"), fieldcrypt.Binding{})
		if err != nil {
			t.Fatal(err)
		}
		if h, err := fieldcrypt.ParseHeader(v, fieldcrypt.Binary); err != nil || h.Algorithm != tc.want {
			t.Fatalf("header %+v, %v; want %v", h, err, tc.want)
		}
	}
	fixed := r.WithRand(bytes.NewReader(make([]byte, 64)))
	a, _ := fixed.Encrypt(nil, []byte("x"), fieldcrypt.Binding{})
	b, _ := r.Encrypt(nil, []byte("x"), fieldcrypt.Binding{})
	if bytes.Equal(a, b) {
		t.Fatal("WithRand changed the original keyring's nonce source")
	}
}
