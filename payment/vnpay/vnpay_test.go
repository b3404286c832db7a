package vnpay

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/paymenttest"
	"github.com/goodgo/rotation/secretenv"
)

const (
	oldSecret = "OLDSECRETOLDSECRETOLDSECRET01234"
	newSecret = "NEWSECRETNEWSECRETNEWSECRET56789"
)

// ipnParams is a typical IPN's parameters.
func ipnParams() map[string]string {
	return map[string]string{
		"vnp_Amount": "1806000", "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP14422574", "vnp_CardType": "ATM",
		"vnp_OrderInfo": "Thanh toán đơn hàng 5", "vnp_PayDate": "20210801153500", "vnp_ResponseCode": "00",
		"vnp_TmnCode": "DEMOV210", "vnp_TransactionNo": "14422574", "vnp_TransactionStatus": "00", "vnp_TxnRef": "5",
	}
}

// signWith plays VNPay: the query it sends, signed with secret.
func signWith(secret string, params map[string]string) string {
	m := hmac.New(sha512.New, []byte(secret))
	d := HashData(params)
	m.Write([]byte(d))
	return d + "&vnp_SecureHash=" + hex.EncodeToString(m.Sum(nil))
}

func TestRotation(t *testing.T) {
	rotated := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	set := payment.SecretSet{
		Current:       fingerprint.NewSecret([]byte(newSecret)),
		Previous:      fingerprint.NewSecret([]byte(oldSecret)),
		PreviousUntil: UntilAfterRotation(rotated),
	}
	if got := set.PreviousUntil.Sub(rotated); got != 24*time.Hour {
		t.Fatalf("UntilAfterRotation = +%v, want VNPay's 24h", got)
	}
	incident := set
	incident.Incident = true
	for _, tc := range []struct {
		name   string
		set    payment.SecretSet
		secret string
		at     time.Time
		slot   secretenv.Slot
		err    error
		event  string
	}{
		{"current right after rotation", set, newSecret, rotated, secretenv.SlotCurrent, nil, "verified vnpay current"},
		{"current long after", set, newSecret, rotated.Add(72 * time.Hour), secretenv.SlotCurrent, nil, "verified vnpay current"},
		{"previous inside window", set, oldSecret, rotated.Add(23 * time.Hour), secretenv.SlotPrevious, nil, "verified vnpay previous"},
		{"previous at deadline", set, oldSecret, rotated.Add(24 * time.Hour), "", payment.ErrRetiredKey, "sigfail vnpay retired_key"},
		{"previous after deadline", set, oldSecret, rotated.Add(25 * time.Hour), "", payment.ErrRetiredKey, "sigfail vnpay retired_key"},
		{"previous in incident mode", incident, oldSecret, rotated.Add(time.Hour), "", payment.ErrRetiredKey, "sigfail vnpay retired_key"},
		{"current in incident mode", incident, newSecret, rotated.Add(time.Hour), secretenv.SlotCurrent, nil, "verified vnpay current"},
		{"unknown secret", set, "SOMEOTHERSECRETSOMEOTHERSECRET00", rotated, "", payment.ErrBadSignature, "sigfail vnpay bad_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &paymenttest.Recorder{}
			c := demoClient(t, tc.set, rec, tc.at)
			n, err := c.VerifyIPN(signWith(tc.secret, ipnParams()))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && n.Slot != tc.slot {
				t.Errorf("slot = %q, want %q", n.Slot, tc.slot)
			}
			if ev := rec.Events(); !slices.Equal(ev, []string{tc.event}) {
				t.Errorf("observer got %q, want %q", ev, tc.event)
			}
			// The handler answers the same way.
			h := c.IPNHandler(func(context.Context, *Notification) IPNResponse { return ConfirmSuccess })
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/ipn?"+signWith(tc.secret, ipnParams()), nil))
			want := ConfirmSuccess
			if tc.err != nil {
				want = InvalidSignature
			}
			if got := decodeIPN(t, rr); got != want {
				t.Errorf("handler answered %+v, want %+v", got, want)
			}
		})
	}
}

func TestVerifyIPNRefusals(t *testing.T) {
	c := demoClient(t, current(demoSecret), nil, vecCreateDate)
	good := signWith(demoSecret, ipnParams())
	for _, tc := range []struct {
		name  string
		query string
		err   error
	}{
		{"duplicate vnp_ param", good + "&vnp_Amount=1", payment.ErrDuplicateParam},
		{"duplicate vnp_ param escaped", good + "&vnp%5FAmount=1806000", payment.ErrDuplicateParam},
		{"duplicate signature", good + "&vnp_SecureHash=00", payment.ErrDuplicateParam},
		{"no signature", HashData(ipnParams()), payment.ErrMissingSignature},
		{"empty signature", HashData(ipnParams()) + "&vnp_SecureHash=", payment.ErrMissingSignature},
		{"signature not hex", HashData(ipnParams()) + "&vnp_SecureHash=" + strings.Repeat("zz", 64), payment.ErrMalformed},
		{"signature truncated", good[:len(good)-2], payment.ErrBadSignature},
		{"bad escape", good + "&vnp_X=%zz", payment.ErrMalformed},
		{"amount changed", strings.Replace(good, "vnp_Amount=1806000", "vnp_Amount=1806", 1), payment.ErrBadSignature},
		{"param dropped", strings.Replace(good, "vnp_BankCode=NCB&", "", 1), payment.ErrBadSignature},
		{"param added", good + "&vnp_Extra=1", payment.ErrBadSignature},
		{"too long", good + "&x=" + strings.Repeat("a", MaxQueryLen), payment.ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.VerifyIPN(tc.query); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			// The return URL's query is signed as the IPN is: same refusal.
			if _, err := c.VerifyRedirect(tc.query); !errors.Is(err, tc.err) {
				t.Errorf("VerifyRedirect: err = %v, want %v", err, tc.err)
			}
		})
	}
	if n, err := c.VerifyRedirect("utm_source=mail&" + good); err != nil || n.TxnRef != ipnParams()["vnp_TxnRef"] || n.Slot != secretenv.SlotCurrent {
		t.Errorf("VerifyRedirect(signed return query) = %+v, %v", n, err)
	}

	// Signed, but an amount VNPay never sends (VND × 100 always ends in 00).
	odd := ipnParams()
	odd["vnp_Amount"] = "1806001"
	if _, err := c.VerifyIPN(signWith(demoSecret, odd)); !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("amount not a multiple of 100: err = %v, want ErrMalformed", err)
	}

	// Accepted: a Return URL with the merchant's own parameters, and
	// vnp_SecureHashType as 2.0.x clients still send it.
	for _, q := range []string{"act=return&id=9&" + good + "&page=2", good + "&vnp_SecureHashType=HmacSHA512", "&&" + good + "&"} {
		if _, err := c.VerifyIPN(q); err != nil {
			t.Errorf("VerifyIPN(%q): %v", q, err)
		}
	}

	// A correctly signed query for another terminal.
	other := ipnParams()
	other["vnp_TmnCode"] = "OTHER001"
	if _, err := c.VerifyIPN(signWith(demoSecret, other)); !errors.Is(err, payment.ErrWrongMerchant) {
		t.Errorf("other terminal: %v", err)
	}
	// Signed, but vnp_Amount is not a number.
	bad := ipnParams()
	bad["vnp_Amount"] = "12.5"
	if _, err := c.VerifyIPN(signWith(demoSecret, bad)); !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("bad amount: %v", err)
	}
}

func TestEmptyValues(t *testing.T) {
	c := demoClient(t, current(demoSecret), nil, vecCreateDate)
	p := ipnParams()
	p["vnp_BankTranNo"] = ""
	// .NET/Java style: the empty value is not signed.
	if _, err := c.VerifyIPN(signWith(demoSecret, p)); err != nil {
		t.Errorf("empty value skipped by the signer: %v", err)
	}
	if !strings.Contains(HashData(p), "vnp_BankCode=NCB&vnp_CardType") {
		t.Fatalf("HashData kept an empty value: %s", HashData(p))
	}
	// PHP demo style: "vnp_BankTranNo=&" is signed.
	d := hashData(p, true)
	m := hmac.New(sha512.New, []byte(demoSecret))
	m.Write([]byte(d))
	if _, err := c.VerifyIPN(d + "&vnp_SecureHash=" + hex.EncodeToString(m.Sum(nil))); err != nil {
		t.Errorf("empty value signed by the signer: %v", err)
	}
}

func decodeIPN(t *testing.T, rr *httptest.ResponseRecorder) IPNResponse {
	t.Helper()
	var r IPNResponse
	if err := json.Unmarshal(rr.Body.Bytes(), &r); err != nil {
		t.Fatalf("answer %q is not JSON: %v", rr.Body.String(), err)
	}
	return r
}

func TestIPNHandler(t *testing.T) {
	rec := &paymenttest.Recorder{}
	c := demoClient(t, current(demoSecret), rec, vecCreateDate)
	var got []*Notification
	answer := ConfirmSuccess
	srv := httptest.NewServer(c.IPNHandler(func(_ context.Context, n *Notification) IPNResponse {
		got = append(got, n)
		return answer
	}))
	defer srv.Close()
	do := func(method, query string) (*http.Response, IPNResponse) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/ipn?"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r IPNResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		return resp, r
	}

	resp, r := do(http.MethodGet, signWith(demoSecret, ipnParams()))
	if resp.StatusCode != 200 || r != ConfirmSuccess || len(got) != 1 || got[0].TxnRef != "5" || got[0].Amount != 18060 {
		t.Fatalf("good IPN: %d %+v, callback got %v", resp.StatusCode, r, got)
	}
	if ev := rec.Events(); !slices.Equal(ev, []string{"verified vnpay current"}) {
		t.Errorf("events %q", ev)
	}

	for _, a := range []IPNResponse{OrderNotFound, OrderAlreadyConfirmed, InvalidAmount} {
		answer = a
		if _, r := do(http.MethodGet, signWith(demoSecret, ipnParams())); r != a {
			t.Errorf("callback answer %+v sent as %+v", a, r)
		}
	}
	answer = IPNResponse{}
	if _, r := do(http.MethodGet, signWith(demoSecret, ipnParams())); r != UnknownError {
		t.Errorf("empty callback answer sent as %+v", r)
	}
	rec.Events()
	got = nil

	for _, tc := range []struct {
		name, method, query string
		status              int
		code                string
		event               string
	}{
		{"bad signature", "GET", signWith("SOMEOTHERSECRETSOMEOTHERSECRET00", ipnParams()), 200, "97", "reject vnpay bad_signature"},
		{"no signature", "GET", HashData(ipnParams()), 200, "97", "reject vnpay missing_signature"},
		{"duplicate", "GET", signWith(demoSecret, ipnParams()) + "&vnp_TxnRef=6", 200, "97", "reject vnpay duplicate_param"},
		{"bad escape", "GET", "vnp_A=%zz&vnp_SecureHash=00", 200, "99", "reject vnpay malformed"},
		{"POST", "POST", signWith(demoSecret, ipnParams()), 405, "99", "reject vnpay method"},
		{"too long", "GET", "x=" + strings.Repeat("a", MaxQueryLen), 414, "99", "reject vnpay body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, r := do(tc.method, tc.query)
			if resp.StatusCode != tc.status || r.RspCode != tc.code {
				t.Errorf("answer %d %+v, want %d RspCode %s", resp.StatusCode, r, tc.status, tc.code)
			}
			if tc.method == "POST" && resp.Header.Get("Allow") != "GET" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			ev := rec.Events()
			if !slices.Contains(ev, tc.event) {
				t.Errorf("events %q, want %q", ev, tc.event)
			}
			if len(got) != 0 {
				t.Errorf("callback called for a refused IPN")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"VNPAY_TMN_CODE":                   "DEMOV210",
		"VNPAY_HASH_SECRET":                newSecret,
		"VNPAY_HASH_SECRET_PREVIOUS":       oldSecret,
		"VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00+07:00",
	}
	cfg, err := LoadConfig(secretenv.Map(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TmnCode != "DEMOV210" || string(cfg.HashSecret.Previous.Bytes()) != oldSecret || !cfg.HashSecret.PreviousUntil.Equal(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("cfg = %+v", cfg)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(s, newSecret) || strings.Contains(s, oldSecret) {
		t.Errorf("config prints a secret (output withheld)")
	}

	for name, mod := range map[string]func(map[string]string){
		"no deadline":    func(m map[string]string) { delete(m, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL") },
		"bad deadline":   func(m map[string]string) { m["VNPAY_HASH_SECRET_PREVIOUS_UNTIL"] = "tomorrow" },
		"short secret":   func(m map[string]string) { m["VNPAY_HASH_SECRET"] = "short-secret" },
		"same secrets":   func(m map[string]string) { m["VNPAY_HASH_SECRET_PREVIOUS"] = newSecret },
		"no secret":      func(m map[string]string) { delete(m, "VNPAY_HASH_SECRET") },
		"no terminal":    func(m map[string]string) { delete(m, "VNPAY_TMN_CODE") },
		"short previous": func(m map[string]string) { m["VNPAY_HASH_SECRET_PREVIOUS"] = "tiny" },
		"empty deadline": func(m map[string]string) { m["VNPAY_HASH_SECRET_PREVIOUS_UNTIL"] = "" },
	} {
		t.Run(name, func(t *testing.T) {
			m := maps(env)
			mod(m)
			_, err := LoadConfig(secretenv.Map(m))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, secret := range []string{newSecret, oldSecret, "short-secret", "tiny"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("an error shows a secret (message withheld)")
				}
			}
		})
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestNoSecretInErrors(t *testing.T) {
	set := payment.SecretSet{Current: fingerprint.NewSecret([]byte(newSecret)), Previous: fingerprint.NewSecret([]byte(oldSecret)), PreviousUntil: vecCreateDate}
	c := demoClient(t, set, nil, vecCreateDate.Add(time.Hour))
	var errs []error
	for _, q := range []string{signWith(oldSecret, ipnParams()), signWith("x", ipnParams()), "vnp_A=%zz", signWith(newSecret, ipnParams()) + "&vnp_A=1&vnp_A=2"} {
		_, err := c.VerifyIPN(q)
		errs = append(errs, err)
	}
	_, err := New(Config{NoIdempotency: true, TmnCode: "X", HashSecret: payment.SecretSet{Current: set.Current, Previous: set.Current}})
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("no error")
		}
		if s := err.Error(); strings.Contains(s, newSecret) || strings.Contains(s, oldSecret) {
			t.Errorf("an error shows a secret (message withheld)")
		}
	}
	if s := fmt.Sprintf("%v %+v", c, *c); strings.Contains(s, newSecret) || strings.Contains(s, oldSecret) {
		t.Errorf("the client prints a secret (output withheld)")
	}
}

func TestPaymentURLErrors(t *testing.T) {
	c := demoClient(t, current(demoSecret), nil, vecCreateDate)
	ok := PaymentRequest{Amount: 1000, TxnRef: "1", OrderInfo: "x", ReturnURL: "https://r", IPAddr: "1.2.3.4"}
	for name, mod := range map[string]func(*PaymentRequest){
		"zero amount":   func(r *PaymentRequest) { r.Amount = 0 },
		"huge amount":   func(r *PaymentRequest) { r.Amount = 1 << 62 },
		"no TxnRef":     func(r *PaymentRequest) { r.TxnRef = "" },
		"non-vnp extra": func(r *PaymentRequest) { r.Extra = map[string]string{"x": "1"} },
		"hash as extra": func(r *PaymentRequest) { r.Extra = map[string]string{"vnp_SecureHash": "1"} },
		"shadow field":  func(r *PaymentRequest) { r.Extra = map[string]string{"vnp_Amount": "1"} },
	} {
		r := ok
		mod(&r)
		if _, err := c.PaymentURL(SandboxURL, r); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	u, err := c.PaymentURL("https://pay.example/vpcpay.html?x=1", ok)
	if err != nil || !strings.HasPrefix(u, "https://pay.example/vpcpay.html?x=1&vnp_Amount=100000&") {
		t.Errorf("base with a query: %s %v", u, err)
	}
	// What we sign, we verify: a payment URL's own query passes VerifyIPN
	// (as the payment page would check it).
	if _, err := c.VerifyIPN(u[strings.Index(u, "?")+1:]); err != nil && !errors.Is(err, payment.ErrMalformed) {
		t.Errorf("own URL: %v", err)
	}
	if _, err := New(Config{HashSecret: current(demoSecret)}); !errors.Is(err, ErrConfig) {
		t.Errorf("no TmnCode: %v", err)
	}
	if _, err := New(Config{NoIdempotency: true, TmnCode: "X"}); !errors.Is(err, payment.ErrNoSecret) {
		t.Errorf("no secret: %v", err)
	}
}

func TestPreviousSigner(t *testing.T) {
	set := payment.SecretSet{Current: fingerprint.NewSecret([]byte(newSecret)), Previous: fingerprint.NewSecret([]byte(oldSecret)), PreviousUntil: vecCreateDate.Add(time.Hour)}
	c := demoClient(t, set, nil, vecCreateDate)
	p, ok := c.Previous()
	if !ok {
		t.Fatal("no previous")
	}
	q, err := p.SignParams(ipnParams())
	if err != nil {
		t.Fatal(err)
	}
	if q != signWith(oldSecret, ipnParams()) {
		t.Error("Previous signs with something else than the previous secret")
	}
	if n, err := c.VerifyIPN(q); err != nil || n.Slot != secretenv.SlotPrevious {
		t.Errorf("%+v %v", n, err)
	}
	if _, ok := demoClient(t, current(demoSecret), nil, vecCreateDate).Previous(); ok {
		t.Error("Previous without a previous secret")
	}
}

// Parameters outside the signature never fail a valid IPN and never reach
// the application as signed.
func TestUnsignedParameters(t *testing.T) {
	c := demoClient(t, current(demoSecret), nil, vecCreateDate)
	good := signWith(demoSecret, ipnParams()) // empty values skipped, as .NET and Java sign
	n, err := c.VerifyIPN("utm_campaign=50%off&" + good + "&vnp_Extra=&fbclid=%zz")
	if err != nil {
		t.Fatalf("valid IPN with unsigned parameters around it: %v", err)
	}
	if _, ok := n.Params["vnp_Extra"]; ok {
		t.Errorf("empty vnp_Extra outside the signature reached Params: %v", n.Params)
	}
	for k := range n.Params {
		if _, signed := ipnParams()[k]; !signed {
			t.Errorf("Params has unsigned %s", k)
		}
	}
	// The PHP form signs empty values: then they were signed and stay.
	p := ipnParams()
	p["vnp_BankTranNo"] = ""
	m := hmac.New(sha512.New, []byte(demoSecret))
	m.Write([]byte(hashData(p, true)))
	q := hashData(p, true) + "&vnp_SecureHash=" + hex.EncodeToString(m.Sum(nil))
	if n, err := c.VerifyIPN(q); err != nil {
		t.Fatalf("PHP form: %v", err)
	} else if v, ok := n.Params["vnp_BankTranNo"]; !ok || v != "" {
		t.Errorf("signed empty vnp_BankTranNo missing from Params: %v", n.Params)
	}
}
