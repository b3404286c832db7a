package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/goodgo/rotation/secretenv"
)

// Exit codes.
const (
	exitOK    = 0
	exitCheck = 1 // a check failed
	exitUsage = 2 // bad usage
)

// Env is what a command may touch: its streams and where secrets come from.
// Tests swap every field.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Vars is where secrets and settings are read (the process environment
	// in main, a map in tests).
	Vars secretenv.Source
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// The audit trail's global settings and the running command's record
	// (audit.go).
	auditLog, ticket, actor string
	audit                   *audit
	// tz is the global --tz flag (zone.go).
	tz string
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// getenv returns a non-secret setting from Vars ("" when unset).
func (e *Env) getenv(name string) string {
	v, _, _ := e.Vars.Lookup(name)
	return v
}

// command is one top-level subcommand. Each lives in its own file and
// registers itself in init.
type command struct {
	name    string
	summary string // one line for "rotate help"
	run     func(ctx context.Context, env *Env, args []string) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("rotate: command registered twice: " + c.name) // programming error at init
	}
	commands[c.name] = c
}

func run(ctx context.Context, args []string, env *Env) int {
	env.Stderr = newRedactor(env.Stderr, env.Vars)
	args, err := globalFlags(env, args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate: %v\n", err)
		return exitUsage
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(env.Stdout, version())
		return exitOK
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, env, []string{"--help"})
			}
		}
		usage(env.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "rotate: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return exitUsage
	}
	return withAudit(ctx, env, args, func() int { return c.run(ctx, env, args[1:]) })
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rotate [--audit-log FILE|DSN] [--ticket ID] [--actor NAME] [--tz ZONE] [--json | -o json] <command> [flags] [args]")
	fmt.Fprintln(w, "       rotate --version")
	fmt.Fprintln(w, "\nSecrets come from the environment, files or stdin, never from arguments.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 a check failed, 2 bad usage.\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"rotate <command> --help\" for details.")
}

// helpOut maps a FlagSet made by newFlags to its command's stdout, where
// parse sends the usage that --help asked for.
var helpOut sync.Map // *flag.FlagSet → io.Writer

// newFlags returns a FlagSet that writes its usage to env.Stderr, headed by
// synopsis (the lines after "usage: "); after an explicit --help, parse
// sends it to env.Stdout instead (so "rotate pg plan --help | less" works,
// as "rotate help" and "rotate pg --help" do).
func newFlags(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n", synopsis)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	helpOut.Store(fs, env.Stdout)
	return fs
}

// parse parses args into fs. It returns done=true with the exit code when
// the command must stop: 0 after --help (usage on stdout), 2 after a bad
// flag (error and usage on stderr).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	stderr := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(flagsFirst(fs, args))
	fs.SetOutput(stderr)
	stdout, _ := helpOut.LoadAndDelete(fs)
	if err != nil {
		if w, ok := stdout.(io.Writer); ok && errors.Is(err, flag.ErrHelp) {
			_, _ = w.Write(buf.Bytes())
			return exitOK, true
		}
		if errors.Is(err, flag.ErrHelp) {
			_, _ = stderr.Write(buf.Bytes())
			return exitOK, true
		}
		// "rotate pg plan: flag provided but not defined: -x", then the usage.
		fmt.Fprintf(stderr, "rotate %s: ", fs.Name())
		_, _ = stderr.Write(buf.Bytes())
		return exitUsage, true
	}
	return 0, false
}

// flagsFirst moves the flags in args in front of the positional arguments,
// so that "rotate checklist jwt prod --stdin" means what
// "rotate checklist --stdin jwt prod" does, as in most CLIs. A flag that takes
// a value keeps the argument after it (unless written -flag=value); boolean
// flags take none; everything after "--" stays positional, in order.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // unknown: Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(positional) == 0 {
		return flags
	}
	return append(append(flags, "--"), positional...)
}

// subcommand dispatches args[0] among subs, for commands with verbs
// ("rotate jwt status"). It handles help and unknown verbs.
func subcommand(ctx context.Context, env *Env, name string, args []string, subs map[string]command) int {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	help := func(w io.Writer) {
		fmt.Fprintf(w, "usage: rotate %s <%s> [flags]\n\n", name, strings.Join(names, "|"))
		for _, n := range names {
			fmt.Fprintf(w, "  %-16s %s\n", n, subs[n].summary)
		}
	}
	if len(args) == 0 {
		help(env.Stderr)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		help(env.Stdout)
		return exitOK
	}
	if strings.HasPrefix(args[0], "-") {
		// Flags before the verb ("rotate jwt --dir D status"): flags go
		// anywhere, so the verb is the one argument naming a subcommand.
		// Two such arguments (a flag value that is also a verb name) are
		// ambiguous: the operator puts the verb first.
		at := -1
		for i, a := range args {
			if _, ok := subs[a]; ok {
				if at >= 0 {
					fmt.Fprintf(env.Stderr, "rotate %s: %q and %q both name a subcommand: put the subcommand first (rotate %s <subcommand> [flags])\n", name, args[at], a, name)
					return exitUsage
				}
				at = i
			}
		}
		if at > 0 {
			rest := append(append([]string{}, args[:at]...), args[at+1:]...)
			return subs[args[at]].run(ctx, env, rest)
		}
	}
	c, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "rotate %s: unknown subcommand %q\n", name, args[0])
		help(env.Stderr)
		return exitUsage
	}
	return c.run(ctx, env, args[1:])
}

// ErrEmptySecret is returned by readSecret for empty input.
var ErrEmptySecret = errors.New("empty secret")

// maxSecretInput bounds what readSecret accepts.
const maxSecretInput = 64 << 10

// readSecret reads one secret from env.Stdin. On a terminal it reads without
// echo (prompting on stderr). Unless keepNewline, one trailing newline ("\n"
// or "\r\n") is stripped. Empty input is ErrEmptySecret.
func readSecret(env *Env, prompt string, keepNewline bool) ([]byte, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, ErrEmptySecret
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(env.Stdin, maxSecretInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretInput {
		return nil, fmt.Errorf("input larger than %d bytes", maxSecretInput)
	}
	if !keepNewline {
		switch {
		case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
			b = b[:len(b)-2]
		case len(b) >= 1 && b[len(b)-1] == '\n':
			b = b[:len(b)-1]
		}
	}
	if len(b) == 0 {
		return nil, ErrEmptySecret
	}
	return b, nil
}

// readFileSecret reads a secret from path, stripping one trailing newline.
func readFileSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return nil, fmt.Errorf("%s: %w", path, ErrEmptySecret)
	}
	return []byte(s), nil
}
