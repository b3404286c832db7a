package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// missingFlag reports required flags that were not given, by name, then
// the usage; it returns exitUsage.
func missingFlag(fs *flag.FlagSet, names ...string) int {
	for i, n := range names {
		names[i] = "--" + n
	}
	fmt.Fprintf(fs.Output(), "rotate %s: missing required flag %s\n\n", fs.Name(), strings.Join(names, " and "))
	fs.Usage()
	return exitUsage
}

// wrongArgs reports positional arguments that do not fit (want says what
// fits: "no arguments", "one class", …), then the usage; it returns
// exitUsage.
func wrongArgs(fs *flag.FlagSet, want string) int {
	switch fs.NArg() {
	case 0:
		fmt.Fprintf(fs.Output(), "rotate %s: want %s, got none\n\n", fs.Name(), want)
	default:
		fmt.Fprintf(fs.Output(), "rotate %s: want %s, got %q\n\n", fs.Name(), want, strings.Join(fs.Args(), " "))
	}
	fs.Usage()
	return exitUsage
}

// version describes this build: the module version (or "devel"), the VCS
// revision and time it was built from, "+dirty" when the tree had changes,
// and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "rotate (no build information)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := "rotate " + v
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && strings.Contains(v, rev) { // a pseudo-version names the commit
		rev = ""
		if at != "" {
			out += " (" + at + ")"
		}
	}
	if rev != "" {
		if dirty {
			rev += "+dirty"
		}
		out += " (" + rev
		if at != "" {
			out += " " + at
		}
		out += ")"
	}
	return out + " " + bi.GoVersion
}

// requireFlags reports, by name and in the order of names, the required
// flags whose value in vals is empty (then the usage, exit 2). bad is
// false when all are given.
func requireFlags(fs *flag.FlagSet, vals map[string]string, names ...string) (code int, bad bool) {
	var missing []string
	for _, n := range names {
		if vals[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return 0, false
	}
	return missingFlag(fs, missing...), true
}
