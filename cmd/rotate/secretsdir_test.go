package main

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// TestSecretsDirAtomic: a reader polling the directory while it moves
// through versions, every other one with a name the previous lacks (as
// promote adds JWT_SECRET_PREVIOUS), only ever sees whole versions: when X
// and Y (read before and after Z) come from the same version, Z is exactly
// that version's.
func TestSecretsDirAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	d := secretsDir(dir)
	version := func(i int) map[string]string {
		v := strconv.Itoa(i)
		m := map[string]string{"X": v, "Y": v}
		if i%2 == 0 {
			m["Z"] = v
		}
		return m
	}
	if err := d.write(version(1), time.Now()); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var torn, reads atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := secretenv.Dir(dir)
			for !stop.Load() {
				x, _, _ := src.Lookup("X")
				z, zok, _ := src.Lookup("Z")
				y, _, _ := src.Lookup("Y")
				reads.Add(1)
				n, _ := strconv.Atoi(x)
				if x == y && (zok != (n%2 == 0) || (zok && z != x)) {
					torn.Add(1)
				}
			}
		}()
	}
	for i := 2; i < 300; i++ {
		if err := d.write(version(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if torn.Load() != 0 {
		t.Fatalf("%d of %d reads saw part of an update", torn.Load(), reads.Load())
	}
	checkKubeletLayout(t, dir)
}

// TestSecretsDirAdopt: a directory of plain files is refused unless
// --adopt, which converts it in place and keeps every value.
func TestSecretsDirAdopt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "JWT_SECRET"), []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := secretsDir(dir).check(false); err == nil {
		t.Fatal("plain files accepted without --adopt")
	}
	if err := secretsDir(dir).check(true); err != nil {
		t.Fatal(err)
	}
	vars, _ := secretsDir(dir).read()
	vars["JWT_SECRET_NEXT"] = "b"
	if err := secretsDir(dir).write(vars, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, _ := secretsDir(dir).read()
	if got["JWT_SECRET"] != "a" || got["JWT_SECRET_NEXT"] != "b" || len(got) != 2 {
		t.Fatalf("after adopt: %d vars", len(got))
	}
	checkKubeletLayout(t, dir)
	if err := secretsDir(dir).check(false); err != nil {
		t.Fatal(err)
	}
}
