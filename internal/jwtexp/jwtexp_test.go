package jwtexp

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	tok := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	if got := Of(tok(`{"exp":1700000000,"sub":"u"}`)); !got.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("Of = %v", got)
	}
	for _, bad := range []string{"", "a.b", tok(`{"sub":"u"}`), tok(`{"exp":"9"}`), "e30.!!!.sig", tok(`not json`)} {
		if got := Of(bad); !got.IsZero() {
			t.Errorf("Of(%q) = %v, want zero", bad, got)
		}
	}
}
