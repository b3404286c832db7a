package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// mutate applies one edit to b: op%3 = 0 replace, 1 insert, 2 delete the
// byte at pos%len.
func mutate(b []byte, pos uint, op uint8, c byte) []byte {
	out := append([]byte(nil), b...)
	if len(out) == 0 {
		return append(out, c)
	}
	i := int(pos % uint(len(out)))
	switch op % 3 {
	case 0:
		out[i] = c
	case 1:
		out = append(out[:i], append([]byte{c}, out[i:]...)...)
	default:
		out = append(out[:i], out[i+1:]...)
	}
	return out
}

// FuzzStandardTamper: sign (id, ts, body) with both secrets of a rotation,
// then verify a modified id, timestamp or body: only identical bytes pass.
func FuzzStandardTamper(f *testing.F) {
	f.Add("msg_1", []byte(body), "msg_1", int64(0), []byte(body))
	f.Add("msg_1", []byte(body), "msg_1", int64(1), []byte(body))
	f.Add("msg_1", []byte(body), "msg_", int64(0), []byte("1"+body))
	f.Add("a.1", []byte("x"), "a", int64(0), []byte("1.x"))
	s := must(NewSigner(rotating(), WithClock(fixed(t0))))
	v := must(NewVerifier(rotating(), WithoutIdempotency(), WithClock(fixed(t0))))
	f.Fuzz(func(t *testing.T, id string, b []byte, id2 string, dts int64, b2 []byte) {
		sig, err := s.Sign(id, t0, b)
		if err != nil {
			return // invalid id: refused at signing
		}
		ts := t0.Unix() + dts%1000
		m, err := v.VerifyParts(id2, itoa(ts), sig, b2)
		same := id == id2 && ts == t0.Unix() && bytes.Equal(b, b2)
		if err == nil && !same {
			t.Fatalf("modified message accepted: %q %d %q", id2, ts, b2)
		}
		if same && (err != nil || m.Slot != secretenv.SlotCurrent) {
			t.Fatalf("unmodified message refused: %v", err)
		}
	})
}

// FuzzStandardSignatureHeader: any webhook-signature value; no panic, and
// accepted only when it carries the genuine v1 entry.
func FuzzStandardSignatureHeader(f *testing.F) {
	s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	good := must(s.Sign("msg_1", t0, []byte(body)))
	f.Add(good)
	f.Add("v1a,abc " + good)
	f.Add("v1," + good[3:] + "  v2,xyz")
	f.Add("v1,,,, v1")
	f.Add(strings.Repeat("v1,AAAA", 100))
	v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	f.Fuzz(func(t *testing.T, sig string) {
		_, err := v.VerifyParts("msg_1", itoa(t0.Unix()), sig, []byte(body))
		genuine := len(sig) <= MaxSignatureHeaderLen && (strings.HasPrefix(sig, good+" ") || sig == good ||
			strings.Contains(sig, " "+good+" ") || strings.HasSuffix(sig, " "+good))
		if (err == nil) != genuine {
			t.Fatalf("%q: err=%v genuine=%v", sig, err, genuine)
		}
	})
}

func FuzzCassoHeader(f *testing.F) {
	f.Add(cassoSampleHeader)
	f.Add("t=1,v1=" + strings.Repeat("0", 128) + ",v1=zz")
	f.Add("t=,v1=")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, h string) {
		ch, err := parseCassoHeader(h)
		if err != nil {
			return
		}
		if ch.t == "" || ch.ms < 0 || len(ch.sigs) == 0 || len(h) > MaxSignatureHeaderLen {
			t.Fatalf("accepted %q as %+v", h, ch)
		}
		c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt))))
		// Hex is compared as bytes, so case does not matter.
		if _, err := c.Verify(h, []byte(cassoSampleBody)); err == nil &&
			!strings.Contains(strings.ToLower(h), cassoSampleHeader[strings.Index(cassoSampleHeader, "v1="):]) {
			t.Fatalf("forged header accepted: %q", h)
		}
	})
}

// FuzzCassoTamper: a body Casso signed, modified by one byte edit; if the
// receiver still accepts it, it must mean exactly the same thing: same
// canonical JSON, same event.
func FuzzCassoTamper(f *testing.F) {
	f.Add([]byte(cassoSampleBody), uint(10), uint8(0), byte('1'))
	f.Add([]byte(cassoTrickyBody), uint(100), uint8(1), byte('\\'))
	f.Add([]byte(`{"data":{"amount":1.0,"description":"a\u0026b"},"error":0}`), uint(20), uint8(2), byte(' '))
	key := []byte(cassoSampleKey)
	c := must(NewCasso(payment.SecretSet{Current: secret(cassoSampleKey)}, WithoutIdempotency(), WithClock(fixed(cassoAt))))
	f.Fuzz(func(t *testing.T, orig []byte, pos uint, op uint8, ch byte) {
		h, err := CassoSignature(key, cassoAt, orig)
		if err != nil {
			return
		}
		ev1, err1 := c.Verify(h, orig)
		mut := mutate(orig, pos, op, ch)
		ev2, err2 := c.Verify(h, mut)
		if err2 != nil {
			return
		}
		if err1 != nil {
			t.Fatalf("mutated body accepted while the original was refused (%v): %q", err1, mut)
		}
		r1, _ := parseJSON(orig)
		r2, _ := parseJSON(mut)
		if !bytes.Equal(appendCanonical(nil, r1, true), appendCanonical(nil, r2, true)) {
			t.Fatalf("accepted a body with a different canonical form: %q", mut)
		}
		ev1.Body, ev2.Body = nil, nil
		if !reflect.DeepEqual(ev1, ev2) {
			t.Fatalf("accepted a body with a different meaning:\n%+v\n%+v", ev1, ev2)
		}
	})
}

// FuzzPayOSTamper: same property for PayOS bodies.
func FuzzPayOSTamper(f *testing.F) {
	sampleData := payosSampleBody[strings.Index(payosSampleBody, `"data":`)+7 : strings.Index(payosSampleBody, `,"signature"`)]
	f.Add([]byte(sampleData), uint(5), uint8(0), byte('9'))
	f.Add([]byte(payosTrickyData), uint(50), uint8(1), byte('&'))
	f.Add([]byte(`{"a":"null","b":null,"amount":1}`), uint(6), uint8(2), byte(0))
	f.Add([]byte(`{"a":"x&","b":"=1"}`), uint(8), uint8(2), byte(0))
	key := []byte(payosSampleKey)
	p := must(NewPayOS(payment.SecretSet{Current: secret(payosSampleKey)}, WithoutIdempotency()))
	f.Fuzz(func(t *testing.T, data []byte, pos uint, op uint8, ch byte) {
		sig, err := PayOSSignature(key, data)
		if err != nil {
			return
		}
		orig := []byte(payosWebhook(string(data), sig))
		ev1, err1 := p.Verify(orig)
		mut := mutate(orig, pos, op, ch)
		ev2, err2 := p.Verify(mut)
		if err2 != nil {
			return
		}
		if err1 != nil {
			t.Fatalf("mutated body accepted while the original was refused (%v): %q", err1, mut)
		}
		if !reflect.DeepEqual(ev1, ev2) {
			t.Fatalf("accepted a body with a different meaning:\n%q\n%+v\n%+v", mut, ev1, ev2)
		}
	})
}

// FuzzParseJSON: the strict parser never panics, accepts only valid JSON,
// and its canonical output is valid JSON that canonicalises to itself.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{cassoSampleBody, cassoTrickyBody, payosSampleBody, payosTrickyData, `[1,2.5e-3,-0,"\ud83d\ude00"]`, `"\u2028"`, `{"a":{"a":{"a":[]}}}`, `1e400`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseJSON(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		for _, sorted := range []bool{false, true} {
			c := appendCanonical(nil, v, sorted)
			if !json.Valid(c) {
				t.Fatalf("canonical form is not JSON: %q", c)
			}
			v2, err := parseJSON(c)
			if err != nil {
				t.Fatalf("canonical form %q refused: %v", c, err)
			}
			if c2 := appendCanonical(nil, v2, sorted); !bytes.Equal(c, c2) {
				t.Fatalf("not idempotent: %q → %q", c, c2)
			}
		}
	})
}

// FuzzStandardHeaders: arbitrary webhook-id and webhook-timestamp values
// with a genuine signature; no panic, accepted only for the signed ones.
func FuzzStandardHeaders(f *testing.F) {
	s := must(NewSigner(payment.SecretSet{Current: secret(newSecret)}))
	good := must(s.Sign("msg_1", t0, []byte(body)))
	ts := itoa(t0.Unix())
	f.Add("msg_1", ts)
	f.Add("msg_1", "0"+ts)
	f.Add("msg_1", ts+" ")
	f.Add("msg_1\x00", "+"+ts)
	f.Add("", "")
	v := must(NewVerifier(payment.SecretSet{Current: secret(newSecret)}, WithoutIdempotency(), WithClock(fixed(t0))))
	f.Fuzz(func(t *testing.T, id, tsText string) {
		m, err := v.VerifyParts(id, tsText, good, []byte(body))
		if err != nil {
			return
		}
		if id != "msg_1" || tsText != ts || m.Timestamp.Unix() != t0.Unix() {
			t.Fatalf("accepted id %q timestamp %q", id, tsText)
		}
	})
}

// FuzzParseJSONMatchesEncodingJSON: what the strict parser accepts,
// encoding/json reads to the same value (numbers compared as their
// literals); what it refuses that encoding/json reads is refused for one
// of its strictness rules only: a repeated key, invalid UTF-8, a lone
// surrogate escape, nesting past maxDepth, a number beyond float64.
func FuzzParseJSONMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{cassoSampleBody, cassoTrickyBody, payosSampleBody, payosTrickyData, `{"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"}`,
		`{"a":1,"a":2}`, "\"\xff\"", `"\ud800"`, `1e400`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, ` -0.5e-3 `, `{"k":"a\"b\\c/\b\f\n\r\t"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseJSON(b)
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		wantErr := d.Decode(&want)
		if wantErr == nil && d.More() {
			wantErr = errors.New("trailing data")
		}
		if wantErr == nil {
			var rest json.RawMessage
			if d.Decode(&rest) != io.EOF {
				wantErr = errors.New("trailing data")
			}
		}
		if err != nil {
			if wantErr == nil && !errors.Is(err, errDuplicateKey) && !errors.Is(err, errUTF8) && !errors.Is(err, errSurrogate) &&
				!errors.Is(err, errTooDeep) && !(errors.Is(err, errJSON) && bytes.ContainsAny(b, "eE")) {
				t.Fatalf("%q: refused (%v), encoding/json reads %#v", b, err, want)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("%q: accepted, encoding/json: %v", b, wantErr)
		}
		if got := plain(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
		}
		checkNumbers(t, v)
	})
}

// checkNumbers fails unless every number in v holds exactly what
// strconv.ParseFloat reads from its literal (-0 included): num's integer
// fast path must not change a value.
func checkNumbers(t *testing.T, v jvalue) {
	switch v.kind {
	case jNum:
		want, err := strconv.ParseFloat(v.s, 64)
		if err != nil || math.Float64bits(v.f) != math.Float64bits(want) {
			t.Fatalf("number %s read as %v (%x), ParseFloat %v (%x) %v", v.s, v.f, math.Float64bits(v.f), want, math.Float64bits(want), err)
		}
	case jArr, jObj:
		for i := range v.len() {
			_, el := v.member(i)
			checkNumbers(t, el)
		}
	}
}

func TestNumbersAsParseFloat(t *testing.T) {
	for _, lit := range []string{"0", "-0", "7", "-7", "3000", "123456789012345", "-999999999999999", "1234567890123456", "9007199254740993",
		"12345678901234567890", "1.5", "-0.0", "1e3", "-0e0", "100000000000000000000000"} {
		v, err := parseJSON([]byte(`[` + lit + `]`))
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		checkNumbers(t, v)
	}
}

// plain turns v into what encoding/json decodes with UseNumber.
func plain(v jvalue) any {
	switch v.kind {
	case jNull:
		return nil
	case jBool:
		return v.b
	case jNum:
		return json.Number(v.s)
	case jStr:
		return v.s
	case jArr:
		out := []any{}
		for i := range v.len() {
			_, el := v.member(i)
			out = append(out, plain(el))
		}
		return out
	}
	out := map[string]any{}
	for i := range v.len() {
		k, el := v.member(i)
		out[k] = plain(el)
	}
	return out
}
