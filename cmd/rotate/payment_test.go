package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/secretenv"
)

// runCLI's clock is 2026-11-27T09:00:00Z.
var smokeNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

const (
	smokeVNPayNew = "NEWSECRETNEWSECRETNEWSECRET56789"
	smokeVNPayOld = "OLDSECRETOLDSECRETOLDSECRET01234"
	smokeMoMoAK   = "F8BBA842ECF85"
	smokeMoMoSK   = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
	smokeZPKey1   = "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL"
	smokeZPKey2   = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"
	smokeHookNew  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	smokeHookOld  = "whsec_YW4tb2xkLXdlYmhvb2stc2VjcmV0LW9mLTQwLWJ5dGVzLXh4eA=="
)

func vnpayVars(extra map[string]string) map[string]string {
	m := map[string]string{"VNPAY_TMN_CODE": "DEMOV210", "VNPAY_HASH_SECRET": smokeVNPayNew, "ROTATE_TZ": "Asia/Ho_Chi_Minh"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestPaymentSmoke(t *testing.T) {
	secrets := []string{smokeVNPayNew, smokeVNPayOld, smokeMoMoAK, smokeMoMoSK, smokeZPKey1, smokeZPKey2, smokeHookNew, smokeHookOld}
	withPrev := map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00Z"}
	closed := map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-27T08:59:59Z"}
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		provider string
		code     int
		want     []string
	}{
		{"vnpay current only", vnpayVars(nil), "vnpay", exitOK, []string{
			"current fp=" + fingerprint.OfString(smokeVNPayNew), "ok   signed request: https://sandbox.vnpayment.vn/", "vnp_SecureHash=",
			"ok   callback signed with the current secret: verified, slot current", "ok   no previous secret configured", "ok   vnpay"}},
		{"vnpay inside the window", vnpayVars(withPrev), "vnpay", exitOK, []string{
			"previous fp=" + fingerprint.OfString(smokeVNPayOld) + " accepted until 2026-11-28 16:00:00 +07 (open)",
			"ok   callback signed with the previous secret: verified, slot previous"}},
		{"vnpay after the window", vnpayVars(closed), "vnpay", exitOK, []string{
			"(closed)", "ok   callback signed with the previous secret: refused, its window closed at 2026-11-27 15:59:59 +07"}},
		{"momo", map[string]string{"MOMO_PARTNER_CODE": "MOMO", "MOMO_ACCESS_KEY": smokeMoMoAK, "MOMO_SECRET_KEY": smokeMoMoSK,
			"MOMO_SECRET_KEY_PREVIOUS": "OLDSECRETKEYOLDSECRETKEY01234567", "MOMO_SECRET_KEY_PREVIOUS_UNTIL": "2026-11-28T00:00:00+07:00"}, "momo", exitOK, []string{
			"MOMO_ACCESS_KEY current fp=" + fingerprint.OfString(smokeMoMoAK), "MOMO_SECRET_KEY current fp=" + fingerprint.OfString(smokeMoMoSK),
			"ok   signed request: create SMOKE", "slot current", "verified, slot previous", "ok   momo"}},
		{"zalopay", map[string]string{"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": smokeZPKey1, "ZALOPAY_KEY2": smokeZPKey2}, "zalopay", exitOK, []string{
			"ok   signed request: order 261127_smoke", "slot current", "ok   zalopay"}},
		{"webhook during a rotation", map[string]string{"BANK_TRANSFER_WEBHOOK_SECRET": smokeHookNew, "BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS": smokeHookOld,
			"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL": "2026-11-27T10:00:00Z"}, "webhook", exitOK, []string{
			"with 2 signature(s)", "slot current", "verified, slot previous", "ok   webhook"}},
		{"vnpay secret missing", map[string]string{"VNPAY_TMN_CODE": "DEMOV210"}, "vnpay", exitCheck, []string{"VNPAY_HASH_SECRET"}},
		{"vnpay previous without deadline", vnpayVars(map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld}), "vnpay", exitCheck, []string{"VNPAY_HASH_SECRET_PREVIOUS_UNTIL"}},
		{"momo secret too short", map[string]string{"MOMO_PARTNER_CODE": "PARTNER2026", "MOMO_ACCESS_KEY": smokeMoMoAK, "MOMO_SECRET_KEY": "Zq9x4Zq9x4"}, "momo", exitCheck, []string{"MOMO_SECRET_KEY", "too short"}},
		{"unknown provider", nil, "paypal", exitUsage, []string{"unknown provider"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.vars, "", "payment", "smoke", tc.provider)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, r.stdout, r.stderr)
				}
			}
			assertNoSecret(t, r, append(secrets, "Zq9x4Zq9x4")...)
		})
	}
	if r := runCLI(t, nil, "", "payment", "smoke"); r.code != exitUsage {
		t.Errorf("no provider: exit %d", r.code)
	}
	if r := runCLI(t, nil, "", "payment"); r.code != exitUsage {
		t.Errorf("no subcommand: exit %d", r.code)
	}
}

func TestPaymentSmokeCallback(t *testing.T) {
	// VNPay: an IPN signed by the "provider" with the previous secret,
	// pasted as a whole URL.
	prev := vnpayVars(map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00Z"})
	provider, err := vnpay.New(vnpay.Config{NoIdempotency: true, TmnCode: "DEMOV210", HashSecret: payment.SecretSet{Current: fingerprint.NewSecret([]byte(smokeVNPayOld))}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := provider.SignParams(map[string]string{"vnp_Amount": "1000000", "vnp_ResponseCode": "00", "vnp_TmnCode": "DEMOV210", "vnp_TxnRef": "42", "vnp_TransactionStatus": "00"})
	if r := runCLI(t, prev, "https://shop.example/ipn?"+q+"\n", "payment", "smoke", "--callback", "vnpay"); r.code != exitOK || !strings.Contains(r.stdout, "ok   callback verified with slot previous") {
		t.Errorf("vnpay callback: %+v", r)
	}
	if r := runCLI(t, vnpayVars(nil), q, "payment", "smoke", "--callback", "vnpay"); r.code != exitCheck || !strings.Contains(r.stdout, "FAIL callback") {
		t.Errorf("vnpay callback with the wrong secret: %+v", r)
	}

	// ZaloPay: the published callback sample of ZaloPay's docs (app 2553).
	zp := map[string]string{"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": smokeZPKey1, "ZALOPAY_KEY2": smokeZPKey2}
	published := `{"data":"{\"app_id\":2553,\"app_trans_id\":\"200904_2553_1598435687208\",\"app_time\":1599189392817,\"app_user\":\"demo\",\"amount\":10000,\"embed_data\":\"{\\\"merchantinfo\\\":\\\"embeddata123\\\",\\\"promotioninfo\\\":\\\"\\\"}\",\"item\":\"[{\\\"itemid\\\":\\\"knb\\\",\\\"itemname\\\":\\\"kim nguyen bao\\\",\\\"itemprice\\\":198400,\\\"itemquantity\\\":1}]\",\"zp_trans_id\":200904000000389,\"server_time\":1599189413498,\"channel\":38,\"merchant_user_id\":\"7ZMSl3nEg5sOUJzOLSoUFT8xKNQVaLOLXHB--8Eytqc\",\"user_fee_amount\":0,\"discount_amount\":0}","mac":"d8d33baf449b31d7f9b94fa50d7c942c08cd4d83f28fa185557da21acb104f67","type":1}`
	if r := runCLI(t, zp, published, "payment", "smoke", "--callback", "zalopay"); r.code != exitOK || !strings.Contains(r.stdout, "slot current") {
		t.Errorf("zalopay published callback: %+v", r)
	}

	// MoMo: an IPN body.
	mm := map[string]string{"MOMO_PARTNER_CODE": "MOMO", "MOMO_ACCESS_KEY": smokeMoMoAK, "MOMO_SECRET_KEY": smokeMoMoSK}
	mc, _ := momo.New(momo.Config{NoIdempotency: true, PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: fingerprint.NewSecret([]byte(smokeMoMoAK))},
		SecretKey: payment.SecretSet{Current: fingerprint.NewSecret([]byte(smokeMoMoSK))}})
	body, _ := mc.SignIPN(&momo.Notification{PartnerCode: "MOMO", OrderID: "1", RequestID: "1", Amount: 1000, ResultCode: 0, TransID: 1, ResponseTime: 1})
	if r := runCLI(t, mm, string(body), "payment", "smoke", "--callback", "momo"); r.code != exitOK {
		t.Errorf("momo callback: %+v", r)
	}
	if r := runCLI(t, mm, strings.Replace(string(body), `"amount":1000`, `"amount":1001`, 1), "payment", "smoke", "--callback", "momo"); r.code != exitCheck {
		t.Errorf("tampered momo callback: %+v", r)
	}

	// Webhook: header lines, blank line, body.
	wh := map[string]string{"BANK_TRANSFER_WEBHOOK_SECRET": smokeHookNew}
	set, err := webhook.LoadSecrets(secretenv.Map(wh))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := webhook.NewSigner(set)
	msg := []byte(`{"amount":10000}`)
	sig, _ := s.Sign("msg_1", smokeNow, msg)
	in := "webhook-id: msg_1\nwebhook-timestamp: " + strconv.FormatInt(smokeNow.Unix(), 10) + "\nwebhook-signature: " + sig + "\n\n" + string(msg)
	if r := runCLI(t, wh, in, "payment", "smoke", "--callback", "webhook"); r.code != exitOK || !strings.Contains(r.stdout, "slot current") {
		t.Errorf("webhook callback: %+v", r)
	}
	if r := runCLI(t, wh, strings.Replace(in, "10000", "10001", 1), "payment", "smoke", "--callback", "webhook"); r.code != exitCheck {
		t.Errorf("tampered webhook callback: %+v", r)
	}
}

// writeSecrets writes one 0600 file per variable, as a mounted secret is.
func writeSecrets(t *testing.T, vars map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range vars {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// --dir reads the secrets from files, like rotate jwt --dir; the
// environment is not consulted.
func TestPaymentSmokeDir(t *testing.T) {
	dir := writeSecrets(t, vnpayVars(map[string]string{"VNPAY_HASH_SECRET_PREVIOUS": smokeVNPayOld, "VNPAY_HASH_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00Z"}))
	r := runCLI(t, nil, "", "payment", "smoke", "--dir", dir, "vnpay")
	if r.code != exitOK || !strings.Contains(r.stdout, "slot previous") || !strings.Contains(r.stdout, "current fp="+fingerprint.OfString(smokeVNPayNew)) {
		t.Fatalf("--dir: %+v", r)
	}
	assertNoSecret(t, r, smokeVNPayNew, smokeVNPayOld)
	if r := runCLI(t, vnpayVars(nil), "", "payment", "smoke", "--dir", t.TempDir(), "vnpay"); r.code != exitCheck || !strings.Contains(r.stderr, "VNPAY_TMN_CODE") {
		t.Fatalf("empty --dir must not fall back to the environment: %+v", r)
	}
}

// --raw-secrets checks a webhook secret deployed before the whsec_ format
// (raw key bytes), and a migration with a raw previous and a whsec_
// current side by side.
func TestPaymentSmokeRawSecrets(t *testing.T) {
	const raw = "raw-webhook-secret-deployed-before-whsec-0123456789"
	vars := map[string]string{"BANK_TRANSFER_WEBHOOK_SECRET": raw}
	if r := runCLI(t, vars, "", "payment", "smoke", "webhook"); r.code != exitCheck || !strings.Contains(r.stderr, "--raw-secrets") {
		t.Fatalf("raw secret without the flag: %+v", r)
	}
	r := runCLI(t, vars, "", "payment", "smoke", "--raw-secrets", "webhook")
	if r.code != exitOK || !strings.Contains(r.stdout, "slot current") {
		t.Fatalf("--raw-secrets: %+v", r)
	}
	migration := writeSecrets(t, map[string]string{"BANK_TRANSFER_WEBHOOK_SECRET": smokeHookNew, "BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS": raw,
		"BANK_TRANSFER_WEBHOOK_SECRET_PREVIOUS_UNTIL": "2026-11-28T09:00:00Z"})
	r = runCLI(t, nil, "", "payment", "smoke", "--raw-secrets", "--dir", migration, "webhook")
	if r.code != exitOK || !strings.Contains(r.stdout, "slot previous") || !strings.Contains(r.stdout, "with 2 signature(s)") {
		t.Fatalf("raw previous + whsec_ current: %+v", r)
	}
	assertNoSecret(t, r, raw, smokeHookNew)
	if r := runCLI(t, vnpayVars(nil), "", "payment", "smoke", "--raw-secrets", "vnpay"); r.code != exitUsage {
		t.Fatalf("--raw-secrets for vnpay: %+v", r)
	}
}
