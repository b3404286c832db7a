// Package secretenv loads secrets from the environment or from a directory of
// mounted secret files, validates them with per-class rules and checks a whole
// environment against the runbook's §1 inventory. It is the Go counterpart of
// the API's env-validation.ts, shared by every package that reads a secret.
//
// Errors name the variable and the value's fingerprint, never the value.
//
//	src := secretenv.Env()                      // or secretenv.Dir("/run/secrets")
//	key, err := secretenv.Require(src, "JWT_SECRET", secretenv.HMACRule)
//	// err: JWT_SECRET (fp=3f2a9c0d41b7e8aa): too short: 12 bytes, need at least 32
//	for _, f := range secretenv.Check(src, secretenv.Inventory()) {
//		if !f.OK() {
//			fmt.Println(f.Err) // names f.Var and the fingerprint, never the value
//		}
//	}
//
// The rotation packages take a Source, so a service can feed them from the
// environment, a mounted secrets directory, or its own secret store (any
// type with Lookup and String).
package secretenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Source looks up secret values by variable name.
type Source interface {
	// Lookup returns the raw value of name and whether it is set. An error
	// means the source could not be read (not that the value is invalid).
	Lookup(name string) (value string, ok bool, err error)
	// String says where values come from, for messages ("environment",
	// "directory /run/secrets"). It never includes a value.
	String() string
}

// Env is the process environment.
func Env() Source { return envSource{} }

type envSource struct{}

func (envSource) Lookup(name string) (string, bool, error) {
	v, ok := os.LookupEnv(name)
	return v, ok, nil
}

func (envSource) String() string { return "environment" }

// Map is a fixed set of values, for tests and for callers that read secrets
// from somewhere else.
func Map(m map[string]string) Source { return mapSource(m) }

type mapSource map[string]string

func (m mapSource) Lookup(name string) (string, bool, error) {
	v, ok := m[name]
	return v, ok, nil
}

func (mapSource) String() string { return "map" }

// MaxFileSize is the largest secret file Dir reads.
const MaxFileSize = 64 << 10

// Dir reads each variable from the file of the same name in dir, the layout of
// a Kubernetes secret volume or of Docker secrets. A missing file is an unset
// variable. The file's bytes are the value: nothing is stripped, so a file
// and an environment variable holding the same secret give the same key (a
// trailing newline is refused by the rules unless EnvKeepTrailingSpace lists
// the variable).
// Symbolic links are followed, so a Kubernetes volume, which swaps its files
// through a "..data" link, is read as it is at the time of the call. Names
// must be plain variable names ([A-Za-z0-9_]): a name is never a path.
func Dir(dir string) Source { return dirSource(dir) }

type dirSource string

// ErrInvalidName is returned by Dir sources for a name that is not a plain
// variable name.
var ErrInvalidName = errors.New("secretenv: not a variable name")

func (d dirSource) Lookup(name string) (string, bool, error) {
	if !validName(name) {
		return "", false, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	f, err := os.Open(filepath.Join(string(d), name))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("secretenv: read %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return "", false, fmt.Errorf("secretenv: read %s: %w", name, err)
	}
	if len(b) > MaxFileSize {
		return "", false, fmt.Errorf("secretenv: %s: file larger than %d bytes", name, MaxFileSize)
	}
	return string(b), true, nil
}

func (d dirSource) String() string { return "directory " + string(d) }

// DirOf returns the directory a Dir source (or a Snapshot of one) reads, so
// a watcher can follow the directory the source was opened on without being
// told it again; ok is false for other sources.
func DirOf(src Source) (dir string, ok bool) {
	switch s := src.(type) {
	case dirSource:
		return string(s), true
	case pinnedDir:
		return string(s.dir), true
	}
	return "", false
}

// Snapshot pins a Kubernetes-style directory to one version: when dir has a
// "..data" link, the returned source reads every name from the directory
// that link points to now, so a load of several variables never mixes two
// versions across a swap (the kubelet swaps "..data" atomically, but the
// per-name links are followed one by one). A name missing from that version
// is looked up in dir itself; a directory without "..data" is returned as it
// is.
func (d dirSource) Snapshot() (Source, error) {
	target, err := os.Readlink(filepath.Join(string(d), "..data"))
	if err != nil {
		return d, nil // no ..data link: plain files
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(string(d), target)
	}
	return pinnedDir{dir: d, version: dirSource(target)}, nil
}

// pinnedDir is a Dir source read at one version of its "..data" link.
type pinnedDir struct {
	dir     dirSource
	version dirSource
}

func (p pinnedDir) Lookup(name string) (string, bool, error) {
	v, ok, err := p.version.Lookup(name)
	if err != nil || ok {
		return v, ok, err
	}
	return p.dir.Lookup(name)
}

func (p pinnedDir) String() string { return p.dir.String() }

// Snapshotter is a Source that can pin itself to one consistent version for
// the duration of a load (Dir does, for a Kubernetes secret volume).
type Snapshotter interface {
	Snapshot() (Source, error)
}

// Snapshot returns src pinned to one version when it is a Snapshotter, else
// src. Loaders of several variables (jwtkeys, fieldcrypt) call it once per
// load so the variables they read belong together.
func Snapshot(src Source) (Source, error) {
	if s, ok := src.(Snapshotter); ok {
		return s.Snapshot()
	}
	return src, nil
}

// Names lists the plain files (and links to files) in a Dir source whose
// names are variable names, sorted. Kubernetes' "..data" entries are skipped.
func Names(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if validName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return false
		}
	}
	return true
}
