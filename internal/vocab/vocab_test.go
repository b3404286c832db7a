// Package vocab holds tests that keep the module's exported names to the
// vocabulary written down in docs/design.md ("Vocabulary"), so a new
// constructor that breaks a rule fails the build, not a reader's guess.
package vocab

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// exportedFunc is one exported top-level function of a library package.
type exportedFunc struct {
	pos  string // file:line
	decl *ast.FuncDecl
}

func (f exportedFunc) name() string { return f.decl.Name.Name }

func (f exportedFunc) deprecated() bool {
	if f.decl.Doc == nil {
		return false
	}
	for _, ln := range strings.Split(f.decl.Doc.Text(), "\n") {
		if strings.HasPrefix(ln, "Deprecated: ") {
			return true
		}
	}
	return false
}

// libraryFuncs returns the exported top-level functions (not methods) of
// every library package of the module: not commands, examples, tests or
// internal packages, which a user never calls.
func libraryFuncs(t *testing.T) []exportedFunc {
	t.Helper()
	return libraryDecls(t, false)
}

// libraryMethods is libraryFuncs for the exported methods.
func libraryMethods(t *testing.T) []exportedFunc {
	t.Helper()
	return libraryDecls(t, true)
}

func libraryDecls(t *testing.T, methods bool) []exportedFunc {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []exportedFunc
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || base == "internal" || base == "testdata" || rel == "cmd" || rel == "examples") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || (fn.Recv != nil) != methods || !fn.Name.IsExported() {
				continue
			}
			p := fset.Position(fn.Pos())
			out = append(out, exportedFunc{pos: rel + ":" + itoa(p.Line), decl: fn})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d exported functions under %s: the walk is wrong", len(out), root)
	}
	return out
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// typeText is the source text of a type expression, enough to name it
// ("*LiveKeyring", "secretenv.Source").
func typeText(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + typeText(e.X)
	case *ast.SelectorExpr:
		return typeText(e.X) + "." + e.Sel.Name
	case *ast.IndexExpr:
		return typeText(e.X)
	case *ast.IndexListExpr:
		return typeText(e.X)
	case *ast.ArrayType:
		return "[]" + typeText(e.Elt)
	case *ast.Ellipsis:
		return "..." + typeText(e.Elt)
	}
	return "?"
}

// params are the parameter types of fn, one per parameter.
func params(fn *ast.FuncDecl) []string {
	var out []string
	for _, f := range fn.Type.Params.List {
		n := len(f.Names)
		if n == 0 {
			n = 1
		}
		for range n {
			out = append(out, typeText(f.Type))
		}
	}
	return out
}

// pending are old names kept only until code this test's owner may not edit
// moves to the new one; each entry says what to do when it has.
var pending = map[string]string{}

func isSource(typ string) bool { return typ == "Source" || typ == "secretenv.Source" }

// TestFromTheEnvironmentNames keeps the rule for constructors that read
// secrets (docs/design.md, Vocabulary): Load… reads a secretenv.Source once
// and returns a value, Open… returns a live holder (a Live… type) that
// reloads from it, both take the Source first; a shorthand that fixes the
// source appends the source's name bare, Env or Dir (jwtkeys.OpenEnv,
// jwtkeys.OpenDir, fieldcrypt.LoadKeyringEnv), never FromEnv; New… reads no
// Source.
func TestFromTheEnvironmentNames(t *testing.T) {
	checked := 0
	for _, f := range libraryFuncs(t) {
		name, ps := f.name(), params(f.decl)
		var results []string
		if f.decl.Type.Results != nil {
			for _, r := range f.decl.Type.Results.List {
				results = append(results, typeText(r.Type))
			}
		}
		for _, bad := range []string{"FromEnv", "FromDir", "FromFile", "FromEnvironment"} {
			if _, ok := pending[name]; strings.Contains(name, bad) && !f.deprecated() && !ok {
				t.Errorf("%s: %s: a fixed source is a bare suffix (%s), not %s", f.pos, name, strings.TrimPrefix(bad, "From"), bad)
			}
		}
		if _, ok := pending[name]; ok || f.deprecated() {
			continue
		}
		takesSource := len(ps) > 0 && isSource(ps[0])
		switch {
		case strings.HasPrefix(name, "Load") || strings.HasPrefix(name, "Open"):
			checked++
			live := len(results) > 0 && strings.HasPrefix(strings.TrimPrefix(results[0], "*"), "Live")
			if strings.HasPrefix(name, "Open") && !live {
				t.Errorf("%s: %s returns %v: Open… returns a live holder (a Live… type); a value read once is Load…", f.pos, name, results)
			}
			if strings.HasPrefix(name, "Load") && live {
				t.Errorf("%s: %s returns %v: a live holder is returned by Open…, not Load…", f.pos, name, results)
			}
			switch {
			case strings.HasSuffix(name, "Env"):
				for _, p := range ps {
					if isSource(p) {
						t.Errorf("%s: %s takes a Source: the Env suffix says the source is secretenv.Env()", f.pos, name)
					}
				}
			case strings.HasSuffix(name, "Dir"):
				if len(ps) == 0 || ps[0] != "string" {
					t.Errorf("%s: %s(%v): the Dir suffix takes the directory first", f.pos, name, ps)
				}
			default:
				if !takesSource {
					t.Errorf("%s: %s(%v): Load… and Open… take the secretenv.Source first (or end in Env or Dir)", f.pos, name, ps)
				}
			}
		case strings.HasPrefix(name, "New"):
			for _, p := range ps {
				if isSource(p) {
					t.Errorf("%s: %s takes a Source: a constructor that reads secrets is Load… or Open…", f.pos, name)
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d Load…/Open… functions checked: the walk is wrong", checked)
	}
}

// recvType is the receiver's type name without pointer or type parameters.
func recvType(fn *ast.FuncDecl) string {
	return strings.TrimPrefix(typeText(fn.Recv.List[0].Type), "*")
}

// TestRefreshNames keeps the refresh rule (docs/design.md, Vocabulary,
// Refresh): the verb Refresh is Refresher.Refresh, the refresh that spends
// each token once and checks the user's status; any other method named
// Refresh… skips some of that and says so with the suffix Unchecked, so no
// half-checked variant reads as the safe one. Refreshed (an Observer event)
// is not a refresh.
func TestRefreshNames(t *testing.T) {
	found := 0
	for _, m := range libraryMethods(t) {
		name := m.name()
		if !strings.HasPrefix(name, "Refresh") || name == "Refreshed" {
			continue
		}
		found++
		if name == "Refresh" && recvType(m.decl) == "Refresher" {
			continue
		}
		if !strings.HasSuffix(name, "Unchecked") {
			t.Errorf("%s: %s.%s: only Refresher.Refresh is called Refresh; a refresh that skips its checks ends in Unchecked", m.pos, recvType(m.decl), name)
		}
	}
	if found < 2 {
		t.Fatalf("found %d Refresh… methods: the walk is wrong (Refresher.Refresh, Service.RefreshUnchecked)", found)
	}
}
