package vnpay

import (
	"strings"
	"testing"
)

// FuzzVerifyIPN feeds arbitrary raw queries to VerifyIPN. It must never
// panic, and whatever it accepts must carry exactly the parameters that were
// signed (the seeds are the only signed messages): no modified field passes.
func FuzzVerifyIPN(f *testing.F) {
	c := demoClient(f, current(demoSecret), nil, vecCreateDate)
	good := signWith(demoSecret, ipnParams())
	signed := map[string]bool{HashData(ipnParams()): true, vecIPN.hashData: true}
	for _, s := range []string{
		good, vecIPN.hashData + "&vnp_SecureHash=" + vecIPN.sig, "act=1&" + good, good + "&vnp_SecureHashType=SHA512",
		strings.ReplaceAll(good, "+", "%20"), strings.ToUpper(good), good + "&vnp_Amount=1", "vnp_A=%zz", "", "&", "=",
		"vnp_SecureHash", strings.Replace(good, "vnp_Amount=1806000", "vnp_Amount=1806001", 1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := c.VerifyIPN(raw)
		if err != nil {
			return
		}
		if got := HashData(n.Params); !signed[got] {
			t.Fatalf("accepted parameters that were never signed: %q", got)
		}
	})
}

// FuzzTamper signs a typical IPN, changes one parameter to an arbitrary
// value (or adds one), keeps the signature, and expects a refusal unless the
// change leaves the signed string identical.
func FuzzTamper(f *testing.F) {
	c := demoClient(f, current(demoSecret), nil, vecCreateDate)
	orig := ipnParams()
	good := signWith(demoSecret, orig)
	sig := good[strings.LastIndex(good, "=")+1:]
	keys := []string{"vnp_Amount", "vnp_BankCode", "vnp_OrderInfo", "vnp_ResponseCode", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionStatus", "vnp_New"}
	f.Add(uint8(0), "1806001")
	f.Add(uint8(2), "Thanh toán đơn hàng 5 ")
	f.Add(uint8(3), "00")
	f.Add(uint8(7), "")
	f.Add(uint8(7), "x")
	f.Fuzz(func(t *testing.T, i uint8, v string) {
		p := ipnParams()
		p[keys[int(i)%len(keys)]] = v
		d := HashData(p)
		_, err := c.VerifyIPN(d + "&vnp_SecureHash=" + sig)
		if err == nil && d != HashData(orig) {
			t.Fatalf("modified IPN accepted: %q", d)
		}
	})
}

// FuzzAPIResponse feeds arbitrary JSON to the querydr and refund response
// verifiers: no panic, and nothing but the signed response accepted.
func FuzzAPIResponse(f *testing.F) {
	c := demoClient(f, current(demoSecret), nil, vecCreateDate)
	body := `{"vnp_ResponseId":"RESP-2","vnp_Command":"refund","vnp_ResponseCode":"00","vnp_Message":"Refund success",` +
		`"vnp_TmnCode":"DEMOV210","vnp_TxnRef":"5","vnp_Amount":"1806000","vnp_BankCode":"NCB","vnp_PayDate":"20210802090100",` +
		`"vnp_TransactionNo":"14422575","vnp_TransactionType":"02","vnp_TransactionStatus":"05","vnp_OrderInfo":"Hoan tien GD 5",` +
		`"vnp_SecureHash":"` + vecRefundResp + `"}`
	f.Add([]byte(body))
	f.Add([]byte(strings.Replace(body, `"1806000"`, `1806000`, 1)))
	f.Add([]byte(`{"vnp_Amount":1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := c.VerifyRefundResponse(b); err == nil {
			if RefundResponseHashData(r) != "RESP-2|refund|00|Refund success|DEMOV210|5|1806000|NCB|20210802090100|14422575|02|05|Hoan tien GD 5" {
				t.Fatalf("accepted a response that was never signed: %+v", r)
			}
		}
		_, _ = c.VerifyQueryDRResponse(b)
	})
}

// The fast path verifies the received prefix only when it is exactly the
// string HashData rebuilds from the parsed parameters.
func FuzzCanonicalPrefix(f *testing.F) {
	f.Add(signWith(demoSecret, ipnParams()))
	f.Add("vnp_A=1&vnp_B=x%7Ey&vnp_SecureHash=ab&utm=50%off")
	f.Add("vnp_A=1&vnp_A=2&vnp_SecureHash=ab")
	f.Add("vnp_B=1&vnp_A=2&vnp_SecureHash=ab")
	f.Add("vnp_A=a%20b&vnp_SecureHash=ab")
	f.Add("vnp_A=1&vnp_SecureHash=ab&vnp%5FB=2")
	f.Add("vnp_A=%e1%ba%a1&vnp_SecureHash=ab")
	f.Fuzz(func(t *testing.T, raw string) {
		prefix, ok := canonicalPrefix(raw)
		if !ok {
			return
		}
		params, _, err := parseQuery(raw)
		if err != nil {
			return // refused on the common path anyway
		}
		if got := hashData(params, false); got != prefix {
			t.Fatalf("fast path would sign %q, HashData is %q", prefix, got)
		}
	})
}

func TestCanonicalPrefix(t *testing.T) {
	q := signWith(demoSecret, ipnParams())
	if _, ok := canonicalPrefix(q); !ok {
		t.Fatalf("VNPay's own form not recognised: %s", q)
	}
	for _, raw := range []string{
		"vnp_B=1&vnp_A=2&vnp_SecureHash=ab", // unsorted
		"vnp_A=a%20b&vnp_SecureHash=ab",     // %20 where PHP writes +
		"vnp_A=%7e&vnp_SecureHash=ab",       // lowercase escape
		"vnp_A=1&vnp_SecureHash=ab&vnp_B=2", // a vnp_ parameter after the hash
		"utm=1&vnp_A=1&vnp_SecureHash=ab",   // an unsigned parameter inside
		"vnp_A=&vnp_B=1&vnp_SecureHash=ab",  // empty value
		"vnp_A=1&vnp_SecureHashType=x&vnp_SecureHash=ab",
	} {
		if _, ok := canonicalPrefix(raw); ok {
			t.Errorf("%s taken for canonical", raw)
		}
	}
}
