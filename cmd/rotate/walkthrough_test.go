package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/internal/jwtexp"
	"github.com/goodgo/rotation/internal/testsvc"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/secretenv"
)

// Short lifetimes so a whole rotation, hold included, runs in seconds; the
// CLI is told the same (--access-ttl …), as an operator tells it the fleet's.
const (
	wtAccessTTL = 2 * time.Second
	wtRefresh   = 3 * time.Second
	wtMargin    = time.Second
)

func wtOptions() jwtkeys.Options {
	return jwtkeys.Options{AccessTTL: wtAccessTTL, RefreshTTL: wtRefresh, RetireMargin: wtMargin, Leeway: -1}
}

var wtTTLFlags = []string{"--access-ttl", wtAccessTTL.String(), "--refresh-ttl", wtRefresh.String(), "--retire-margin", wtMargin.String()}

// wtInstance is one running API instance: the real keyring and watcher on
// its own secrets directory, the JWT middleware, a field keyring re-read
// from the same directory, and its fleet endpoint on a separate listener.
type wtInstance struct {
	dir   string
	keys  *jwtkeys.LiveKeyring
	svc   *jwtkeys.Service[jwtkeys.Claims]
	field atomic.Pointer[fieldcrypt.Keyring]
	api   *httptest.Server
	fleet *httptest.Server
}

func startInstance(t *testing.T, ctx context.Context, dir string, pool *pgxpool.Pool) *wtInstance {
	t.Helper()
	in := &wtInstance{dir: dir}
	var err error
	if in.keys, err = jwtkeys.OpenDir(dir, wtOptions()); err != nil {
		t.Fatal(err)
	}
	if in.svc, err = jwtkeys.NewService[jwtkeys.Claims](in.keys); err != nil {
		t.Fatal(err)
	}
	in.keys.StartWatch(ctx, jwtkeys.WatchOptions{NoSignals: true, Debounce: 20 * time.Millisecond})
	r, err := fieldcrypt.LoadKeyring(secretenv.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	in.field.Store(r)
	go func() { // the field keyring follows the directory too
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if r, err := fieldcrypt.LoadKeyring(secretenv.Dir(dir)); err == nil {
					in.field.Store(r)
				}
			}
		}
	}()
	mux := http.NewServeMux()
	pair := func(w http.ResponseWriter, p jwtkeys.Pair, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access": p.Access, "refresh": p.Refresh})
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		p, err := in.svc.Issue(r.FormValue("sub"), jwtkeys.Claims{})
		pair(w, p, err)
	})
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
		p, err := in.svc.RefreshUnchecked(r.FormValue("refresh_token"))
		pair(w, p, err)
	})
	mux.Handle("GET /me", in.svc.Middleware(jwtkeys.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	if pool != nil {
		mux.HandleFunc("POST /field", func(w http.ResponseWriter, r *http.Request) {
			id, _ := strconv.Atoi(r.FormValue("id"))
			env, err := in.field.Load().Encrypt(nil, []byte("nid-"+strconv.Itoa(id)), fieldcrypt.Binding{})
			if err == nil {
				_, err = pool.Exec(r.Context(), `INSERT INTO people (id, nid) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET nid = EXCLUDED.nid`, id, env)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
		mux.HandleFunc("GET /field", func(w http.ResponseWriter, r *http.Request) {
			id, _ := strconv.Atoi(r.FormValue("id"))
			var v []byte
			if err := pool.QueryRow(r.Context(), `SELECT nid FROM people WHERE id = $1`, id).Scan(&v); err != nil {
				return // not written yet
			}
			got, err := in.field.Load().Decrypt(nil, v, fieldcrypt.Binding{})
			if err != nil || string(got) != "nid-"+strconv.Itoa(id) {
				http.Error(w, fmt.Sprintf("decrypt: %v", err), http.StatusInternalServerError)
			}
		})
	}
	in.api = httptest.NewServer(mux)
	fleetMux := http.NewServeMux()
	fleetMux.Handle("GET /keys", in.keys.FleetHandler(jwtkeys.FleetOptions{Extra: func() []jwtkeys.FleetSlot { return fieldSlots(in.field.Load()) }}))
	in.fleet = httptest.NewServer(fleetMux)
	t.Cleanup(in.api.Close)
	t.Cleanup(in.fleet.Close)
	return in
}

// load runs clients that log in, call and refresh against random instances
// and counts every answer that is not 200.
type load struct {
	calls, bad atomic.Int64
	expired    atomic.Int64 // access tokens that expired in a starved client's hands (not failures)
	mu         sync.Mutex
	first      []string
	stop       chan struct{}
	wg         sync.WaitGroup
}

func (l *load) fail(what string) {
	l.bad.Add(1)
	l.mu.Lock()
	if len(l.first) < 5 {
		l.first = append(l.first, what)
	}
	l.mu.Unlock()
}

func startLoad(inst []*wtInstance, clients int, field bool) *load {
	l := &load{stop: make(chan struct{})}
	post := func(u string, form url.Values) (map[string]string, int) {
		resp, err := http.PostForm(u, form)
		if err != nil {
			return nil, 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		if json.Unmarshal(b, &m) != nil {
			m = map[string]string{"error": string(b)}
		}
		return m, resp.StatusCode
	}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			pick := func() *wtInstance { return inst[rand.IntN(len(inst))] }
			var tok map[string]string
			var got time.Time
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.calls.Add(1)
				switch {
				case field:
					id := strconv.Itoa(1 + rand.IntN(200))
					if rand.IntN(2) == 0 {
						if _, code := post(pick().api.URL+"/field", url.Values{"id": {id}}); code != 200 {
							l.fail(fmt.Sprintf("field write %d", code))
						}
					} else if resp, err := http.Get(pick().api.URL + "/field?id=" + id); err != nil || resp.StatusCode != 200 {
						l.fail("field read")
					} else {
						resp.Body.Close()
					}
				case tok == nil:
					m, code := post(pick().api.URL+"/login", url.Values{"sub": {"u" + strconv.Itoa(c)}})
					if code != 200 {
						l.fail(fmt.Sprintf("login %d", code))
						continue
					}
					tok, got = m, time.Now()
				case time.Since(got) > wtAccessTTL/3 || time.Until(jwtexp.Of(tok["access"])) < wtAccessTTL/3:
					m, code := post(pick().api.URL+"/refresh", url.Values{"refresh_token": {tok["refresh"]}})
					if code != 200 {
						l.fail(fmt.Sprintf("refresh %d %s at %s", code, m["error"], time.Now().Format("15:04:05.000")))
						tok = nil
						continue
					}
					tok, got = m, time.Now()
				default:
					req, _ := http.NewRequest(http.MethodGet, pick().api.URL+"/me", nil)
					req.Header.Set("Authorization", "Bearer "+tok["access"])
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						l.fail("me: " + err.Error())
						continue
					}
					resp.Body.Close()
					switch challenge := resp.Header.Get("WWW-Authenticate"); {
					case resp.StatusCode == 200:
					case resp.StatusCode == http.StatusUnauthorized && strings.Contains(challenge, `error_description="the token expired"`):
						// The signature was good: the client held its token
						// past exp (starved of CPU under -race), not a
						// rotation fault. Refresh now.
						l.expired.Add(1)
						got = time.Time{}
					default:
						l.fail(fmt.Sprintf("me %d %s", resp.StatusCode, challenge))
					}
				}
			}
		}()
	}
	return l
}

func (l *load) end(t *testing.T) {
	close(l.stop)
	l.wg.Wait()
	t.Logf("%d calls, %d not 200, %d access tokens expired in the client's hands", l.calls.Load(), l.bad.Load(), l.expired.Load())
	if l.bad.Load() != 0 || l.calls.Load() < 100 {
		t.Errorf("%d of %d calls failed (first: %v)", l.bad.Load(), l.calls.Load(), l.first)
	}
}

// runCLINow is runCLI with the real clock (the instances' clock).
func runCLINow(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Vars: secretenv.Map(vars)}
	code := run(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

// syncSecrets copies the CLI's directory to a lagging instance's own directory,
// the way the kubelet brings a pod's volume up to date.
func syncSecrets(t *testing.T, from, to string) {
	t.Helper()
	vars, err := secretsDir(from).read()
	if err != nil {
		t.Fatal(err)
	}
	if err := secretsDir(to).write(vars, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// eventually retries f until it returns "" (or fails with its last word).
func eventually(t *testing.T, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readAuditLines(t *testing.T, path string) []AuditRecord {
	t.Helper()
	recs, err := readAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func newSecret(t *testing.T, c string) string {
	s, err := keygen.New(keygen.Class(c))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTRotationWalkthrough walks the whole staged JWT rotation through the
// CLI alone against four running instances, one of them on a secrets
// directory that lags behind: stage → fleet check (refused while one
// lags) → promote → fleet check → retire (refused before the retire
// time), with clients logging in, calling and refreshing throughout: 0 × 401.
// The audit log is checked line by line.
func TestJWTRotationWalkthrough(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := t.TempDir()
	dir, lagDir := filepath.Join(base, "secrets"), filepath.Join(base, "lagging")
	audit := filepath.Join(base, "audit.jsonl")
	oldAccess, oldRefresh := newSecret(t, "jwt"), newSecret(t, "jwt")
	initial := map[string]string{"JWT_SECRET": oldAccess, "JWT_REFRESH_SECRET": oldRefresh, "FIELD_ENCRYPTION_KEY": newSecret(t, "field")}
	for _, d := range []string{dir, lagDir} {
		if err := secretsDir(d).write(initial, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var inst []*wtInstance
	var fleet []string
	for i := 0; i < 4; i++ {
		d := dir
		if i == 3 {
			d = lagDir
		}
		in := startInstance(t, ctx, d, nil)
		inst = append(inst, in)
		fleet = append(fleet, in.fleet.URL+"/keys")
	}
	lagging := fleet[3]
	cli := func(args ...string) result {
		return runCLINow(t, nil, "", append([]string{"--audit-log", audit, "--ticket", "SEC-42", "--actor", "oncall"}, args...)...)
	}
	fleetArg := strings.Join(fleet, ",")
	l := startLoad(inst, 8, false)
	time.Sleep(300 * time.Millisecond)

	// Stage.
	r := cli(append([]string{"jwt", "stage", "--dir", dir}, wtTTLFlags...)...)
	if r.code != 0 {
		t.Fatalf("stage: %v", r)
	}
	vars, _ := secretsDir(dir).read()
	newAccess, newRefresh := vars["JWT_SECRET_NEXT"], vars["JWT_REFRESH_SECRET_NEXT"]
	fpNA, fpNR := fingerprint.OfString(newAccess), fingerprint.OfString(newRefresh)
	if !strings.Contains(r.stdout, fpNA) || !strings.Contains(r.stdout, fpNR) {
		t.Fatalf("stage does not print the new fingerprints: %v", r)
	}
	assertNoSecret(t, r, newAccess, newRefresh, oldAccess, oldRefresh)
	checkKubeletLayout(t, dir)

	// The fleet check names the lagging instance, and only it.
	eventually(t, "fleet after stage", func() string {
		r := runCLINow(t, nil, "", "jwt", "fleet", "--dir", dir, fleet[0], fleet[1], fleet[2], fleet[3])
		if r.code != exitCheck || !strings.Contains(r.stdout, "1 of 4 instances lagging: "+lagging+"\n") {
			return r.String()
		}
		return ""
	})
	// Promotion is refused while it lags, and changes nothing.
	before, _ := secretsDir(dir).read()
	if r := cli(append([]string{"jwt", "promote", "--dir", dir, "--fleet", fleetArg}, wtTTLFlags...)...); r.code != exitCheck || !strings.Contains(r.stdout, lagging+": LAGGING: access next is -, want "+fpNA) {
		t.Fatalf("promote with a laggard: %v", r)
	}
	if after, _ := secretsDir(dir).read(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused promotion changed the directory")
	}
	syncSecrets(t, dir, lagDir)
	var promoted result
	eventually(t, "promote once every instance has NEXT", func() string {
		promoted = cli(append([]string{"jwt", "promote", "--dir", dir, "--fleet", fleetArg}, wtTTLFlags...)...)
		if promoted.code != 0 {
			return promoted.String()
		}
		return ""
	})
	vars, _ = secretsDir(dir).read()
	if vars["JWT_SECRET"] != newAccess || vars["JWT_SECRET_PREVIOUS"] != oldAccess || vars["JWT_SECRET_NEXT"] != "" ||
		vars["JWT_REFRESH_SECRET"] != newRefresh || vars["JWT_REFRESH_SECRET_PREVIOUS"] != oldRefresh {
		t.Fatal("promote did not move the keys")
	}
	since, err := time.Parse(time.RFC3339, vars["JWT_SECRET_PREVIOUS_SINCE"])
	if err != nil || time.Since(since) > 5*time.Second || vars["JWT_REFRESH_SECRET_PREVIOUS_SINCE"] != vars["JWT_SECRET_PREVIOUS_SINCE"] {
		t.Fatalf("promote: *_SINCE = %q, %q", vars["JWT_SECRET_PREVIOUS_SINCE"], vars["JWT_REFRESH_SECRET_PREVIOUS_SINCE"])
	}
	// After promotion, the lagging instance still signs with the old key.
	fpOA := fingerprint.OfString(oldAccess)
	eventually(t, "fleet after promote", func() string {
		r := runCLINow(t, nil, "", "jwt", "fleet", "--dir", dir, fleet[0], fleet[1], fleet[2], fleet[3])
		if r.code != exitCheck || !strings.Contains(r.stdout, lagging+": LAGGING: access next is "+fpNA+", want -; access current is "+fpOA+", want "+fpNA) {
			return r.String()
		}
		return ""
	})
	syncSecrets(t, dir, lagDir)
	eventually(t, "fleet in sync", func() string {
		if r := runCLINow(t, nil, "", "jwt", "fleet", "--dir", dir, "--json", fleet[0], fleet[1], fleet[2], fleet[3]); r.code != 0 || !strings.Contains(r.stdout, `"in_sync": true`) {
			return r.String()
		}
		return ""
	})
	// Retire: refused before the retire time, done after it.
	if r := cli(append([]string{"jwt", "retire", "--dir", dir}, wtTTLFlags...)...); r.code != exitCheck || !strings.Contains(r.stderr, "verifies until") {
		t.Fatalf("early retire: %v", r)
	}
	t.Logf("promoted at %s", since)
	time.Sleep(time.Until(since.Add(wtRefresh + wtMargin + 100*time.Millisecond)))
	if r := cli(append([]string{"jwt", "retire", "--dir", dir}, wtTTLFlags...)...); r.code != 0 {
		t.Fatalf("retire: %v", r)
	}
	syncSecrets(t, dir, lagDir)
	eventually(t, "fleet after retire", func() string {
		if r := runCLINow(t, nil, "", "jwt", "fleet", "--dir", dir, fleet[0], fleet[1], fleet[2], fleet[3]); r.code != 0 {
			return r.String()
		}
		return ""
	})
	time.Sleep(300 * time.Millisecond)
	l.end(t)

	// The audit log, line by line.
	recs := readAuditLines(t, audit)
	fpOR, fpNRf := fingerprint.OfString(oldRefresh), fpNR
	want := []struct {
		command, outcome string
		after, before    map[string]string
	}{
		{"jwt stage", "ok", map[string]string{"JWT_SECRET_NEXT": fpNA, "JWT_REFRESH_SECRET_NEXT": fpNRf}, nil},
		{"jwt promote", "failed", nil, nil},
	}
	if len(recs) < 4 {
		t.Fatalf("audit log has %d records", len(recs))
	}
	// Retried promotions may add failed lines while the laggard reloads.
	var got []AuditRecord
	for i, rec := range recs {
		if i > 1 && rec.Command == "jwt promote" && rec.Outcome == "failed" {
			continue
		}
		got = append(got, rec)
	}
	for i, w := range want {
		if got[i].Command != w.command || got[i].Outcome != w.outcome || got[i].Ticket != "SEC-42" || got[i].Actor != "oncall" || got[i].Target != "directory "+dir {
			t.Errorf("audit line %d: %+v", i+1, got[i])
		}
		for k, v := range w.after {
			if got[i].After[k] != v {
				t.Errorf("audit line %d: %s after = %q, want %q", i+1, k, got[i].After[k], v)
			}
		}
	}
	rest := got[len(want):]
	if len(rest) != 3 {
		t.Fatalf("audit: want promote ok, retire failed, retire ok; got %+v", rest)
	}
	p := rest[0]
	if p.Command != "jwt promote" || p.Outcome != "ok" || p.Before["JWT_SECRET"] != fpOA || p.After["JWT_SECRET"] != fpNA ||
		p.After["JWT_SECRET_PREVIOUS"] != fpOA || p.Before["JWT_SECRET_NEXT"] != fpNA || p.After["JWT_SECRET_NEXT"] != "" ||
		p.Before["JWT_REFRESH_SECRET"] != fpOR || p.After["JWT_REFRESH_SECRET"] != fpNR {
		t.Errorf("audit promote: %+v", p)
	}
	if rest[1].Command != "jwt retire" || rest[1].Outcome != "failed" || len(rest[1].After) != 0 {
		t.Errorf("audit early retire: %+v", rest[1])
	}
	if rest[2].Command != "jwt retire" || rest[2].Outcome != "ok" || rest[2].Before["JWT_SECRET_PREVIOUS"] != fpOA || rest[2].Before["JWT_REFRESH_SECRET_PREVIOUS"] != fpOR {
		t.Errorf("audit retire: %+v", rest[2])
	}
	b, _ := os.ReadFile(audit)
	for _, s := range []string{newAccess, newRefresh, oldAccess, oldRefresh} {
		if strings.Contains(string(b), s) {
			t.Fatal("the audit log holds a secret")
		}
	}
}

// checkKubeletLayout: ..data links to a version directory, each variable
// links into ..data, files are 0600 without a trailing newline.
func checkKubeletLayout(t *testing.T, dir string) {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(target, "..20") {
		t.Fatalf("..data: %q %v", target, err)
	}
	st, err := os.Stat(filepath.Join(dir, target))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("version dir: %v %v", st.Mode(), err)
	}
	names, _ := secretenv.Names(dir)
	if len(names) == 0 {
		t.Fatal("no variables")
	}
	for _, n := range names {
		l, err := os.Readlink(filepath.Join(dir, n))
		if err != nil || l != "..data/"+n {
			t.Errorf("%s links to %q (%v)", n, l, err)
		}
		fi, err := os.Stat(filepath.Join(dir, target, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v", n, fi.Mode(), err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("%s ends with a newline", n)
		}
	}
	ents, _ := os.ReadDir(dir)
	versions := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "..20") {
			versions++
		}
	}
	if versions != 1 {
		t.Errorf("%d version directories left", versions)
	}
}

// TestFieldRotationWalkthrough rotates the field key through the CLI alone
// (stage → promote after the fleet check → reencrypt → retire after the
// census) while four instances, one lagging, write and read encrypted rows
// in a real Postgres table: every read decrypts.
func TestFieldRotationWalkthrough(t *testing.T) {
	db := testsvc.Postgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE people (id bigint PRIMARY KEY, nid bytea)`); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir, lagDir := filepath.Join(base, "secrets"), filepath.Join(base, "lagging")
	audit := filepath.Join(base, "audit.jsonl")
	oldKey := newSecret(t, "field")
	initial := map[string]string{"JWT_SECRET": newSecret(t, "jwt"), "JWT_REFRESH_SECRET": newSecret(t, "jwt"), "FIELD_ENCRYPTION_KEY": oldKey}
	for _, d := range []string{dir, lagDir} {
		if err := secretsDir(d).write(initial, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var inst []*wtInstance
	var fleet []string
	for i := 0; i < 4; i++ {
		d := dir
		if i == 3 {
			d = lagDir
		}
		in := startInstance(t, ctx, d, db.Pool)
		inst = append(inst, in)
		fleet = append(fleet, in.fleet.URL+"/keys")
	}
	vars := map[string]string{"DATABASE_URL": db.URL}
	cli := func(args ...string) result {
		return runCLINow(t, vars, "", append([]string{"--audit-log", audit, "--ticket", "SEC-43"}, args...)...)
	}
	fleetArg := strings.Join(fleet, ",")
	l := startLoad(inst, 6, true)
	time.Sleep(300 * time.Millisecond)

	if r := cli("field", "stage", "--dir", dir); r.code != 0 {
		t.Fatalf("stage: %v", r)
	}
	sv, _ := secretsDir(dir).read()
	newKey := sv["FIELD_ENCRYPTION_KEY_NEXT"]
	fpNew, fpOld := fingerprint.OfString(newKey), fingerprint.OfString(oldKey)
	checkKubeletLayout(t, dir)
	eventually(t, "field promote refused while one lags", func() string {
		r := cli("field", "promote", "--dir", dir, "--fleet", fleetArg)
		if r.code != exitCheck || !strings.Contains(r.stdout, "1 of 4 instances lagging: "+fleet[3]) || !strings.Contains(r.stdout, "field next is -, want "+fpNew) {
			return r.String()
		}
		return ""
	})
	syncSecrets(t, dir, lagDir)
	eventually(t, "field promote", func() string {
		if r := cli("field", "promote", "--dir", dir, "--fleet", fleetArg); r.code != 0 {
			return r.String()
		}
		return ""
	})
	// The lagging instance still writes under the old key until it is synced;
	// everyone decrypts both.
	time.Sleep(200 * time.Millisecond)
	// Retire is refused while values remain under the old key.
	// The list of every encrypted column, as docs/rotation-procedures.md
	// step 4 writes it; retire takes its census over it.
	columns := filepath.Join(t.TempDir(), "fieldcrypt-columns")
	if err := os.WriteFile(columns, []byte("people nid binary unbound id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli("field", "retire", "--dir", dir, "--table", "people", "--column", "nid", "--yes"); r.code != exitUsage || !strings.Contains(r.stderr, "missing required flag --columns") {
		t.Fatalf("field retire over one --table: %v", r)
	}
	if r := cli("field", "retire", "--dir", dir, "--columns", columns); r.code != exitCheck || !strings.Contains(r.stderr, fpOld) {
		t.Fatalf("early field retire: %v", r)
	}
	syncSecrets(t, dir, lagDir)
	time.Sleep(200 * time.Millisecond)
	if r := cli("field", "reencrypt", "--dir", dir, "--table", "people", "--column", "nid", "--progress", "json"); r.code != 0 {
		t.Fatalf("reencrypt: %v", r)
	}
	if r := cli("field", "retire", "--dir", dir, "--columns", columns, "--yes"); r.code != 0 {
		t.Fatalf("field retire: %v", r)
	}
	syncSecrets(t, dir, lagDir)
	time.Sleep(300 * time.Millisecond)
	l.end(t)
	fv, _ := secretsDir(dir).read()
	if fv["FIELD_ENCRYPTION_KEY"] != newKey || fv["FIELD_ENCRYPTION_KEY_PREVIOUS"] != "" || fv["FIELD_ENCRYPTION_KEY_NEXT"] != "" {
		t.Fatal("the directory does not end with the new key alone")
	}
	var cmds []string
	for _, rec := range readAuditLines(t, audit) {
		if rec.Command == "field promote" && rec.Outcome == "failed" {
			continue
		}
		cmds = append(cmds, rec.Command+" "+rec.Outcome)
		switch rec.Command + " " + rec.Outcome {
		case "field stage ok":
			if rec.After["FIELD_ENCRYPTION_KEY_NEXT"] != fpNew {
				t.Errorf("audit stage: %+v", rec)
			}
		case "field promote ok":
			if rec.Before["FIELD_ENCRYPTION_KEY"] != fpOld || rec.After["FIELD_ENCRYPTION_KEY"] != fpNew || rec.After["FIELD_ENCRYPTION_KEY_PREVIOUS"] != fpOld {
				t.Errorf("audit promote: %+v", rec)
			}
		case "field retire ok":
			if rec.Before["FIELD_ENCRYPTION_KEY_PREVIOUS"] != fpOld || rec.After["FIELD_ENCRYPTION_KEY_PREVIOUS"] != "" {
				t.Errorf("audit retire: %+v", rec)
			}
		}
	}
	if got := strings.Join(cmds, ", "); got != "field stage ok, field retire failed, field reencrypt ok, field retire ok" &&
		got != "field stage ok, field promote ok, field retire failed, field reencrypt ok, field retire ok" {
		t.Errorf("audit commands: %s", got)
	}
}
