package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestFleetLiveExamplesAPI builds examples/api and starts four of them
// (each with its fleet endpoint on FLEET_ADDR; three on the directory the
// CLI writes, one on a directory left behind), then checks the fleet
// through the CLI: the laggard is named, and once its directory catches up
// promotion goes through and every instance signs with the new key.
func TestFleetLiveExamplesAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/api")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	base := t.TempDir()
	bin := filepath.Join(base, "api")
	build := exec.Command(goBin, "build", "-o", bin, "../../examples/api")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/api: %v\n%s", err, out)
	}
	dir, lag := filepath.Join(base, "secrets"), filepath.Join(base, "lagging")
	keys := map[string]string{"JWT_SECRET": newSecret(t, "jwt"), "JWT_REFRESH_SECRET": newSecret(t, "jwt")}
	for _, d := range []string{dir, lag} {
		if err := secretsDir(d).write(keys, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var urls []string
	for i := 0; i < 4; i++ {
		d := dir
		if i == 3 {
			d = lag
		}
		fleetAddr := "127.0.0.1:" + freePort(t)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append(os.Environ(), "SECRETS_DIR="+d, "LISTEN_ADDR=127.0.0.1:"+freePort(t), "FLEET_ADDR="+fleetAddr, "REDIS_URL=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); _ = cmd.Wait() })
		u := "http://" + fleetAddr + "/keys"
		urls = append(urls, u)
		eventually(t, "instance up", func() string {
			resp, err := http.Get(u)
			if err != nil {
				return err.Error()
			}
			resp.Body.Close()
			return ""
		})
	}
	if r := runCLINow(t, nil, "", "jwt", "stage", "--dir", dir); r.code != 0 {
		t.Fatalf("stage: %v", r)
	}
	eventually(t, "the laggard is named", func() string {
		r := runCLINow(t, nil, "", append([]string{"jwt", "fleet", "--dir", dir}, urls...)...)
		if r.code != exitCheck || !strings.Contains(r.stdout, "1 of 4 instances lagging: "+urls[3]+"\n") {
			return r.String()
		}
		return ""
	})
	syncSecrets(t, dir, lag)
	eventually(t, "promote", func() string {
		if r := runCLINow(t, nil, "", "jwt", "promote", "--dir", dir, "--fleet", strings.Join(urls, ",")); r.code != 0 {
			return r.String()
		}
		return ""
	})
	syncSecrets(t, dir, lag)
	eventually(t, "all sign with the new key", func() string {
		if r := runCLINow(t, nil, "", append([]string{"jwt", "fleet", "--dir", dir}, urls...)...); r.code != 0 {
			return r.String()
		}
		return ""
	})
}
