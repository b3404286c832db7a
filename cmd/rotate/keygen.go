package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"golang.org/x/term"
)

func init() {
	register(command{name: "keygen", summary: "generate a new secret (stdout, or -o FILE 0600) and its fingerprint (stderr)", run: runKeygen})
}

func runKeygen(_ context.Context, env *Env, args []string) int {
	classes := make([]string, 0, 5)
	for _, c := range keygen.Classes() {
		classes = append(classes, string(c))
	}
	fs := newFlags(env, "keygen", "rotate keygen [-o FILE [--force]] <"+strings.Join(classes, "|")+">\n\n"+
		"Prints a new secret from crypto/rand on stdout and \"fingerprint: <16 hex>\" on stderr.\n"+
		"With -o FILE (as age-keygen -o) the secret goes to FILE instead: created 0600, no trailing\n"+
		"newline, never over an existing file unless --force.\n"+
		"  jwt           48 random bytes, base64\n"+
		"  webhook       whsec_ + 48 random bytes, base64 (Standard Webhooks)\n"+
		"  field         exactly 32 random bytes, base64 (FIELD_ENCRYPTION_KEY)\n"+
		"  db, redis     32 characters from [A-Za-z0-9]")
	out := fs.String("o", "", "write the secret to this `file` (0600, no trailing newline) instead of stdout")
	fs.StringVar(out, "out", "", "same as -o")
	force := fs.Bool("force", false, "with -o: replace an existing file")
	asJSON := fs.Bool("json", false, `print {"class", "fingerprint", "file" or "secret"} as JSON on stdout`)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return wrongArgs(fs, "one class ("+strings.Join(classes, ", ")+")")
	}
	secret, err := keygen.New(keygen.Class(fs.Arg(0)))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate keygen: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		type gen struct {
			Class       string `json:"class"`
			Fingerprint string `json:"fingerprint"`
			File        string `json:"file,omitempty"`
			Secret      string `json:"secret,omitempty"` // only without -o
		}
		g := gen{Class: fs.Arg(0), Fingerprint: fingerprint.OfString(secret), File: *out}
		if *out == "" {
			g.Secret = secret
		}
		defer writeJSON(env.Stdout, g)
	}
	if *out == "" {
		if !*asJSON {
			// No newline into a file or pipe: `rotate keygen jwt > file`
			// must hold exactly the secret (services refuse a trailing
			// newline); a terminal gets one.
			if f, ok := env.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprintln(env.Stdout, secret)
			} else {
				fmt.Fprint(env.Stdout, secret)
			}
		}
	} else if err := writeSecretFile(*out, secret, *force); err != nil {
		fmt.Fprintf(env.Stderr, "rotate keygen: %v\n", err)
		if errors.Is(err, errExist) {
			return exitUsage
		}
		return exitCheck
	}
	fp := fingerprint.OfString(secret)
	if *out != "" {
		env.auditTarget("file " + absPath(*out))
		env.auditFingerprint(fs.Arg(0), "", fp)
	}
	fmt.Fprintf(env.Stderr, "fingerprint: %s\n", fp)
	return exitOK
}

var errExist = fs.ErrExist

// writeSecretFile writes secret to path, 0600, without a trailing newline:
// to a temporary file in the same directory, then renamed, so the file is
// never seen half-written or with looser permissions. An existing path is
// refused unless force.
func writeSecretFile(path, secret string, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s exists: %w (add --force to replace it)", path, fs.ErrExist)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(secret); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !force {
		// Link fails if path appeared meanwhile: never replace a file by
		// accident.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s exists: %w (add --force to replace it)", path, fs.ErrExist)
			}
			return err
		}
		return nil
	}
	return os.Rename(tmp.Name(), path)
}
