package secretenv_test

import (
	"fmt"

	"github.com/goodgo/rotation/secretenv"
)

func Example() {
	src := secretenv.Map(map[string]string{
		"JWT_SECRET":         "kc6tTSHu+jKgSig6NGFEUEaeIMGDC++DhIl5kOrrqK9yvOhsw+znXm2+TlknedbQ",
		"JWT_REFRESH_SECRET": "too-short",
	})
	if _, err := secretenv.Require(src, "JWT_REFRESH_SECRET", secretenv.HMACRule); err != nil {
		fmt.Println(err)
	}
	jwt, _ := secretenv.LookupClass("jwt")
	for _, f := range secretenv.Check(src, []secretenv.Class{jwt}) {
		if f.Set || f.Required {
			fmt.Println(f.Var, f.OK(), f.Fingerprints)
		}
	}
	// Output:
	// JWT_REFRESH_SECRET (fp=7750e5644cf85646): too short: 9 bytes, need at least 32
	// JWT_SECRET true [a2c280c56a67ea50]
	// JWT_REFRESH_SECRET false []
}
