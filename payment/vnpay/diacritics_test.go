package vnpay

import "testing"

func TestStripDiacritics(t *testing.T) {
	for in, want := range map[string]string{
		"Thanh toán đơn hàng ĐH-42":        "Thanh toan don hang DH-42",
		"Nguyễn Thị Ánh Tuyết, Quảng Ngãi": "Nguyen Thi Anh Tuyet, Quang Ngai",
		"Thanh toa\u0301n (NFD)":           "Thanh toan (NFD)",
		"plain ascii :5":                   "plain ascii :5",
		"ỨỪỬỮỰ ứừửữự ơờởỡợ ăắằẳẵặ âấầẩẫậ": "UUUUU uuuuu ooooo aaaaaa aaaaaa",
		"日本 €": "日本 €",
	} {
		if got := StripDiacritics(in); got != want {
			t.Errorf("StripDiacritics(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzStripDiacritics(f *testing.F) {
	f.Add("Thanh toán đơn hàng")
	f.Fuzz(func(t *testing.T, s string) {
		out := StripDiacritics(s)
		if StripDiacritics(out) != out {
			t.Fatalf("not idempotent on %q", s)
		}
	})
}
