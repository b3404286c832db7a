package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/momo"
	"github.com/goodgo/rotation/payment/vnpay"
	"github.com/goodgo/rotation/payment/webhook"
	"github.com/goodgo/rotation/payment/zalopay"
	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "payment", summary: "payment provider checks (smoke)", run: runPayment})
}

func runPayment(ctx context.Context, env *Env, args []string) int {
	return subcommand(ctx, env, "payment", args, map[string]command{
		"smoke": {name: "smoke", summary: "sign a sandbox-shaped request and verify matching callbacks with the configured secrets", run: runPaymentSmoke},
	})
}

const smokeSynopsis = `rotate payment smoke [--callback] [--dir DIR] [--raw-secrets] <vnpay|momo|zalopay|webhook>

Loads the provider's secrets from the environment, or with --dir from one
file per variable in DIR (a mounted secret, like rotate jwt --dir): VNPAY_*,
MOMO_*, ZALOPAY_*, BANK_TRANSFER_WEBHOOK_SECRET*, each with *_PREVIOUS and
*_PREVIOUS_UNTIL. --raw-secrets (webhook only) reads a webhook secret without
the whsec_ prefix as raw key bytes, as secrets deployed before the Standard
Webhooks format were (webhook.WithRawSecrets); whsec_ values are still
decoded, so a raw previous and a whsec_ current check side by side.

It prints the secrets' fingerprints, signs a sandbox-shaped request with the current
secret, then plays the provider: a callback signed with the current secret
must verify with slot "current", and one signed with the previous secret must
verify with slot "previous" while its window is open and be refused after.

With --callback, a real callback is read from stdin and verified instead:
  vnpay    the IPN or Return URL query (or the whole URL)
  momo     the IPN JSON body
  zalopay  the callback JSON body
  webhook  the webhook-id, webhook-timestamp and webhook-signature header
           lines, a blank line, then the body

Exit 0 when every check passed, 1 when one failed, 2 on bad usage.`

// smoke is one provider's smoke test.
type smoke struct {
	secrets  []smokeSecret
	sign     func() (string, error)                  // signs the sandbox-shaped request, returns what to show
	current  func() (secretenv.Slot, error)          // a callback signed with the current secret, verified
	previous func() (secretenv.Slot, bool, error)    // same with the previous secret; false when none
	callback func(in []byte) (secretenv.Slot, error) // verifies a real callback
	until    time.Time                               // end of the previous window (zero: none)
}

type smokeSecret struct {
	name string
	set  payment.SecretSet
}

// smokeJSON is the --json document of rotate payment smoke.
type smokeJSON struct {
	Command  string           `json:"command"`
	Provider string           `json:"provider"`
	Secrets  []smokeSecretRow `json:"secrets"`
	Checks   []smokeCheck     `json:"checks"`
	OK       bool             `json:"ok"`
}

type smokeSecretRow struct {
	Variable            string     `json:"variable"`
	CurrentFingerprint  string     `json:"current_fingerprint"`
	PreviousFingerprint string     `json:"previous_fingerprint,omitempty"`
	PreviousUntil       *time.Time `json:"previous_until,omitempty"`
	PreviousWindow      string     `json:"previous_window,omitempty"` // open or closed
}

// smokeCheck is one check: what was tried, whether it passed, the slot that
// verified (when one did) and a one-line detail.
type smokeCheck struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Slot   string `json:"slot,omitempty"`
	Detail string `json:"detail"`
}

func runPaymentSmoke(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "payment smoke", smokeSynopsis)
	callback := fs.Bool("callback", false, "verify a real callback read from stdin")
	dir := fs.String("dir", "", "read the secrets from files in this directory (a mounted secret) instead of the environment")
	raw := fs.Bool("raw-secrets", false, "webhook: a secret without whsec_ is raw key bytes (secrets deployed before the Standard Webhooks format)")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	src := env.Vars
	if *dir != "" {
		src = secretenv.Dir(*dir)
	}
	if fs.NArg() != 1 {
		return wrongArgs(fs, "one provider (vnpay, momo, zalopay or webhook)")
	}
	asJSON := of.json(env)
	provider := fs.Arg(0)
	now := env.now()
	var s *smoke
	var err error
	if *raw && provider != "webhook" {
		fmt.Fprintf(env.Stderr, "rotate payment smoke: --raw-secrets applies to webhook only\n")
		return exitUsage
	}
	switch provider {
	case vnpay.Provider:
		s, err = vnpaySmoke(src, now)
	case momo.Provider:
		s, err = momoSmoke(src, now)
	case zalopay.Provider:
		s, err = zalopaySmoke(src, now)
	case "webhook":
		s, err = webhookSmoke(src, now, *raw)
	default:
		fmt.Fprintf(env.Stderr, "rotate payment smoke: unknown provider %q: want vnpay, momo, zalopay or webhook\n\n", provider)
		fs.Usage()
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate payment smoke %s: %v\n", provider, err)
		if errors.Is(err, webhook.ErrBadSecret) {
			fmt.Fprintln(env.Stderr, "rotate payment smoke: for a raw secret deployed before whsec_, add --raw-secrets")
		}
		return exitCheck
	}
	doc := smokeJSON{Command: "payment smoke", Provider: provider, Secrets: []smokeSecretRow{}, Checks: []smokeCheck{}, OK: true}
	out := env.Stdout
	for _, sec := range s.secrets {
		row := smokeSecretRow{Variable: sec.name, CurrentFingerprint: sec.set.Current.Fingerprint()}
		if !sec.set.Previous.IsZero() {
			row.PreviousFingerprint, row.PreviousUntil, row.PreviousWindow = sec.set.Previous.Fingerprint(), utcPtr(sec.set.PreviousUntil), "open"
			if !sec.set.PreviousLive(now) {
				row.PreviousWindow = "closed"
			}
		}
		doc.Secrets = append(doc.Secrets, row)
		if asJSON {
			continue
		}
		fmt.Fprintf(out, "%-8s %s current fp=%s", provider, sec.name, row.CurrentFingerprint)
		if row.PreviousFingerprint != "" {
			fmt.Fprintf(out, ", previous fp=%s accepted until %s (%s)", row.PreviousFingerprint, env.fmtTimeSeconds(sec.set.PreviousUntil), row.PreviousWindow)
		}
		fmt.Fprintln(out)
	}
	// report records one check; the human line is its detail, prefixed.
	report := func(check string, ok bool, slot secretenv.Slot, format string, args ...any) {
		c := smokeCheck{Check: check, OK: ok, Slot: string(slot), Detail: fmt.Sprintf(format, args...)}
		doc.Checks = append(doc.Checks, c)
		doc.OK = doc.OK && ok
		if !asJSON {
			mark := "ok  "
			if !ok {
				mark = "FAIL"
			}
			fmt.Fprintf(out, "%s %s\n", mark, c.Detail)
		}
	}
	finish := func() int {
		if asJSON {
			writeJSON(out, doc)
		}
		if !doc.OK {
			return exitCheck
		}
		return exitOK
	}

	if *callback {
		in, err := io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate payment smoke %s: reading stdin: %v\n", provider, err)
			return exitUsage
		}
		slot, err := s.callback(in)
		if err != nil {
			report("callback", false, "", "callback: %v", err)
		} else {
			report("callback", true, slot, "callback verified with slot %s", slot)
		}
		return finish()
	}

	if shown, err := s.sign(); err != nil {
		report("sign_request", false, "", "sign request: %v", err)
	} else {
		report("sign_request", true, "", "signed request: %s", shown)
	}
	if slot, err := s.current(); err != nil || slot != secretenv.SlotCurrent {
		report("current_secret_callback", false, slot, "callback signed with the current secret: slot %q, %v", slot, err)
	} else {
		report("current_secret_callback", true, slot, "callback signed with the current secret: verified, slot current")
	}
	slot, has, err := s.previous()
	const prev = "previous_secret_callback"
	switch {
	case !has:
		report(prev, true, "", "no previous secret configured")
	case now.Before(s.until) && (err != nil || slot != secretenv.SlotPrevious):
		report(prev, false, slot, "callback signed with the previous secret inside its window: slot %q, %v", slot, err)
	case now.Before(s.until):
		report(prev, true, slot, "callback signed with the previous secret: verified, slot previous (window closes %s)", env.fmtTimeSeconds(s.until))
	case err == nil:
		report(prev, false, slot, "callback signed with the previous secret after its window was accepted (slot %s)", slot)
	default:
		report(prev, true, "", "callback signed with the previous secret: refused, its window closed at %s (%v)", env.fmtTimeSeconds(s.until), err)
	}
	if doc.OK && !asJSON {
		fmt.Fprintf(out, "ok   %s\n", provider)
	}
	return finish()
}

// previousWindow is the window of the previous slot: the earliest deadline
// among the rotated sets, and whether any set has a previous secret.
func previousWindow(sets ...payment.SecretSet) (time.Time, bool) {
	var until time.Time
	has := false
	for _, s := range sets {
		if s.Previous.IsZero() {
			continue
		}
		if !has || s.PreviousUntil.Before(until) {
			until = s.PreviousUntil
		}
		has = true
		if s.Incident {
			until = time.Time{}
		}
	}
	return until, has
}

func vnpaySmoke(src secretenv.Source, now time.Time) (*smoke, error) {
	cfg, err := vnpay.LoadConfig(src)
	if err != nil {
		return nil, err
	}
	cfg.Now = func() time.Time { return now }
	cfg.NoIdempotency = true // the smoke test verifies signatures; it runs no IPN handler
	c, err := vnpay.New(cfg)
	if err != nil {
		return nil, err
	}
	ref := "SMOKE" + strconv.FormatInt(now.Unix(), 10)
	ipn := map[string]string{
		"vnp_Amount": "1000000", "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP" + ref, "vnp_CardType": "ATM",
		"vnp_OrderInfo": "Kiem tra xoay vong khoa " + ref, "vnp_PayDate": vnpay.FormatDate(now), "vnp_ResponseCode": "00",
		"vnp_TmnCode": cfg.TmnCode, "vnp_TransactionNo": "14422574", "vnp_TransactionStatus": "00", "vnp_TxnRef": ref,
	}
	verify := func(signer *vnpay.Client) (secretenv.Slot, error) {
		q, err := signer.SignParams(ipn)
		if err != nil {
			return "", err
		}
		n, err := c.VerifyIPN(q)
		if err != nil {
			return "", err
		}
		return n.Slot, nil
	}
	until, _ := previousWindow(cfg.HashSecret)
	return &smoke{
		secrets: []smokeSecret{{"VNPAY_HASH_SECRET", cfg.HashSecret}},
		until:   until,
		sign: func() (string, error) {
			return c.PaymentURL(vnpay.SandboxURL, vnpay.PaymentRequest{Amount: 10000, TxnRef: ref, OrderInfo: "Kiem tra xoay vong khoa " + ref,
				ReturnURL: "https://example.invalid/vnpay/return", IPAddr: "127.0.0.1"})
		},
		current:  func() (secretenv.Slot, error) { return verify(c) },
		previous: viaPrevious(c.Previous, verify),
		callback: func(in []byte) (secretenv.Slot, error) {
			q := strings.TrimSpace(string(in))
			if i := strings.IndexByte(q, '?'); i >= 0 {
				q = q[i+1:]
			}
			n, err := c.VerifyIPN(q)
			if err != nil {
				return "", err
			}
			return n.Slot, nil
		},
	}, nil
}

func momoSmoke(src secretenv.Source, now time.Time) (*smoke, error) {
	cfg, err := momo.LoadConfig(src)
	if err != nil {
		return nil, err
	}
	cfg.Now = func() time.Time { return now }
	cfg.NoIdempotency = true // the smoke test verifies signatures; it runs no IPN handler
	c, err := momo.New(cfg)
	if err != nil {
		return nil, err
	}
	ref := "SMOKE" + strconv.FormatInt(now.UnixMilli(), 10)
	n := func() *momo.Notification {
		return &momo.Notification{PartnerCode: cfg.PartnerCode, OrderID: ref, RequestID: ref, Amount: 10000,
			OrderInfo: "Kiểm tra xoay vòng khóa", OrderType: "momo_wallet", TransID: 4088878653, ResultCode: momo.ResultSuccess,
			Message: "Successful.", PayType: "qr", ResponseTime: now.UnixMilli()}
	}
	verify := func(signer *momo.Client) (secretenv.Slot, error) {
		body, err := signer.SignIPN(n())
		if err != nil {
			return "", err
		}
		got, err := c.VerifyIPN(body)
		if err != nil {
			return "", err
		}
		return got.Slot, nil
	}
	until, _ := previousWindow(cfg.AccessKey, cfg.SecretKey)
	return &smoke{
		secrets: []smokeSecret{{"MOMO_ACCESS_KEY", cfg.AccessKey}, {"MOMO_SECRET_KEY", cfg.SecretKey}},
		until:   until,
		sign: func() (string, error) {
			r := momo.CreateRequest{RequestID: ref, OrderID: ref, Amount: 10000, OrderInfo: "Kiem tra xoay vong khoa",
				RedirectURL: "https://example.invalid/momo/return", IPNURL: "https://example.invalid/momo/ipn"}
			if err := c.SignCreate(&r); err != nil {
				return "", err
			}
			return "create " + r.OrderID + " signature " + r.Signature, nil
		},
		current:  func() (secretenv.Slot, error) { return verify(c) },
		previous: viaPrevious(c.Previous, verify),
		callback: func(in []byte) (secretenv.Slot, error) {
			got, err := c.VerifyIPN(in)
			if err != nil {
				return "", err
			}
			return got.Slot, nil
		},
	}, nil
}

func zalopaySmoke(src secretenv.Source, now time.Time) (*smoke, error) {
	cfg, err := zalopay.LoadConfig(src)
	if err != nil {
		return nil, err
	}
	cfg.Now = func() time.Time { return now }
	cfg.NoIdempotency = true // the smoke test verifies signatures; it runs no IPN handler
	c, err := zalopay.New(cfg)
	if err != nil {
		return nil, err
	}
	transID := zalopay.AppTransID(now, "smoke"+strconv.FormatInt(now.Unix(), 10))
	data := fmt.Sprintf(`{"app_id":%d,"app_trans_id":%q,"app_time":%d,"app_user":"smoke","amount":10000,"embed_data":"{}","item":"[]",`+
		`"zp_trans_id":%d,"server_time":%d,"channel":38,"merchant_user_id":"smoke","user_fee_amount":0,"discount_amount":0}`,
		cfg.AppID, transID, now.UnixMilli(), now.Unix(), now.UnixMilli())
	verify := func(signer *zalopay.Client) (secretenv.Slot, error) {
		body, err := signer.SignCallback(data, zalopay.TypeOrder)
		if err != nil {
			return "", err
		}
		cb, err := c.VerifyCallback(body)
		if err != nil {
			return "", err
		}
		return cb.Slot, nil
	}
	until, _ := previousWindow(cfg.Key2)
	return &smoke{
		secrets: []smokeSecret{{"ZALOPAY_KEY1", cfg.Key1}, {"ZALOPAY_KEY2", cfg.Key2}},
		until:   until,
		sign: func() (string, error) {
			o := zalopay.Order{AppTransID: transID, AppUser: "smoke", Amount: 10000, Description: "Kiem tra xoay vong khoa"}
			if err := c.SignOrder(&o); err != nil {
				return "", err
			}
			return "order " + o.AppTransID + " mac " + o.Mac, nil
		},
		current:  func() (secretenv.Slot, error) { return verify(c) },
		previous: viaPrevious(c.Previous, verify),
		callback: func(in []byte) (secretenv.Slot, error) {
			cb, err := c.VerifyCallback(in)
			if err != nil {
				return "", err
			}
			return cb.Slot, nil
		},
	}, nil
}

func webhookSmoke(src secretenv.Source, now time.Time, raw bool) (*smoke, error) {
	opts := []webhook.Option{webhook.WithClock(func() time.Time { return now })}
	if raw {
		opts = append(opts, webhook.WithRawSecrets())
	}
	set, err := webhook.LoadSecrets(src, opts...)
	if err != nil {
		return nil, err
	}
	v, err := webhook.NewVerifier(set, append(opts, webhook.WithoutIdempotency())...) // signatures only, no handler
	if err != nil {
		return nil, err
	}
	signer, err := webhook.NewSigner(set, opts...)
	if err != nil {
		return nil, err
	}
	id := "msg_smoke" + strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"type":"bank_transfer.received","data":{"amount":10000,"description":"Kiểm tra xoay vòng khóa"}}`)
	verifyWith := func(s fingerprint.Secret) (secretenv.Slot, error) {
		one, err := webhook.NewSigner(payment.SecretSet{Current: s}, opts...)
		if err != nil {
			return "", err
		}
		sig, err := one.Sign(id, now, body)
		if err != nil {
			return "", err
		}
		m, err := v.VerifyParts(id, strconv.FormatInt(now.Unix(), 10), sig, body)
		if err != nil {
			return "", err
		}
		return m.Slot, nil
	}
	until, _ := previousWindow(set)
	return &smoke{
		secrets: []smokeSecret{{"BANK_TRANSFER_WEBHOOK_SECRET", set}},
		until:   until,
		sign: func() (string, error) {
			sig, err := signer.Sign(id, now, body)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s with %d signature(s)", id, len(strings.Fields(sig))), nil
		},
		current: func() (secretenv.Slot, error) { return verifyWith(set.Current) },
		previous: func() (secretenv.Slot, bool, error) {
			if set.Previous.IsZero() {
				return "", false, nil
			}
			slot, err := verifyWith(set.Previous)
			return slot, true, err
		},
		callback: func(in []byte) (secretenv.Slot, error) {
			h, b, err := splitHeaders(in)
			if err != nil {
				return "", err
			}
			m, err := v.VerifyParts(h.Get(webhook.HeaderID), h.Get(webhook.HeaderTimestamp), h.Get(webhook.HeaderSignature), b)
			if err != nil {
				return "", err
			}
			return m.Slot, nil
		},
	}, nil
}

// splitHeaders reads "Name: value" lines up to a blank line, then the body.
func splitHeaders(in []byte) (http.Header, []byte, error) {
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(string(in))))
	h, err := r.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, nil, fmt.Errorf("reading the header lines: %w", err)
	}
	body, _ := io.ReadAll(r.R)
	return http.Header(h), body, nil
}

// viaPrevious returns a smoke.previous check for a provider client: verify a
// message signed by the client's previous-secret twin, or report that no
// previous secret is configured.
func viaPrevious[C any](previous func() (C, bool), verify func(C) (secretenv.Slot, error)) func() (secretenv.Slot, bool, error) {
	return func() (secretenv.Slot, bool, error) {
		p, ok := previous()
		if !ok {
			return "", false, nil
		}
		slot, err := verify(p)
		return slot, true, err
	}
}
