package zalopay

import (
	"strings"
	"testing"
)

// FuzzVerifyCallback feeds arbitrary bodies to VerifyCallback: no panic, and
// whatever is accepted carries one of the signed data strings (no modified
// byte passes).
func FuzzVerifyCallback(f *testing.F) {
	c := sandboxClient(f, nil)
	good := callbackBody(sandboxKey2, typical())
	signed := map[string]bool{}
	for _, b := range [][]byte{good, []byte(publishedCallback)} {
		cb, err := c.VerifyCallback(b)
		if err != nil {
			f.Fatal(err)
		}
		signed[cb.Data] = true
		f.Add(b)
	}
	f.Add([]byte(strings.Replace(string(good), "150000", "150001", 1)))
	f.Add([]byte(`{"data":"","mac":""}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := c.VerifyCallback(body)
		if err == nil && !signed[cb.Data] {
			t.Fatalf("accepted data that was never signed: %q", cb.Data)
		}
	})
}

// FuzzTamperData signs a typical callback, then verifies another data
// string under the same MAC: refused unless the bytes are identical.
func FuzzTamperData(f *testing.F) {
	c := sandboxClient(f, nil)
	good := string(callbackBody(sandboxKey2, typical()))
	cb, _ := c.VerifyCallback([]byte(good))
	mac := good[strings.Index(good, `"mac":"`)+7:]
	mac = mac[:64]
	f.Add(cb.Data)
	f.Add(strings.Replace(cb.Data, "150000", "150001", 1))
	f.Add(strings.Replace(cb.Data, `"amount":150000`, `"amount": 150000`, 1))
	f.Fuzz(func(t *testing.T, data string) {
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(data)
		body := `{"data":"` + q + `","mac":"` + mac + `","type":1}`
		got, err := c.VerifyCallback([]byte(body))
		if err == nil && got.Data != cb.Data {
			t.Fatalf("modified data accepted: %q", got.Data)
		}
	})
}

// FuzzVerifyRedirect: no panic on any query, and only the signed redirect
// accepted.
func FuzzVerifyRedirect(f *testing.F) {
	c := sandboxClient(f, nil)
	q := "appid=2553&apptransid=240101_123456&pmcid=38&bankcode=zalopayapp&amount=50000&discountamount=0&status=1&checksum=" + vecRedirect
	f.Add(q)
	f.Add(q + "&status=1")
	f.Add("checksum=00&amount=%7C")
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := c.VerifyRedirect(raw)
		if err == nil && (r.Amount != 50000 || r.AppTransID != "240101_123456" || r.Status != 1 || r.BankCode != "zalopayapp" || r.PmcID != "38" || r.DiscountAmount != 0) {
			t.Fatalf("accepted a redirect that was never signed: %+v", r)
		}
	})
}
