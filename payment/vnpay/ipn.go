package vnpay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/payment/internal/idem"
)

// IPNResponse is the JSON body VNPay expects in answer to an IPN, always
// with HTTP 200. VNPay acts on RspCode; Message is for people.
type IPNResponse struct {
	RspCode string `json:"RspCode"`
	Message string `json:"Message"`
}

// The documented IPN answers (VNPay's IPN demo).
var (
	// ConfirmSuccess: the order was found, the amount matched and the
	// result is recorded. VNPay stops retrying.
	ConfirmSuccess = IPNResponse{"00", "Confirm Success"}
	// OrderNotFound: no order with this vnp_TxnRef.
	OrderNotFound = IPNResponse{"01", "Order not found"}
	// OrderAlreadyConfirmed: the order was already updated (a retry).
	OrderAlreadyConfirmed = IPNResponse{"02", "Order already confirmed"}
	// InvalidAmount: vnp_Amount differs from the order's amount.
	InvalidAmount = IPNResponse{"04", "Invalid amount"}
	// InvalidSignature: the checksum did not verify (sent by IPNHandler).
	InvalidSignature = IPNResponse{"97", "Invalid signature"}
	// UnknownError: anything else; VNPay retries.
	UnknownError = IPNResponse{"99", "Unknown error"}
)

// Write sends r as VNPay expects: HTTP 200, JSON.
func (r IPNResponse) Write(w http.ResponseWriter) { r.write(w, http.StatusOK) }

func (r IPNResponse) write(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}

var errRetry = errors.New("vnpay: callback answered UnknownError")

// idemKey names a transaction in the idempotency store.
func (c *Client) idemKey(n *Notification) string {
	return idem.Key(Provider, n.TmnCode, n.TxnRef, n.TransactionNo, n.TransactionStatus)
}

// IPNFunc handles a verified IPN and says what to answer: one of
// ConfirmSuccess, OrderNotFound, OrderAlreadyConfirmed, InvalidAmount or
// UnknownError. An empty RspCode is sent as UnknownError.
type IPNFunc func(ctx context.Context, n *Notification) IPNResponse

// IPNHandler returns the handler for VNPay's IPN URL. VNPay calls it with
// GET and the signed parameters in the query. The handler verifies them
// (VerifyIPN), calls fn with the notification and writes fn's answer.
//
// Duplicates (Config.Idempotency): fn runs at most once per transaction.
// An answer other than UnknownError is final for VNPay, so the
// transaction is marked processed and a repeat is answered RspCode 02
// (OrderAlreadyConfirmed) without calling fn; UnknownError releases it so
// VNPay's retry reaches fn again. A repeat arriving while fn still runs,
// or an idempotency store failure, is answered RspCode 99 (VNPay retries
// later). fn's context ends with the claim's lease. Each of these is
// reported to IPNRejected with payment.ReasonAlreadyProcessed,
// ReasonInProgress or ReasonStoreUnavailable.
//
// Refusals, without calling fn, each reported to the observer's
// IPNRejected:
//   - RspCode 97: vnp_SecureHash missing, or well-formed (128 hex digits)
//     but matching neither secret, made with the previous secret after its
//     window, or a repeated vnp_* parameter (which copy was signed is
//     ambiguous).
//   - RspCode 99: a malformed query or signature (vnp_SecureHash of another
//     length or not hex, a bad escape among the signed vnp_* parameters),
//     or a signed notification that lacks what an IPN
//     needs: vnp_TxnRef and vnp_ResponseCode present, vnp_Amount a multiple
//     of 100 (VNPay sends VND × 100), vnp_TmnCode equal to the configured
//     terminal.
//   - HTTP 405 for another method than GET and 414 for a query over
//     MaxQueryLen, both with a JSON body saying what was wrong.
func (c *Client) IPNHandler(fn IPNFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			c.obs.IPNRejected(Provider, payment.ReasonMethod)
			w.Header().Set("Allow", http.MethodGet)
			IPNResponse{"99", "method " + r.Method + " not allowed: VNPay sends IPNs with GET"}.write(w, http.StatusMethodNotAllowed)
			return
		}
		if len(r.URL.RawQuery) > MaxQueryLen {
			c.obs.IPNRejected(Provider, payment.ReasonBodyTooLarge)
			IPNResponse{"99", "query too long"}.write(w, http.StatusRequestURITooLong)
			return
		}
		n, err := c.VerifyIPN(r.URL.RawQuery)
		if err != nil {
			reason := payment.ReasonOf(err)
			c.obs.IPNRejected(Provider, reason)
			switch {
			case errors.Is(err, payment.ErrWrongMerchant):
				IPNResponse{"99", "vnp_TmnCode is not this merchant's"}.Write(w)
			case reason == payment.ReasonMalformed:
				IPNResponse{"99", "malformed IPN query"}.Write(w)
			default:
				InvalidSignature.Write(w)
			}
			return
		}
		var resp IPNResponse
		out, _ := c.guard.Run(r.Context(), c.idemKey(n), func(ctx context.Context) error {
			resp = fn(ctx, n)
			if resp.RspCode == "" {
				resp = UnknownError
			}
			if resp.RspCode == UnknownError.RspCode {
				return errRetry
			}
			return nil
		})
		switch out {
		case idem.Duplicate:
			c.obs.IPNRejected(Provider, payment.ReasonAlreadyProcessed)
			resp = OrderAlreadyConfirmed
		case idem.InProgress:
			c.obs.IPNRejected(Provider, payment.ReasonInProgress)
			resp = IPNResponse{"99", "being processed; retry later"}
		case idem.StoreDown:
			c.obs.IPNRejected(Provider, payment.ReasonStoreUnavailable)
			resp = UnknownError
		case idem.Failed:
			c.obs.IPNRejected(Provider, payment.ReasonCallback)
		}
		resp.Write(w)
	})
}
