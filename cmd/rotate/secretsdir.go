package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goodgo/rotation/secretenv"
)

// secretsDir is a directory of secret files laid out the way the kubelet
// writes a secret volume (its AtomicWriter), which is also how the stage,
// promote and retire commands write one:
//
//	DIR/..2026_12_03_11_10_00.3f2a9c0d/   the files of one version (0700)
//	DIR/..2026_12_03_11_10_00.3f2a9c0d/JWT_SECRET   the value, 0600, no newline
//	DIR/..data -> ..2026_12_03_11_10_00.3f2a9c0d
//	DIR/JWT_SECRET -> ..data/JWT_SECRET
//
// An update writes a complete new version directory, then swaps "..data" to
// it with one rename (atomic: a reader sees the old set or the new one,
// never a mix), then adds the per-name links of new names and removes those
// of dropped names, then deletes the old version. A watcher on DIR sees the
// swap as one burst of events (jwtkeys.StartWatch).
type secretsDir string

const dataLink = "..data"

// read returns every variable in the directory (plain files, links to
// files), values as written.
func (d secretsDir) read() (map[string]string, error) {
	names, err := secretenv.Names(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	src := secretenv.Dir(string(d))
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, ok, err := src.Lookup(n)
		if err != nil {
			return nil, err
		}
		if ok {
			out[n] = v
		}
	}
	return out, nil
}

// layoutError says why a directory cannot be written safely.
var errPlainFiles = errors.New("holds plain files, not the kubelet layout (..data link): add --adopt to convert it")

// check reports whether the directory can be written: missing or empty,
// or in the kubelet layout; with adopt, plain files are converted.
func (d secretsDir) check(adopt bool) error {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Readlink(filepath.Join(string(d), dataLink)); err == nil {
		return nil
	}
	for _, e := range ents {
		if e.Type().IsRegular() && !adopt {
			return fmt.Errorf("%s %w", d, errPlainFiles)
		}
	}
	return nil
}

// write replaces the directory's whole content by vars (values written as
// given: no trailing newline is added), atomically as described above.
// Names must be plain variable names. now names the version directory.
func (d secretsDir) write(vars map[string]string, now time.Time) error {
	dir := string(d)
	for n := range vars {
		if !validVarName(n) {
			return fmt.Errorf("%q is not a variable name", n)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	version := ".." + now.UTC().Format("2006_01_02_15_04_05.") + hex.EncodeToString(suffix[:])
	vdir := filepath.Join(dir, version)
	if err := os.Mkdir(vdir, 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeFile0600(filepath.Join(vdir, n), []byte(vars[n])); err != nil {
			os.RemoveAll(vdir)
			return err
		}
	}
	if err := syncDir(vdir); err != nil {
		os.RemoveAll(vdir)
		return err
	}
	// Per-name links first: a link to a name the current version lacks
	// dangles (the variable reads as unset, as before) until the swap below
	// makes it valid, so a reader never sees part of an update (the kubelet
	// adds them after the swap, which leaves a window where a new
	// JWT_SECRET is read without its JWT_SECRET_PREVIOUS). A plain file
	// (--adopt) is replaced by its link with a rename, so it never
	// disappears.
	link := func(n string) error {
		p := filepath.Join(dir, n)
		ltmp := filepath.Join(dir, ".."+n+"_tmp")
		_ = os.Remove(ltmp)
		if err := os.Symlink(filepath.Join(dataLink, n), ltmp); err != nil {
			return err
		}
		if err := os.Rename(ltmp, p); err != nil {
			os.Remove(ltmp)
			return err
		}
		return nil
	}
	var plain []string
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, n))
		switch {
		case err == nil && fi.Mode().IsRegular():
			plain = append(plain, n) // replaced after the swap
			continue
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			if target, _ := os.Readlink(filepath.Join(dir, n)); target == filepath.Join(dataLink, n) {
				continue
			}
		}
		if err := link(n); err != nil {
			os.RemoveAll(vdir)
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(version, tmp); err != nil {
		os.RemoveAll(vdir)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		os.Remove(tmp)
		os.RemoveAll(vdir)
		return err
	}
	for _, n := range plain {
		if err := link(n); err != nil {
			return err
		}
	}
	// Dropped names: their links now dangle; remove them.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if _, keep := vars[n]; keep || !validVarName(n) {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, n)); err == nil && strings.HasPrefix(target, dataLink+string(filepath.Separator)) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		} else if e.Type().IsRegular() {
			// An adopted plain file that is no longer wanted.
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	if old != "" && old != version && strings.HasPrefix(old, "..") && !strings.ContainsRune(old, filepath.Separator) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return syncDir(dir)
}

func writeFile0600(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func validVarName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
