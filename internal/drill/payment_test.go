package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The providers' callbacks carry the dates of the drill's clock, in the
// providers' own formats: VNPay's vnp_PayDate (yyyyMMddHHmmss, GMT+7),
// MoMo's responseTime (ms), ZaloPay's yymmdd-prefixed app_trans_id and
// zp_trans_id and its app_time/server_time (ms), never a fixed date.
func TestProviderFixturesAreOfTheClocksDay(t *testing.T) {
	// 20:00 UTC is already the next day in Vietnam.
	now := time.Date(2031, 3, 4, 20, 0, 0, 0, time.UTC)
	sec, err := providerSecrets(2)
	if err != nil {
		t.Fatal(err)
	}
	req, err := vnpayProvider().send(sec[0], 7, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.Query().Get("vnp_PayDate"); got != "20310305030000" {
		t.Errorf("vnp_PayDate %q, want 20310305030000", got)
	}
	body := func(pv provider) map[string]any {
		t.Helper()
		req, err := pv.send(sec[0], 7, now)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := body(momoProvider(sec[1][:16]))["responseTime"]; got != json.Number(strconv.FormatInt(now.UnixMilli(), 10)) {
		t.Errorf("MoMo responseTime %v, want %d", got, now.UnixMilli())
	}
	cb := body(zalopayProvider(sec[1]))
	var data map[string]any
	d := json.NewDecoder(strings.NewReader(cb["data"].(string)))
	d.UseNumber()
	if err := d.Decode(&data); err != nil {
		t.Fatal(err)
	}
	if id := data["app_trans_id"].(string); !strings.HasPrefix(id, "310305_") {
		t.Errorf("app_trans_id %q, want the yymmdd of the day in Vietnam (310305_…)", id)
	}
	if zp := data["zp_trans_id"].(json.Number).String(); !strings.HasPrefix(zp, "310305") {
		t.Errorf("zp_trans_id %s does not start with 310305", zp)
	}
	if st := data["server_time"].(json.Number).String(); st != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Errorf("server_time %s, want %d", st, now.UnixMilli())
	}
}

// The payment phase passes on any day: its deadlines and fixtures come
// from Options.Now, here a clock 400 days away from the real one.
func TestPaymentPhaseOnAnotherDay(t *testing.T) {
	later := func() time.Time { return time.Now().Add(400 * 24 * time.Hour) }
	r := Run(context.Background(), Options{Only: []string{"payment"}, Now: later})
	if len(r.Phases) != 1 || r.Phases[0].Outcome != Passed || r.Phases[0].PaymentFailures != 0 {
		t.Fatalf("payment phase on another day: %+v", r.Phases)
	}
}
