package zalopay

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment/internal/jsonkeys"
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

// The reflection-free decoders read every callback body and order data as
// jsonkeys.Check plus json.Unmarshal did: same values, same refusals.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"data":"{}","mac":"ab","type":1}`), []byte(`{"app_id":2553,"app_trans_id":"x","amount":50000,"zp_trans_id":1,"channel":38}`))
	f.Add([]byte(`{"DATA":null,"Mac":"\u0061","type":1.0}`), []byte(`{"APP_ID":"1","amount":1e3}`))
	f.Add([]byte(`null`), []byte(`{"amount":-0,"item":"[]","x":{"y":[1,{}]}}`))
	f.Add([]byte("{\"mac\":\"\xff\"}"), []byte(`{"amount":9223372036854775808}`))
	var sh shapes // left by the inputs before: reading with a shape changes nothing
	f.Fuzz(func(t *testing.T, body, data []byte) {
		var got envelope
		var want struct {
			Data *string
			Mac  string
			Type *int
		}
		scratch := make([]byte, 0, 8)
		gotErr := got.decode(body, &scratch, &sh.env)
		wantErr := jsonkeys.Check(body)
		if wantErr == nil {
			wantErr = json.Unmarshal(body, &want)
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("envelope: decode error %v, encoding/json %v", gotErr, wantErr)
		}
		if gotErr == nil && (string(got.mac) != want.Mac || (got.data == nil) != (want.Data == nil) || got.data != nil && string(got.data) != *want.Data ||
			got.hasType != (want.Type != nil) || got.hasType && got.typ != *want.Type) {
			t.Fatalf("envelope: decode %+v, encoding/json %+v", got, want)
		}
		var gotO, wantO OrderData
		gotErr = gotO.decodeText(data, "", &sh.data)
		wantErr = jsonkeys.Check(data)
		if wantErr == nil {
			wantErr = json.Unmarshal(data, &wantO)
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("order: decode error %v, encoding/json %v", gotErr, wantErr)
		}
		if gotErr == nil && gotO != wantO {
			t.Fatalf("order: decode %+v\nencoding/json %+v", gotO, wantO)
		}
	})
}
