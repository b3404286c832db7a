package secretenv

import (
	"strings"
	"testing"
)

// FuzzCheck: "rotate inventory" checks whatever the environment or a
// mounted secret directory holds. Any value in any inventory variable (and
// any deadline text) gives findings, never a panic, and no finding's error
// shows the value.
func FuzzCheck(f *testing.F) {
	f.Add(uint8(0), jwtA, "")
	f.Add(uint8(7), fieldKey+","+fieldKey, "")
	f.Add(uint8(9), strings.Repeat("O", 32), "2026-11-28T02:00:00+07:00")
	f.Add(uint8(9), strings.Repeat("O", 32), "tomorrow-at-noon-please")
	f.Add(uint8(20), "postgres://u:secretpassword123@h/db", "")
	f.Add(uint8(21), "redis://:pw@[::1", "")
	f.Add(uint8(3), "\x00\xff,,", "\n")
	var vars []Var
	for _, c := range Inventory() {
		vars = append(vars, c.Vars...)
	}
	f.Fuzz(func(t *testing.T, i uint8, raw, until string) {
		v := vars[int(i)%len(vars)]
		m := map[string]string{v.Name: raw}
		if v.Until != "" {
			m[v.Until] = until
		}
		for _, fd := range Check(Map(m), Inventory()) {
			if fd.Err == nil {
				continue
			}
			msg := fd.Err.Error()
			for _, secret := range []string{raw, strings.TrimSpace(raw)} {
				if len(secret) >= 12 && strings.Contains(msg, secret) {
					t.Fatalf("%s: error shows the value (message withheld)", fd.Var)
				}
			}
		}
	})
}
