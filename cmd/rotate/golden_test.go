package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares a run's exit code, stdout and stderr with
// testdata/golden/<name>.txt (go test -run Golden -update rewrites them).
// Each replace pair turns a varying string (a temporary path, a port) into
// a stable placeholder first.
func golden(t *testing.T, name string, r result, replace ...string) {
	t.Helper()
	got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
	got = strings.NewReplacer(replace...).Replace(got)
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -run Golden -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// Fixed test secrets (never real), so fingerprints in the golden files are
// stable.
const (
	goldenAccessNext  = "golden-access-next-secret-0123456789abcdefghij"
	goldenRefreshNext = "golden-refresh-next-secret-0123456789abcdefghi"
	goldenFieldKey    = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	goldenFieldNext   = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
)

// TestGolden pins the human and JSON output of the commands whose output
// does not depend on a live service.
func TestGolden(t *testing.T) {
	hcm := map[string]string{}
	for k, v := range jwtVars {
		hcm[k] = v
	}
	hcm["ROTATE_TZ"] = "Asia/Ho_Chi_Minh"
	noSince := map[string]string{}
	for k, v := range hcm {
		if k != "JWT_SECRET_PREVIOUS_SINCE" {
			noSince[k] = v
		}
	}
	cases := []struct {
		name  string
		vars  map[string]string
		stdin string
		args  []string
	}{
		{"jwt-status", hcm, "", []string{"jwt", "status"}},
		{"jwt-status-json", hcm, "", []string{"jwt", "status", "--json"}},
		{"jwt-status-no-since", noSince, "", []string{"jwt", "status"}},
		{"jwt-status-bad-tz", map[string]string{"ROTATE_TZ": "Mars/Olympus"}, "", []string{"jwt", "status"}},
		{"inventory-jwt", jwtVars, "", []string{"inventory", "--class", "jwt"}},
		{"inventory-jwt-json", jwtVars, "", []string{"inventory", "--class", "jwt", "-o", "json"}},
		{"fingerprint", nil, "golden-secret", []string{"fingerprint"}},
		{"fingerprint-json", nil, "golden-secret", []string{"fingerprint", "--json"}},
		{"jwt-sign-missing-sub", jwtVars, "", []string{"jwt", "sign"}},
		{"checklist-jwt", map[string]string{"ROTATE_TZ": "Asia/Ho_Chi_Minh"}, "", []string{"checklist", "--fingerprint", "0123456789abcdef", "--refresh-fingerprint", "fedcba9876543210", "--promoted-at", "2026-11-27T02:00:00+07:00", "jwt", "production"}},
		{"checklist-jwt-json", map[string]string{"ROTATE_TZ": "Asia/Ho_Chi_Minh"}, "", []string{"checklist", "--fingerprint", "0123456789abcdef", "--refresh-fingerprint", "fedcba9876543210", "--promoted-at", "2026-11-27T02:00:00+07:00", "jwt", "production", "--json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.vars, c.stdin, c.args...)
			if strings.HasSuffix(c.name, "-json") {
				assertJSONStyle(t, c.name, r.stdout)
			}
			golden(t, c.name, r)
		})
	}
}

// TestGoldenStaging pins stage/promote output on a secrets directory.
func TestGoldenStaging(t *testing.T) {
	vars := map[string]string{"ROTATE_TZ": "UTC"}
	dir := writeDir(t, map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "FIELD_ENCRYPTION_KEY": goldenFieldKey})
	in := goldenAccessNext + "\n" + goldenRefreshNext + "\n"
	golden(t, "jwt-stage-dry-run", runCLI(t, vars, in, "jwt", "stage", "--dir", dir, "--stdin", "--dry-run"), dir, "$DIR")
	goldenJSON(t, "jwt-stage-json", runCLI(t, vars, in, "jwt", "stage", "--dir", dir, "--stdin", "--json"), nil, dir, "$DIR")
	golden(t, "jwt-promote", runCLI(t, vars, "", "jwt", "promote", "--dir", dir, "--skip-fleet-check"), dir, "$DIR")
	golden(t, "jwt-retire-early", runCLI(t, vars, "", "jwt", "retire", "--dir", dir), dir, "$DIR")
	golden(t, "jwt-retire-incident-no-yes", runCLI(t, vars, "", "jwt", "retire", "--dir", dir, "--incident"), dir, "$DIR")
	golden(t, "field-stage", runCLI(t, vars, goldenFieldNext+"\n", "field", "stage", "--dir", dir, "--stdin"), dir, "$DIR")
	goldenJSON(t, "field-promote-json", runCLI(t, vars, "", "field", "promote", "--dir", dir, "--skip-fleet-check", "-o", "json"), nil, dir, "$DIR")
}

// TestGoldenFleet pins the fleet check's human output: two instances, one
// lagging.
func TestGoldenFleet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys := map[string]string{"JWT_SECRET": jwtB, "JWT_REFRESH_SECRET": jwtRA, "FIELD_ENCRYPTION_KEY": goldenFieldKey}
	dir, lag := writeDir(t, keys), writeDir(t, keys)
	a, b := startInstance(t, ctx, dir, nil), startInstance(t, ctx, lag, nil)
	staged := map[string]string{"JWT_SECRET_NEXT": goldenAccessNext}
	for k, v := range keys {
		staged[k] = v
	}
	if err := secretsDir(dir).write(staged, a.keys.Keyring().LoadedAt()); err != nil {
		t.Fatal(err)
	}
	if err := a.keys.Reload(); err != nil {
		t.Fatal(err)
	}
	ua, ub := a.fleet.URL+"/keys", b.fleet.URL+"/keys"
	golden(t, "jwt-fleet", runCLI(t, nil, "", "jwt", "fleet", "--dir", dir, ua, ub), ua, "$A", ub, "$B", dir, "$DIR")
}
