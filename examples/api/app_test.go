package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
	"github.com/goodgo/rotation/secretenv"
)

func gen(t *testing.T, c keygen.Class) string {
	t.Helper()
	s, err := keygen.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeSecrets writes files into dir atomically (temp file + rename), as a
// secret volume update does.
func writeSecrets(t *testing.T, dir string, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		p := filepath.Join(dir, k)
		if v == "" {
			os.Remove(p)
			continue
		}
		if err := os.WriteFile(p+".tmp", []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
}

type client struct {
	t   *testing.T
	url string
}

func (c client) do(method, path, token string, body io.Reader, ctype string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (c client) login(sub string) (access, refresh string) {
	c.t.Helper()
	resp, b := c.do("POST", "/login", "", strings.NewReader(url.Values{"sub": {sub}}.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode != 200 {
		c.t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	var v struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		c.t.Fatal(err)
	}
	return v.Access, v.Refresh
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPIExample(t *testing.T) {
	rd := testsvc.NewRedis(t)
	dir := t.TempDir()
	oldA, oldR := gen(t, keygen.JWT), gen(t, keygen.JWT)
	vnpSecret, momoSecret, momoAccess, zpKey1, zpKey2 := gen(t, keygen.DB), gen(t, keygen.DB), "F8BBA842ECF85", gen(t, keygen.DB), gen(t, keygen.DB)
	bank := gen(t, keygen.Webhook)
	writeSecrets(t, dir, map[string]string{
		"JWT_SECRET": oldA, "JWT_REFRESH_SECRET": oldR,
		"VNPAY_HASH_SECRET": vnpSecret, "VNPAY_TMN_CODE": "DEMOV210",
		"MOMO_PARTNER_CODE": "MOMO", "MOMO_ACCESS_KEY": momoAccess, "MOMO_SECRET_KEY": momoSecret,
		"ZALOPAY_APP_ID": "2553", "ZALOPAY_KEY1": zpKey1, "ZALOPAY_KEY2": zpKey2,
		"BANK_TRANSFER_WEBHOOK_SECRET": bank,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, err := newApp(ctx, config{SecretsDir: dir, RedisURL: testsvc.RedisURL(), IdemPrefix: rd.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	c := client{t, srv.URL}

	if resp, _ := c.do("GET", "/health/ready", "", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("ready: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/me", "", nil, ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="api"` {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	sub := "user-" + testsvc.Suffix()
	access, refresh := c.login(sub)
	if resp, b := c.do("GET", "/api/me", access, nil, ""); resp.StatusCode != 200 || !strings.Contains(string(b), sub) {
		t.Fatalf("me: %d %s", resp.StatusCode, b)
	}

	t.Run("hot reload of a staged rotation keeps old tokens valid", func(t *testing.T) {
		newA, newR := gen(t, keygen.JWT), gen(t, keygen.JWT)
		writeSecrets(t, dir, map[string]string{"JWT_SECRET_NEXT": newA, "JWT_REFRESH_SECRET_NEXT": newR})
		eventually(t, "next slot loaded", func() bool { return hasSlot(app.keys.Slots(), secretenv.SlotNext, fingerprint.OfString(newA)) })
		writeSecrets(t, dir, map[string]string{"JWT_SECRET": newA, "JWT_SECRET_PREVIOUS": oldA, "JWT_SECRET_NEXT": "",
			"JWT_REFRESH_SECRET": newR, "JWT_REFRESH_SECRET_PREVIOUS": oldR, "JWT_REFRESH_SECRET_NEXT": ""})
		eventually(t, "promotion loaded", func() bool { return hasSlot(app.keys.Slots(), secretenv.SlotCurrent, fingerprint.OfString(newA)) })
		if resp, b := c.do("GET", "/api/me", access, nil, ""); resp.StatusCode != 200 {
			t.Fatalf("token from before the rotation refused: %d %s", resp.StatusCode, b)
		}
		// A refresh moves the session onto the new key.
		resp, b := c.do("POST", "/refresh", "", strings.NewReader(url.Values{"refresh_token": {refresh}}.Encode()), "application/x-www-form-urlencoded")
		if resp.StatusCode != 200 {
			t.Fatalf("refresh: %d %s", resp.StatusCode, b)
		}
		var pair map[string]any
		json.Unmarshal(b, &pair)
		newAccess := pair["access_token"].(string)
		hdr, _ := jsonPart(newAccess, 0)
		if !strings.Contains(hdr, fingerprint.OfString(newA)) {
			t.Fatalf("refreshed token not signed with the new key: header %s", hdr)
		}
		// An invalid update keeps the working keyring.
		writeSecrets(t, dir, map[string]string{"JWT_SECRET": "too-short"})
		time.Sleep(500 * time.Millisecond)
		if resp, _ := c.do("GET", "/api/me", newAccess, nil, ""); resp.StatusCode != 200 {
			t.Fatalf("bad secret update broke verification: %d", resp.StatusCode)
		}
		_, metrics := c.do("GET", "/metrics", "", nil, "")
		if !strings.Contains(string(metrics), `auth_jwt_reload_total{result="failed"}`) {
			t.Errorf("failed reload not in metrics")
		}
		if strings.Contains(string(metrics), "too-short") || strings.Contains(string(metrics), newA) {
			t.Errorf("metrics contain a secret")
		}
		writeSecrets(t, dir, map[string]string{"JWT_SECRET": newA})
	})

	t.Run("disabled users are refused through the Redis status cache", func(t *testing.T) {
		other := "user-" + testsvc.Suffix()
		app.disable(other)
		tok, _ := c.login(other)
		if resp, _ := c.do("GET", "/api/me", tok, nil, ""); resp.StatusCode != 401 {
			t.Fatalf("disabled user: %d", resp.StatusCode)
		}
		keys, err := rd.Client.Keys(ctx, jwtkeys.DefaultStatusPrefix+other).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("status not cached in Redis: %v %v", keys, err)
		}
		rd.Client.Del(ctx, keys...)
	})

	t.Run("payment callbacks", func(t *testing.T) {
		// VNPay IPN, signed as VNPay would.
		vp, _ := vnpay.New(vnpay.Config{NoIdempotency: true, TmnCode: "DEMOV210", HashSecret: payment.SecretSet{Current: fingerprint.NewSecret([]byte(vnpSecret))}})
		q, err := vp.SignParams(map[string]string{"vnp_Amount": "10000000", "vnp_ResponseCode": "00", "vnp_TransactionStatus": "00",
			"vnp_TmnCode": "DEMOV210", "vnp_TxnRef": "ORD1", "vnp_TransactionNo": "14000001", "vnp_OrderInfo": "Thanh toan don hang"})
		if err != nil {
			t.Fatal(err)
		}
		if resp, b := c.do("GET", "/ipn/vnpay?"+q, "", nil, ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"RspCode":"00"`) {
			t.Fatalf("vnpay: %d %s", resp.StatusCode, b)
		}
		if amt, ok := app.Paid("vnpay", "ORD1"); !ok || amt != 100000 {
			t.Fatalf("vnpay order not confirmed: %d %v", amt, ok)
		}
		// A tampered amount is refused with RspCode 97.
		if resp, b := c.do("GET", "/ipn/vnpay?"+strings.Replace(q, "vnp_Amount=10000000", "vnp_Amount=10", 1), "", nil, ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"RspCode":"97"`) {
			t.Fatalf("tampered vnpay: %d %s", resp.StatusCode, b)
		}
		// MoMo IPN.
		mp, _ := momo.New(momo.Config{NoIdempotency: true, PartnerCode: "MOMO", AccessKey: payment.SecretSet{Current: fingerprint.NewSecret([]byte(momoAccess))}, SecretKey: payment.SecretSet{Current: fingerprint.NewSecret([]byte(momoSecret))}})
		body, err := mp.SignIPN(&momo.Notification{PartnerCode: "MOMO", OrderID: "M1", RequestID: "R1", Amount: 50000, OrderInfo: "x", OrderType: "momo_wallet", TransID: 1, PayType: "qr", ResponseTime: 1})
		if err != nil {
			t.Fatal(err)
		}
		if resp, b := c.do("POST", "/ipn/momo", "", bytes.NewReader(body), "application/json"); resp.StatusCode != 204 {
			t.Fatalf("momo: %d %s", resp.StatusCode, b)
		}
		// ZaloPay callback.
		zp, _ := zalopay.New(zalopay.Config{NoIdempotency: true, AppID: 2553, Key1: payment.SecretSet{Current: fingerprint.NewSecret([]byte(zpKey1))}, Key2: payment.SecretSet{Current: fingerprint.NewSecret([]byte(zpKey2))}})
		data, _ := json.Marshal(zalopay.OrderData{AppID: 2553, AppTransID: "261127_1", Amount: 50000, EmbedData: "{}", Item: "[]"})
		body, err = zp.SignCallback(string(data), zalopay.TypeOrder)
		if err != nil {
			t.Fatal(err)
		}
		if resp, b := c.do("POST", "/ipn/zalopay", "", bytes.NewReader(body), "application/json"); resp.StatusCode != 200 || !strings.Contains(string(b), `"return_code":1`) {
			t.Fatalf("zalopay: %d %s", resp.StatusCode, b)
		}
		// Bank webhook (Standard Webhooks), with replay protection in Redis.
		signer, _ := webhook.NewSigner(payment.SecretSet{Current: fingerprint.NewSecret([]byte(bank))})
		msg := []byte(`{"amount":500000}`)
		id := "msg_" + testsvc.Suffix()
		sig, err := signer.Sign(id, time.Now(), msg)
		if err != nil {
			t.Fatal(err)
		}
		send := func() int {
			req, _ := http.NewRequest("POST", srv.URL+"/webhook/bank", bytes.NewReader(msg))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("webhook-id", id)
			req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
			req.Header.Set("webhook-signature", sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := send(); code != 200 {
			t.Fatalf("bank webhook: %d", code)
		}
		if code := send(); code != 200 {
			t.Fatalf("bank webhook replay: %d (a processed id is answered 200 without reprocessing)", code)
		}
		_, metrics := c.do("GET", "/metrics", "", nil, "")
		for _, want := range []string{`payment_signature_verified_total{provider="vnpay",slot="current"} 1`, `payment_signature_failure_total{provider="vnpay"} 1`,
			`payment_signature_verified_total{provider="momo",slot="current"} 1`, `auth_jwt_verified_total{legacy="false",ring="access",slot="current"}`} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

func hasSlot(st []jwtkeys.SlotInfo, slot secretenv.Slot, fp string) bool {
	for _, s := range st {
		if s.Ring == jwtkeys.Access && s.Slot == slot && s.Fingerprint == fp {
			return true
		}
	}
	return false
}

// jsonPart decodes part i of a JWT (0 header, 1 claims).
func jsonPart(token string, i int) (string, error) {
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	return string(b), err
}

// The refresh path (issue 13 point 4): one-time refresh tokens in the
// PostgreSQL store, a reuse revokes the session, a disabled user is
// refused, and claims come from the user table at refresh time.
func TestAPIRefreshPath(t *testing.T) {
	db := testsvc.Postgres(t)
	for _, withRedis := range []bool{true, false} {
		t.Run(map[bool]string{true: "redis status cache", false: "no redis"}[withRedis], func(t *testing.T) {
			dir := t.TempDir()
			writeSecrets(t, dir, map[string]string{"JWT_SECRET": gen(t, keygen.JWT), "JWT_REFRESH_SECRET": gen(t, keygen.JWT)})
			cfg := config{SecretsDir: dir, DatabaseURL: db.URL}
			if withRedis {
				testsvc.NewRedis(t)
				cfg.RedisURL = testsvc.RedisURL()
			}
			app, err := newApp(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			srv := httptest.NewServer(app.Handler())
			defer srv.Close()
			c := client{t, srv.URL}
			refresh := func(tok string) (int, map[string]string) {
				resp, b := c.do("POST", "/refresh", "", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()), "application/x-www-form-urlencoded")
				var v map[string]string
				json.Unmarshal(b, &v)
				return resp.StatusCode, v
			}
			role := func(access string) string {
				_, b := c.do("GET", "/api/me", access, nil, "")
				var v map[string]string
				json.Unmarshal(b, &v)
				return v["role"]
			}
			sub := "user-" + testsvc.Suffix()
			app.mu.Lock()
			app.roles[sub] = "admin"
			app.mu.Unlock()
			_, r0 := c.login(sub)
			app.mu.Lock()
			app.roles[sub] = "support" // demoted
			app.mu.Unlock()
			code, p1 := refresh(r0)
			if code != 200 || role(p1["access_token"]) != "support" {
				t.Fatalf("refresh: %d, role %q (want the role loaded now)", code, role(p1["access_token"]))
			}
			if code, _ := refresh(r0); code != 401 {
				t.Fatalf("second use of a refresh token: %d, want 401", code)
			}
			if code, _ := refresh(p1["refresh_token"]); code != 401 {
				t.Fatalf("session after a reuse: %d, want 401 (family revoked)", code)
			}
			other := "user-" + testsvc.Suffix()
			_, r := c.login(other)
			app.disable(other)
			if code, _ := refresh(r); code != 401 {
				t.Fatalf("disabled user refreshed: %d", code)
			}
		})
	}
}

// Redis hung (accepts, never answers): authenticated requests are bounded
// by the status cache's deadline, not the client's, and readiness answers
// at once and reports the circuit (issue 13 point 2).
func TestAPIRedisHung(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	dir := t.TempDir()
	writeSecrets(t, dir, map[string]string{"JWT_SECRET": gen(t, keygen.JWT), "JWT_REFRESH_SECRET": gen(t, keygen.JWT)})
	app, err := newApp(context.Background(), config{SecretsDir: dir, RedisURL: "redis://" + l.Addr().String() + "/0?read_timeout=10s&max_retries=-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	c := client{t, srv.URL}
	access, _ := c.login("u-" + testsvc.Suffix())
	for i := 0; i < 8; i++ {
		start := time.Now()
		if resp, b := c.do("GET", "/api/me", access, nil, ""); resp.StatusCode != 200 {
			t.Fatalf("request %d with Redis hung: %d %s", i, resp.StatusCode, b)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("request %d took %v with Redis hung", i, d)
		}
	}
	start := time.Now()
	resp, b := c.do("GET", "/health/ready", "", nil, "")
	if time.Since(start) > 2*time.Second || resp.StatusCode != 200 || !strings.Contains(string(b), `"redis":"failing`) && !strings.Contains(string(b), `"redis":"circuit open`) {
		t.Fatalf("ready with Redis hung: %d %s after %v", resp.StatusCode, b, time.Since(start))
	}
}

// Metrics an operator can trust (issue 13 point 6): a Node token on the
// previous key counts as slot previous (legacy true), failures carry the
// ring, logins are counted, and the reload log names each slot's
// fingerprint.
func TestAPIMetricsAndReloadLog(t *testing.T) {
	dir := t.TempDir()
	oldA, newA := gen(t, keygen.JWT), gen(t, keygen.JWT)
	writeSecrets(t, dir, map[string]string{"JWT_SECRET": newA, "JWT_SECRET_PREVIOUS": oldA, "JWT_REFRESH_SECRET": gen(t, keygen.JWT)})
	var logBuf syncBuffer
	app, err := newApp(context.Background(), config{SecretsDir: dir, Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	c := client{t, srv.URL}
	node, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "n", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(oldA))
	if resp, _ := c.do("GET", "/api/me", node, nil, ""); resp.StatusCode != 200 {
		t.Fatalf("Node token on the previous key: %d", resp.StatusCode)
	}
	c.login("u1")
	c.do("POST", "/login", "", strings.NewReader(""), "application/x-www-form-urlencoded")
	c.do("POST", "/refresh", "", strings.NewReader("refresh_token=garbage"), "application/x-www-form-urlencoded")
	_, m := c.do("GET", "/metrics", "", nil, "")
	for _, want := range []string{
		`auth_jwt_verified_total{legacy="true",ring="access",slot="previous"} 1`,
		`auth_login_total{result="ok"} 1`,
		`auth_login_total{result="failed"} 1`,
		`auth_jwt_verify_failure_total{reason="malformed",ring="refresh"} 1`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	app.keys.Reload()
	eventually(t, "reload logged", func() bool { return strings.Contains(logBuf.String(), "jwt keys: reloaded") })
	line := logBuf.String()
	for _, want := range []string{"access_current=" + fingerprint.OfString(newA), "access_previous=" + fingerprint.OfString(oldA), "access_next=-", "refresh_current="} {
		if !strings.Contains(line, want) {
			t.Errorf("reload log lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, newA) || strings.Contains(line, oldA) {
		t.Error("reload log contains a secret")
	}
}

// Drill settings (issue 13 point 9): short TTL and margin from the
// environment make the previous key retire minutes after promotion.
func TestAPIDrillSettings(t *testing.T) {
	env := map[string]string{"JWT_ACCESS_TTL": "2m", "JWT_REFRESH_TTL": "10m", "JWT_RETIRE_MARGIN": "1m", "JWT_LEEWAY": "5s"}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSecrets(t, dir, map[string]string{"JWT_SECRET": gen(t, keygen.JWT), "JWT_SECRET_PREVIOUS": gen(t, keygen.JWT), "JWT_REFRESH_SECRET": gen(t, keygen.JWT)})
	cfg.SecretsDir = dir
	app, err := newApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, st := range app.keys.Slots() {
		if st.Ring == jwtkeys.Access && st.Slot == secretenv.SlotPrevious {
			if got := st.RetireAt.Sub(st.Since); got != 3*time.Minute {
				t.Fatalf("previous retires %v after promotion, want 3m (access TTL + margin)", got)
			}
		}
	}
	env["JWT_REFRESH_TTL"] = "ten minutes"
	if _, err := configFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "JWT_REFRESH_TTL") {
		t.Fatalf("bad duration: %v", err)
	}
}
