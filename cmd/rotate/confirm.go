package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// confirmIrreversible asks before an irreversible step: --yes confirms; on
// a terminal the operator types "yes"; otherwise (a script, a pipe) the
// command refuses and says to pass --yes. It reports whether to go on.
func confirmIrreversible(env *Env, cmd string, yes bool, what string) bool {
	if yes {
		return true
	}
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "rotate %s: this %s and cannot be undone; see what it would do with --dry-run, then rerun with --yes\n", cmd, what)
		return false
	}
	fmt.Fprintf(env.Stderr, "rotate %s: this %s and cannot be undone. Type yes to go on: ", cmd, what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		fmt.Fprintf(env.Stderr, "rotate %s: not confirmed; nothing was changed\n", cmd)
		return false
	}
	return true
}

// cannotConfirm reports whether an irreversible step would be refused for
// want of --yes (no --yes and no terminal to ask on), so a command can say
// so before it connects anywhere.
func cannotConfirm(env *Env, yes bool) bool {
	if yes {
		return false
	}
	f, ok := env.Stdin.(*os.File)
	return !ok || !term.IsTerminal(int(f.Fd()))
}
