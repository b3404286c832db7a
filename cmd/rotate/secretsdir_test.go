package main

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// TestSecretsDirAtomic: a reader polling the directory while it flips
// between two sets, one with a name the other lacks (as promote adds
// JWT_SECRET_PREVIOUS), only ever sees one set or the other, never part of
// an update.
func TestSecretsDirAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	s1 := map[string]string{"X": "1", "Y": "1"}
	s2 := map[string]string{"X": "2", "Y": "2", "Z": "2"}
	d := secretsDir(dir)
	if err := d.write(s1, time.Now()); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var torn atomic.Int64
	var reads atomic.Int64
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
				// X read before Z before Y: a torn view is X=2 without Z,
				// or Z without Y=2 when no update came between.
				if x == "2" && !zok && y == "2" {
					torn.Add(1)
				}
				_ = z
			}
		}()
	}
	for i := 0; i < 300; i++ {
		set := s1
		if i%2 == 0 {
			set = s2
		}
		if err := d.write(set, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if torn.Load() != 0 {
		t.Fatalf("%d of %d reads saw X and Y of the new set without its Z", torn.Load(), reads.Load())
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
