package zalopay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// queryAPI implements ZaloPay's /v2/query as documented (docs.zalopay.vn
// v2, "Truy vấn trạng thái đơn hàng"): a form with app_id, app_trans_id and
// mac = HMAC-SHA256(key1, app_id|app_trans_id|key1); a bad mac is answered
// return_code 2 with sub_return_code -402.
func queryAPI(key1 string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		m := hmac.New(sha256.New, []byte(key1))
		m.Write([]byte(r.PostForm.Get("app_id") + "|" + r.PostForm.Get("app_trans_id") + "|" + key1))
		w.Header().Set("Content-Type", "application/json")
		if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.PostForm.Get("mac"))) {
			fmt.Fprint(w, `{"return_code":2,"return_message":"Giao dịch thất bại","sub_return_code":-402,"sub_return_message":"Xác thực thất bại","is_processing":false,"amount":0,"zp_trans_id":0}`)
			return
		}
		fmt.Fprint(w, `{"return_code":1,"return_message":"Giao dịch thành công","sub_return_code":1,"sub_return_message":"","is_processing":false,"amount":50000,"zp_trans_id":240101000000175,"server_time":1704067250000,"discount_amount":0}`)
	})
}

func TestQuery(t *testing.T) {
	c := sandboxClient(t, nil)
	srv := httptest.NewServer(queryAPI(sandboxKey1))
	defer srv.Close()
	got, err := c.Query(context.Background(), srv.URL, srv.Client(), "240101_123456")
	if err != nil || got.ReturnCode != 1 || got.Amount != 50000 || got.ZPTransID != 240101000000175 {
		t.Fatalf("Query = %+v, %v", got, err)
	}
	other := httptest.NewServer(queryAPI("SOMEOTHERKEY1SOMEOTHERKEY1SOMEOT"))
	defer other.Close()
	if got, err := c.Query(context.Background(), other.URL, nil, "240101_123456"); err != nil || got.ReturnCode != 2 || got.SubReturnCode != -402 {
		t.Fatalf("request signed with another key1: %+v, %v", got, err)
	}
	dup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"return_code":1,"amount":1,"Amount":50000}`)
	}))
	defer dup.Close()
	if _, err := c.Query(context.Background(), dup.URL, nil, "x"); !errors.Is(err, ErrAPI) {
		t.Fatalf("duplicate keys: %v", err)
	}
}
