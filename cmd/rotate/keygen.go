package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/keygen"
	"golang.org/x/term"
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
		"  db, redis     32 characters from [A-Za-z0-9]")
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
	// No newline into a file or pipe: `rotate keygen jwt > file` must hold
	// exactly the secret (services refuse a trailing newline).
	if f, ok := env.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(env.Stdout, secret)
	} else {
		fmt.Fprint(env.Stdout, secret)
	}
	fmt.Fprintf(env.Stderr, "fingerprint: %s\n", fingerprint.OfString(secret))
	return exitOK
}
