package zalopay

import (
	"strconv"
	"strings"
	"testing"

	"github.com/goodgo/rotation/secretenv"
)

// FuzzLoadConfig: ZALOPAY_APP_ID and the keys come from the environment.
// Any values give a config or an error, never a panic; an accepted app id
// is the positive integer the variable holds; errors never show a key.
func FuzzLoadConfig(f *testing.F) {
	f.Add("2553", "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL", "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz")
	f.Add("-1", "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL", "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz")
	f.Add("99999999999999999999", "k", "k")
	f.Add(" 2553", "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL", "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL")
	f.Fuzz(func(t *testing.T, appID, key1, key2 string) {
		src := secretenv.Map(map[string]string{EnvAppID: appID, EnvKey1: key1, EnvKey2: key2})
		cfg, err := LoadConfig(src)
		if err != nil {
			for _, secret := range []string{key1, key2} {
				if len(secret) >= 12 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a key (message withheld)")
				}
			}
			return
		}
		if n, err := strconv.Atoi(appID); err != nil || n != cfg.AppID || n <= 0 {
			t.Fatalf("app id %d from %q", cfg.AppID, appID)
		}
		if cfg.Key1.Current.Equal(cfg.Key2.Current) {
			t.Fatal("key1 and key2 are the same secret")
		}
	})
}
