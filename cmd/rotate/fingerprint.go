package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/secretenv"
)

func init() {
	register(command{name: "fingerprint", summary: "print the fingerprint of a secret read from stdin", run: runFingerprint})
}

func runFingerprint(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "fingerprint", "rotate fingerprint [--keep-newline] < secret\n\n"+
		"Reads one secret from stdin (without echo on a terminal) and prints the first 16\n"+
		"hex characters of its SHA-256: the value to record in the rotation ticket.\n"+
		"Equivalent: printf '%s' \"$S\" | sha256sum | cut -c1-16\n\n"+
		"The fingerprint is of the bytes a service would use: input ending in a newline or\n"+
		"other whitespace is refused (a service refuses it too), unless --keep-newline says\n"+
		"the fleet signs with it (SECRET_KEEP_TRAILING_WHITESPACE on the services).")
	keep := fs.Bool("keep-newline", false, "the secret ends with whitespace that is part of it: hash it as it is")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(env.Stderr, "rotate fingerprint: the secret is read from stdin, never from arguments")
		return exitUsage
	}
	b, err := readSecret(env, "secret: ", true)
	if err == nil && strings.TrimSpace(string(b)) == "" {
		err = ErrEmptySecret
	}
	if errors.Is(err, ErrEmptySecret) {
		fmt.Fprintln(env.Stderr, "rotate fingerprint: empty input: pipe the secret on stdin")
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate fingerprint: read stdin: %v\n", err)
		return exitUsage
	}
	if _, err := secretenv.Decode("stdin", string(b), secretenv.Rule{KeepTrailingSpace: *keep}); err != nil {
		fmt.Fprintf(env.Stderr, "rotate fingerprint: %v\n", strings.Replace(err.Error(), "add stdin to "+secretenv.EnvKeepTrailingSpace, "give --keep-newline", 1))
		return exitUsage
	}
	if of.json(env) {
		writeJSON(env.Stdout, struct {
			Fingerprint string `json:"fingerprint"`
			Bytes       int    `json:"bytes"`
		}{fingerprint.Of(b), len(b)})
		return exitOK
	}
	fmt.Fprintln(env.Stdout, fingerprint.Of(b))
	return exitOK
}
