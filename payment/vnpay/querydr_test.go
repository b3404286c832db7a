package vnpay

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goodgo/rotation/payment"
	"github.com/goodgo/rotation/secretenv"
)

// querydrAPI implements VNPay's querydr as documented (sandbox
// merchant_webapi/api/transaction, "truy-van-hoan-tien"): the request's
// vnp_SecureHash is HMAC-SHA512 of
// RequestId|Version|Command|TmnCode|TxnRef|TransactionDate|CreateDate|IpAddr|OrderInfo;
// the response signs its 15 fields pipe-joined. A badly signed request gets
// vnp_ResponseCode 97.
func querydrAPI(secret string, forge bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req QueryDRRequest
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		m := hmac.New(sha512.New, []byte(secret))
		m.Write([]byte(strings.Join([]string{req.RequestID, req.Version, req.Command, req.TmnCode, req.TxnRef, req.TransactionDate, req.CreateDate, req.IPAddr, req.OrderInfo}, "|")))
		resp := APIResponse{ResponseID: "R" + req.RequestID, Command: "querydr", ResponseCode: "00", Message: "QueryDR Success", TmnCode: req.TmnCode,
			TxnRef: req.TxnRef, Amount: "1806000", BankCode: "NCB", PayDate: "20210801153500", TransactionNo: "14422574",
			TransactionType: "01", TransactionStatus: "00", OrderInfo: "Thanh toan don hang"}
		if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(req.SecureHash)) {
			resp = APIResponse{ResponseID: "R", Command: "querydr", ResponseCode: "97", Message: "Invalid Checksum", TmnCode: req.TmnCode, TxnRef: req.TxnRef}
		}
		key := secret
		if forge {
			key = "SOMEONEELSESSECRETSOMEONEELSES00"
		}
		rm := hmac.New(sha512.New, []byte(key))
		rm.Write([]byte(QueryDRResponseHashData(&resp)))
		out := map[string]string{"vnp_SecureHash": hex.EncodeToString(rm.Sum(nil))}
		for i, v := range resp.values(15) {
			out[responseFields[i]] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func TestQueryDR(t *testing.T) {
	c := demoClient(t, current(demoSecret), nil, vecCreateDate)
	req := QueryDRRequest{RequestID: "q1", TxnRef: "5", OrderInfo: "Truy van 5", TransactionDate: "20210801153333", IPAddr: "127.0.0.1"}
	srv := httptest.NewServer(querydrAPI(demoSecret, false))
	defer srv.Close()
	got, err := withAPI(c, srv.URL, srv.Client()).QueryDR(context.Background(), req)
	if err != nil || got.ResponseCode != "00" || got.TransactionStatus != "00" || got.Amount != "1806000" || got.Slot != secretenv.SlotCurrent {
		t.Fatalf("QueryDR = %+v, %v", got, err)
	}
	// VNPay refuses a request signed with another secret (97), and that
	// answer verifies: the application sees why.
	wrong := demoClient(t, current("WRONGSECRETWRONGSECRETWRONGSECRE"), nil, vecCreateDate)
	srvWrong := httptest.NewServer(querydrAPI(demoSecret, false))
	defer srvWrong.Close()
	if _, err := withAPI(wrong, srvWrong.URL, nil).QueryDR(context.Background(), req); !errors.Is(err, payment.ErrBadSignature) {
		t.Fatalf("answer signed with the real secret, verified with the wrong one: %v", err)
	}
	// A response not signed with our secret is refused.
	forged := httptest.NewServer(querydrAPI(demoSecret, true))
	defer forged.Close()
	if _, err := withAPI(c, forged.URL, nil).QueryDR(context.Background(), req); !errors.Is(err, payment.ErrBadSignature) {
		t.Fatalf("forged response: %v", err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) }))
	defer down.Close()
	if _, err := withAPI(c, down.URL, nil).QueryDR(context.Background(), req); !errors.Is(err, ErrAPI) {
		t.Fatalf("API down: %v", err)
	}
	// The URL is the Config's: a Client built without one refuses the call.
	if _, err := c.QueryDR(context.Background(), req); !errors.Is(err, ErrConfig) {
		t.Fatalf("no Config.APIURL: %v", err)
	}
	if _, err := New(Config{TmnCode: "X", HashSecret: current(demoSecret), NoIdempotency: true, APIURL: "not a url"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("relative APIURL: %v", err)
	}
}

// withAPI is c with Config.APIURL and Config.HTTPClient set to url and hc.
func withAPI(c *Client, url string, hc *http.Client) *Client {
	cc := *c
	cc.apiURL, cc.hc = url, hc
	return &cc
}
