package jwtkeys

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

func TestLoadFromEnvAllSlots(t *testing.T) {
	for k, v := range map[string]string{
		"JWT_SECRET": sA, "JWT_SECRET_PREVIOUS": sB, "JWT_SECRET_NEXT": sC,
		"JWT_REFRESH_SECRET": sRA, "JWT_REFRESH_SECRET_PREVIOUS": sRB, "JWT_REFRESH_SECRET_NEXT": sRC,
	} {
		t.Setenv(k, v)
	}
	clk := newClock()
	keys, err := OpenEnv(Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	st := keys.Slots()
	if len(st) != 6 {
		t.Fatalf("Status has %d slots, want 6", len(st))
	}
	want := []struct {
		v     string
		state State
		sec   string
	}{
		{"JWT_SECRET_NEXT", StateStaged, sC}, {"JWT_SECRET", StateSigning, sA}, {"JWT_SECRET_PREVIOUS", StateVerifying, sB},
		{"JWT_REFRESH_SECRET_NEXT", StateStaged, sRC}, {"JWT_REFRESH_SECRET", StateSigning, sRA}, {"JWT_REFRESH_SECRET_PREVIOUS", StateVerifying, sRB},
	}
	for i, w := range want {
		if st[i].Var != w.v || st[i].State != w.state || st[i].Fingerprint != fingerprint.OfString(w.sec) {
			t.Errorf("slot %d = %+v, want %s %s fp=%s", i, st[i], w.v, w.state, fingerprint.OfString(w.sec))
		}
	}
	// Retire times: load time + ring TTL + 24 h margin.
	if got, want := st[2].RetireAt, clk.Now().Add(15*time.Minute+24*time.Hour); !got.Equal(want) {
		t.Errorf("access previous RetireAt = %v, want %v", got, want)
	}
	if got, want := st[5].RetireAt, clk.Now().Add(30*24*time.Hour+24*time.Hour); !got.Equal(want) {
		t.Errorf("refresh previous RetireAt = %v, want %v", got, want)
	}
	if keys.Keyring().CurrentKid(Access) != fingerprint.OfString(sA) {
		t.Error("CurrentKid is not the fingerprint of JWT_SECRET")
	}
}

// k8sDir lays out a Kubernetes secret volume: files are links through
// "..data" to a timestamped directory; update swaps "..data" atomically.
type k8sDir struct {
	t   *testing.T
	dir string
	gen int
}

func newK8sDir(t *testing.T, vals map[string]string) *k8sDir {
	d := &k8sDir{t: t, dir: t.TempDir()}
	d.update(vals, true)
	return d
}

func (d *k8sDir) update(vals map[string]string, first bool) {
	d.gen++
	ts := filepath.Join(d.dir, fmt.Sprintf("..2026_05_01_10_00_%02d.%d", d.gen, d.gen))
	if err := os.Mkdir(ts, 0o755); err != nil {
		d.t.Fatal(err)
	}
	for k, v := range vals {
		if err := os.WriteFile(filepath.Join(ts, k), []byte(v), 0o600); err != nil {
			d.t.Fatal(err)
		}
	}
	tmp := filepath.Join(d.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "..data")); err != nil {
		d.t.Fatal(err)
	}
	for _, name := range []string{"JWT_SECRET", "JWT_SECRET_PREVIOUS", "JWT_SECRET_NEXT", "JWT_REFRESH_SECRET", "JWT_REFRESH_SECRET_PREVIOUS", "JWT_REFRESH_SECRET_NEXT", "JWT_SECRET_PREVIOUS_SINCE"} {
		link := filepath.Join(d.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				d.t.Fatal(err)
			}
		}
	}
}

func TestLoadFromK8sSecretDir(t *testing.T) {
	d := newK8sDir(t, map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA, "JWT_SECRET_NEXT": sB})
	keys, err := OpenDir(d.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := keys.Slots()
	if st[0].Fingerprint != fingerprint.OfString(sB) || st[1].Fingerprint != fingerprint.OfString(sA) || st[2].State != StateEmpty {
		t.Fatalf("status from dir: %+v", st[:3])
	}
	d.update(map[string]string{"JWT_SECRET": sB, "JWT_SECRET_PREVIOUS": sA, "JWT_REFRESH_SECRET": sRA}, false)
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	st = keys.Slots()
	if st[0].State != StateEmpty || st[1].Fingerprint != fingerprint.OfString(sB) || st[2].Fingerprint != fingerprint.OfString(sA) {
		t.Fatalf("status after ..data swap: %+v", st[:3])
	}
}

func TestLoadValidation(t *testing.T) {
	short := "only-20-bytes-secret"
	cases := []struct {
		name    string
		env     map[string]string
		opts    Options
		is      error
		varName string
		leak    string
	}{
		{"missing current", map[string]string{"JWT_REFRESH_SECRET": sRA}, Options{}, secretenv.ErrMissing, "JWT_SECRET", ""},
		{"missing refresh current", map[string]string{"JWT_SECRET": sA}, Options{}, secretenv.ErrMissing, "JWT_REFRESH_SECRET", ""},
		{"short current", map[string]string{"JWT_SECRET": short, "JWT_REFRESH_SECRET": sRA}, Options{}, secretenv.ErrTooShort, "JWT_SECRET", short},
		{"short previous", map[string]string{"JWT_SECRET": sA, "JWT_SECRET_PREVIOUS": short, "JWT_REFRESH_SECRET": sRA}, Options{}, secretenv.ErrTooShort, "JWT_SECRET_PREVIOUS", short},
		{"same key in two slots", map[string]string{"JWT_SECRET": sA, "JWT_SECRET_NEXT": sA, "JWT_REFRESH_SECRET": sRA}, Options{}, secretenv.ErrDuplicate, "JWT_SECRET", sA},
		{"same key in both rings", map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA, "JWT_REFRESH_SECRET_PREVIOUS": sA}, Options{}, secretenv.ErrDuplicate, "JWT_REFRESH_SECRET_PREVIOUS", sA},
		{"HS512 needs 64 bytes", map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA}, Options{Algorithm: "HS512"}, secretenv.ErrTooShort, "JWT_SECRET", sA},
		{"unknown algorithm", map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA}, Options{Algorithm: "RS256"}, ErrConfig, "RS256", ""},
		{"bad since", map[string]string{"JWT_SECRET": sA, "JWT_SECRET_PREVIOUS": sB, "JWT_SECRET_PREVIOUS_SINCE": "yesterday", "JWT_REFRESH_SECRET": sRA}, Options{}, ErrConfig, "JWT_SECRET_PREVIOUS_SINCE", sB},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(secretenv.Map(c.env), c.opts)
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.varName) {
				t.Errorf("error %q does not name %s", err, c.varName)
			}
			if c.leak != "" && strings.Contains(err.Error(), c.leak) {
				t.Errorf("error leaks the secret: %q", err)
			}
		})
	}
}

func TestEmptyPreviousIsAbsent(t *testing.T) {
	keys, err := Open(secretenv.Map(map[string]string{"JWT_SECRET": sA, "JWT_SECRET_PREVIOUS": "", "JWT_REFRESH_SECRET": sRA}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := keys.Slots()[2]; st.State != StateEmpty {
		t.Fatalf("empty JWT_SECRET_PREVIOUS gave %+v, want an empty slot", st)
	}
}

func TestPreviousRetiresAfterWindow(t *testing.T) {
	clk := newClock()
	obs := newRec()
	// Mint with A, then rotate: B current, A previous.
	_, svc, src := fixture(t, clk, obs)
	old, err := svc.Issue("user-1", appClaims{})
	if err != nil {
		t.Fatal(err)
	}
	src.set("JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA)
	clk.Advance(time.Minute)
	rotatedAt := clk.Now()
	if err := svc.LiveKeyring().Reload(); err != nil {
		t.Fatal(err)
	}
	st := svc.LiveKeyring().Slots()[2]
	if !st.Since.Equal(rotatedAt) || !st.RetireAt.Equal(rotatedAt.Add(15*time.Minute+24*time.Hour)) {
		t.Fatalf("previous since=%v retire=%v, want since=%v (time it left current)", st.Since, st.RetireAt, rotatedAt)
	}
	if _, err := svc.VerifyAccess(old.Access); err != nil {
		t.Fatalf("old token within window: %v", err)
	}
	if obs.count("access/previous") != 1 {
		t.Errorf("verified counts %v, want access/previous=1", obs.verified)
	}
	// A token signed with A that is still unexpired after the window: forge
	// one with a long exp, so only the retire time can refuse it.
	long := signWith(t, svc, sA, Access, 48*time.Hour, clk)
	clk.Advance(15*time.Minute + 24*time.Hour - time.Second)
	if _, err := svc.VerifyAccess(long); err != nil {
		t.Fatalf("1 s before retire: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := svc.VerifyAccess(long); !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("at retire time: err = %v, want ErrRetiredKey", err)
	}
	if st := svc.LiveKeyring().Slots()[2]; st.State != StateRetired {
		t.Errorf("state after retire = %s", st.State)
	}
	// A reload keeps the since time (same key, same slot).
	if err := svc.LiveKeyring().Reload(); err != nil {
		t.Fatal(err)
	}
	if st := svc.LiveKeyring().Slots()[2]; !st.Since.Equal(rotatedAt) {
		t.Errorf("reload moved since to %v", st.Since)
	}
}

func TestPreviousSinceFromEnv(t *testing.T) {
	clk := newClock()
	since := clk.Now().Add(-2 * time.Hour)
	_, svc, _ := fixture(t, clk, nil, "JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA, "JWT_SECRET_PREVIOUS_SINCE", since.Format(time.RFC3339))
	st := svc.LiveKeyring().Slots()[2]
	if !st.Since.Equal(since) || !st.RetireAt.Equal(since.Add(15*time.Minute+24*time.Hour)) {
		t.Fatalf("since=%v retire=%v, want since=%v", st.Since, st.RetireAt, since)
	}
	// Restart without _SINCE: load time (later, never earlier).
	_, svc2, _ := fixture(t, clk, nil, "JWT_SECRET", sB, "JWT_SECRET_PREVIOUS", sA)
	if st := svc2.LiveKeyring().Slots()[2]; !st.Since.Equal(clk.Now()) {
		t.Errorf("without _SINCE since = %v, want load time", st.Since)
	}
	// A future _SINCE is refused.
	src := secretenv.Map(map[string]string{"JWT_SECRET": sB, "JWT_SECRET_PREVIOUS": sA, "JWT_REFRESH_SECRET": sRA,
		"JWT_SECRET_PREVIOUS_SINCE": clk.Now().Add(time.Hour).Format(time.RFC3339)})
	if _, err := Open(src, Options{Now: clk.Now}); !errors.Is(err, ErrConfig) {
		t.Errorf("future since: err = %v", err)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	clk := newClock()
	keys, _, _ := fixture(t, clk, nil, "JWT_SECRET_PREVIOUS", sB)
	out := fmt.Sprintf("%v %+v %#v %v", keys.Slots(), keys.Slots(), keys.Keyring(), keys.Keyring())
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "status", keys.Slots(), "keyring", keys.Keyring())
	out += logged.String()
	for _, s := range []string{sA, sB, sRA} {
		if strings.Contains(out, s) {
			t.Fatalf("a secret appears in printed keyring/status")
		}
	}
	if want := "current=" + fingerprintOf(sA); !strings.Contains(keys.Keyring().String(), want) {
		t.Errorf("Keyring.String() = %s, want it to name %s", keys.Keyring(), want)
	}
}

// One secret, one key (issue 13 point 3): a secret written with a trailing
// newline is refused from a file and from the environment alike, naming the
// variable and the fix; with SECRET_KEEP_TRAILING_WHITESPACE both sign with
// the same kid, the fingerprint of the bytes with the newline, and their
// tokens verify on each other.
func TestSameSecretSameKidFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"JWT_SECRET": sA + "\n", "JWT_REFRESH_SECRET": sRA} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("JWT_SECRET", sA+"\n")
	t.Setenv("JWT_REFRESH_SECRET", sRA)
	for name, open := range map[string]func() (*LiveKeyring, error){
		"dir": func() (*LiveKeyring, error) { return OpenDir(dir, Options{}) },
		"env": func() (*LiveKeyring, error) { return OpenEnv(Options{}) },
	} {
		_, err := open()
		if !errors.Is(err, secretenv.ErrTrailingSpace) || !strings.Contains(err.Error(), "JWT_SECRET") || !strings.Contains(err.Error(), secretenv.EnvKeepTrailingSpace) || strings.Contains(err.Error(), sA) {
			t.Errorf("%s: %v, want a refusal naming JWT_SECRET and the setting", name, err)
		}
	}
	t.Setenv(secretenv.EnvKeepTrailingSpace, "JWT_SECRET")
	fromDir, err := OpenDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := OpenEnv(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := fingerprint.OfString(sA + "\n")
	if a, b := fromDir.Keyring().CurrentKid(Access), fromEnv.Keyring().CurrentKid(Access); a != want || b != want {
		t.Fatalf("kid from dir %s, from env %s, want %s for both", a, b, want)
	}
	sd, _ := NewService[Claims](fromDir)
	se, _ := NewService[Claims](fromEnv)
	p, _ := sd.Issue("u", Claims{})
	if _, err := se.VerifyAccess(p.Access); err != nil {
		t.Fatalf("dir token on env instance: %v", err)
	}
}

// snapSource is a Source whose Snapshot is another source: Load must read
// every slot from the snapshot (one version of a secret volume).
type snapSource struct {
	live, pinned secretenv.Source
	snapshots    int
}

func (s *snapSource) Lookup(n string) (string, bool, error) { return s.live.Lookup(n) }
func (s *snapSource) String() string                        { return "snap" }
func (s *snapSource) Snapshot() (secretenv.Source, error) {
	s.snapshots++
	return s.pinned, nil
}

func TestLoadReadsOneSnapshot(t *testing.T) {
	src := &snapSource{
		live:   secretenv.Map(map[string]string{"JWT_SECRET": sB, "JWT_REFRESH_SECRET": sRA, "JWT_SECRET_PREVIOUS": sB}),
		pinned: secretenv.Map(map[string]string{"JWT_SECRET": sA, "JWT_REFRESH_SECRET": sRA}),
	}
	kr, err := LoadKeyring(src, Options{Now: newClock().Now})
	if err != nil {
		t.Fatalf("Load read the live source, not its snapshot: %v", err)
	}
	if kr.CurrentKid(Access) != fingerprintOf(sA) || src.snapshots != 1 {
		t.Fatalf("kid %s, %d snapshots", kr.CurrentKid(Access), src.snapshots)
	}
}
