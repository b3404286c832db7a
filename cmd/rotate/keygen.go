package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
)

func init() {
	register(command{name: "keygen", summary: "generate a new secret (stdout) and its fingerprint (stderr)", run: runKeygen})
}

func runKeygen(_ context.Context, env *Env, args []string) int {
	classes := make([]string, 0, 5)
	for _, c := range keygen.Classes() {
		classes = append(classes, string(c))
	}
	fs := newFlags(env, "keygen", "rotate keygen <"+strings.Join(classes, "|")+">\n\n"+
		"Prints a new secret from crypto/rand on stdout and \"fingerprint: <16 hex>\" on stderr.\n"+
		"  jwt           48 random bytes, base64\n"+
		"  webhook       whsec_ + 48 random bytes, base64 (Standard Webhooks)\n"+
		"  field         exactly 32 random bytes, base64 (FIELD_ENCRYPTION_KEY)\n"+
		"  db, redis     32 characters from [A-Za-z0-9]\n"+
		"--out FILE writes it to FILE instead (created 0600, never overwritten).")
	out := fs.String("out", "", "write the secret to this file (created 0600, must not exist) instead of stdout")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	secret, err := keygen.New(keygen.Class(fs.Arg(0)))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate keygen: %v\n", err)
		return exitUsage
	}
	if *out != "" {
		// "keygen > pw" would leave the plaintext in a file of the
		// shell's umask (0644 usually).
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = fmt.Fprintln(f, secret)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate keygen: --out: %v\n", err)
			return exitCheck
		}
	} else {
		fmt.Fprintln(env.Stdout, secret)
	}
	fmt.Fprintf(env.Stderr, "fingerprint: %s\n", fingerprint.OfString(secret))
	return exitOK
}
