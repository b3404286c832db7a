package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// Standard Webhooks header names (lowercase as in the spec; net/http
// canonicalises them).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	// The Svix-branded names of the same headers. Verify reads them when a
	// request carries none of the webhook-* headers.
	SvixHeaderID        = "svix-id"
	SvixHeaderTimestamp = "svix-timestamp"
	SvixHeaderSignature = "svix-signature"
)

// Signer signs outgoing Standard Webhooks messages. While the set's
// previous secret is live (set, before PreviousUntil, not in incident
// mode) every message carries two v1 signatures, current first, so
// receivers on either secret accept it. Safe for concurrent use.
type Signer struct {
	set payment.SecretSet // HMAC keys (whsec_ decoded)
	cfg config
}

// NewSigner returns a Signer for set. Options used: WithClock, WithRawSecrets.
func NewSigner(set payment.SecretSet, opts ...Option) (*Signer, error) {
	cfg := newConfig(opts)
	ks, err := keySet(set, cfg.rawSecrets)
	if err != nil {
		return nil, err
	}
	return &Signer{set: ks, cfg: cfg}, nil
}

// Sign returns the webhook-signature header value for a message: one
// "v1,<base64>" entry per live secret, space-separated.
func (s *Signer) Sign(id string, ts time.Time, body []byte) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	var b []byte
	b = appendSig(b, s.set.Current, id, ts.Unix(), body)
	if s.set.PreviousLive(s.cfg.now()) {
		b = append(b, ' ')
		b = appendSig(b, s.set.Previous, id, ts.Unix(), body)
	}
	return string(b), nil
}

// SignRequest sets webhook-id, webhook-timestamp (now) and
// webhook-signature on req for body, and Content-Type to application/json
// when it is unset. body must be exactly what req sends.
func (s *Signer) SignRequest(req *http.Request, id string, body []byte) error {
	now := s.cfg.now()
	sig, err := s.Sign(id, now, body)
	if err != nil {
		return err
	}
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return nil
}

// NewRequest returns a POST of body to url, signed with id (see
// SignRequest), ready for an http.Client.
func (s *Signer) NewRequest(ctx context.Context, url, id string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if err := s.SignRequest(req, id, body); err != nil {
		return nil, err
	}
	return req, nil
}

func appendSig(dst []byte, key fingerprint.Secret, id string, ts int64, body []byte) []byte {
	var sum [sha256.Size]byte
	mac(key, id, ts, body, sum[:0])
	dst = append(dst, "v1,"...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// mac is HMAC-SHA256(key, id "." ts "." body).
func mac(key fingerprint.Secret, id string, ts int64, body, dst []byte) []byte {
	m := hmac.New(sha256.New, key.Bytes())
	writeContent(m, id, ts, body)
	return m.Sum(dst)
}

func writeContent(h hash.Hash, id string, ts int64, body []byte) {
	var b [24]byte
	h.Write([]byte(id))
	n := strconv.AppendInt(append(b[:0], '.'), ts, 10)
	h.Write(append(n, '.'))
	h.Write(body)
}

func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: webhook-id is empty", payment.ErrMalformed)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: webhook-id longer than %d bytes", payment.ErrMalformed, MaxIDLen)
	}
	// The id is part of the signed content "id.ts.body", so it may contain
	// anything printable except what would make the header unreadable.
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] == 0x7f {
			return fmt.Errorf("%w: webhook-id contains a space or control character", payment.ErrMalformed)
		}
	}
	return nil
}

// Message is a verified Standard Webhooks message.
type Message struct {
	ID        string
	Timestamp time.Time
	// Body is exactly the signed bytes.
	Body []byte
	// Slot says which secret verified it.
	Slot secretenv.Slot
}

// Verifier verifies incoming Standard Webhooks messages against a secret
// set. Safe for concurrent use.
type Verifier struct {
	set payment.SecretSet // HMAC keys (whsec_ decoded)
	cfg config
}

// NewVerifier returns a Verifier for set. Options used: WithClock,
// WithTolerance, WithObserver, WithIdempotencyStore or WithoutIdempotency
// (one is required), WithIdempotencyFailOpen, WithMaxBody and WithLogger (the
// last four by Handler).
func NewVerifier(set payment.SecretSet, opts ...Option) (*Verifier, error) {
	cfg := newConfig(opts)
	if err := cfg.checkIdempotency(); err != nil {
		return nil, err
	}
	ks, err := keySet(set, cfg.rawSecrets)
	if err != nil {
		return nil, err
	}
	return &Verifier{set: ks, cfg: cfg}, nil
}

// Verify checks a message given its headers and raw body: the three
// headers are present and within their size caps, the timestamp is within
// the tolerance, and one v1 signature matches a live secret (compared in
// constant time; other versions are ignored). It does not de-duplicate:
// Handler does, through the idempotency store keyed on webhook-id; a
// caller that does not use Handler must de-duplicate on Message.ID itself.
//
// Verify reports Verified or SignatureFailed to the observer; refusals of
// the whole request are reported by Handler.
func (v *Verifier) Verify(_ context.Context, h http.Header, body []byte) (Message, error) {
	m, err := v.verify(h, body)
	if err != nil {
		v.cfg.obs.SignatureFailed(ProviderBank, payment.ReasonOf(err))
		return Message{}, err
	}
	v.cfg.obs.Verified(ProviderBank, m.Slot)
	return m, nil
}

func (v *Verifier) verify(h http.Header, body []byte) (Message, error) {
	names := [3]string{HeaderID, HeaderTimestamp, HeaderSignature}
	if len(h.Values(HeaderID)) == 0 && len(h.Values(HeaderTimestamp)) == 0 && len(h.Values(HeaderSignature)) == 0 {
		// Svix-branded senders: the same scheme under svix-* names. Only when
		// no webhook-* header is present, so one request has one reading.
		names = [3]string{SvixHeaderID, SvixHeaderTimestamp, SvixHeaderSignature}
	}
	for _, name := range names {
		if len(h.Values(name)) > 1 {
			// Which copy was signed is ambiguous: refuse rather than pick one.
			return Message{}, fmt.Errorf("%w: %s header repeated", payment.ErrMalformed, name)
		}
	}
	id, tsText, sigs := h.Get(names[0]), h.Get(names[1]), h.Get(names[2])
	if sigs == "" {
		return Message{}, fmt.Errorf("%w: no %s header", payment.ErrMissingSignature, names[2])
	}
	if id == "" || tsText == "" {
		return Message{}, fmt.Errorf("%w: %s and %s are required", payment.ErrMalformed, names[0], names[1])
	}
	return v.VerifyParts(id, tsText, sigs, body)
}

// VerifyParts is Verify without the headers map and without replay
// protection or observer: id, timestamp and signature are the header
// values.
func (v *Verifier) VerifyParts(id, timestamp, signature string, body []byte) (Message, error) {
	if err := checkID(id); err != nil {
		return Message{}, err
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return Message{}, err
	}
	if len(signature) > MaxSignatureHeaderLen {
		return Message{}, fmt.Errorf("%w: %s longer than %d bytes", payment.ErrMalformed, HeaderSignature, MaxSignatureHeaderLen)
	}
	now := v.cfg.now()
	if !v.cfg.inWindow(time.Unix(ts, 0), now) {
		return Message{}, fmt.Errorf("%w: webhook-timestamp %d is more than %s from now; check the sender's clock", payment.ErrTimestamp, ts, v.cfg.tolerance)
	}
	var curBuf, prevBuf [sha256.Size]byte
	cur := mac(v.set.Current, id, ts, body, curBuf[:0])
	var prev []byte
	if !v.set.Previous.IsZero() {
		prev = mac(v.set.Previous, id, ts, body, prevBuf[:0])
	}
	var okCur, okPrev, sawV1 bool
	var got [48]byte // ≥ DecodedLen(44) = 33: a 44-character entry without padding decodes to 33 bytes
	for entry := range strings.SplitSeq(signature, " ") {
		ver, sig, found := strings.Cut(entry, ",")
		if !found || ver != "v1" {
			continue // empty entries, other versions (v1a, v2): ignored per spec
		}
		sawV1 = true
		if len(sig) != base64.StdEncoding.EncodedLen(sha256.Size) {
			continue
		}
		n, err := strictBase64.Decode(got[:], []byte(sig))
		if err != nil || n != sha256.Size {
			continue
		}
		okCur = hmac.Equal(got[:n], cur) || okCur
		if prev != nil {
			okPrev = hmac.Equal(got[:n], prev) || okPrev
		}
	}
	if !sawV1 {
		return Message{}, fmt.Errorf("%w: no v1 entry in %s", payment.ErrMissingSignature, HeaderSignature)
	}
	slot, err := slotOf(&v.set, okCur, okPrev, now)
	if err != nil {
		return Message{}, err
	}
	return Message{ID: id, Timestamp: time.Unix(ts, 0), Body: body, Slot: slot}, nil
}

func parseTimestamp(s string) (int64, error) {
	// Canonical digits only (no sign, no leading zero), so one timestamp
	// has one accepted spelling.
	if len(s) == 0 || len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: webhook-timestamp must be unix seconds", payment.ErrMalformed)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: webhook-timestamp must be unix seconds", payment.ErrMalformed)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: webhook-timestamp must be unix seconds", payment.ErrMalformed)
	}
	return ts, nil
}

// strictBase64 refuses non-zero padding bits, so one signature has exactly
// one accepted spelling.
var strictBase64 = base64.StdEncoding.Strict()
