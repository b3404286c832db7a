// Package readme holds the tests that compile the Go blocks of the README
// (readme_test.go) and of every package doc comment (doc_test.go), so an API
// change that breaks a snippet fails the build, not a reader.
package readme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// block is one fenced ```go block of a Markdown file.
type block struct {
	file string // absolute path
	line int    // line of the block's first code line
	code string
}

// goBlocks returns the ```go blocks of the Markdown file at path.
func goBlocks(t *testing.T, path string) []block {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	for i, ln := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(ln) == "```go":
			cur = &block{file: path, line: i + 2}
		case cur != nil && strings.TrimSpace(ln) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += ln + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: a ```go block opened on line %d is never closed", path, cur.line-1)
	}
	return out
}

// declarations are what a README block takes from the reader's program: the
// identifiers it uses but does not define, declared with the types a real
// program would give them. A block is matched by a phrase it contains.
var declarations = map[string]string{
	"jwtkeys.OpenDir": `
type AppClaims struct {
	jwtkeys.Claims
	Role string ` + "`json:\"role\"`" + `
}

var (
	ctx                context.Context
	rdb                *redis.Client
	pool               *pgxpool.Pool
	poolCfg            *pgxpool.Config
	mux                *http.ServeMux
	api                http.Handler
	log                *slog.Logger
	loadUserStatus     jwtkeys.StatusLoader
	loadClaimsForUser  func(ctx context.Context, sub string) (AppClaims, error)
	adminDSN           string
	verifier           scram.Verifier
	pointAppsAtNewRole func(ctx context.Context, p *pgrole.Plan) error
	confirmOrder       vnpay.IPNFunc
)
`,
	"jwtkeystest.New": `
type AppClaims struct {
	jwtkeys.Claims
	Role string ` + "`json:\"role\"`" + `
}

var (
	t     *testing.T
	myapi struct {
		Router func(*jwtkeys.Service[AppClaims]) http.Handler
	}
)
`,
}

// imports are the packages a block or its declarations may name.
var imports = map[string]string{
	"context":     "context",
	"http":        "net/http",
	"slog":        "log/slog",
	"testing":     "testing",
	"redis":       "github.com/redis/go-redis/v9",
	"pgxpool":     "github.com/jackc/pgx/v5/pgxpool",
	"prometheus":  "github.com/prometheus/client_golang/prometheus",
	"jwtkeys":     "github.com/goodgo/rotation/jwtkeys",
	"jwtprom":     "github.com/goodgo/rotation/jwtkeys/jwtprom",
	"jwtkeystest": "github.com/goodgo/rotation/jwtkeys/jwtkeystest",
	"refreshpg":   "github.com/goodgo/rotation/jwtkeys/refreshpg",
	"fieldcrypt":  "github.com/goodgo/rotation/fieldcrypt",
	"pgstore":     "github.com/goodgo/rotation/fieldcrypt/pgstore",
	"pgrole":      "github.com/goodgo/rotation/pgrole",
	"scram":       "github.com/goodgo/rotation/pgrole/scram",
	"vnpay":       "github.com/goodgo/rotation/payment/vnpay",
	"momo":        "github.com/goodgo/rotation/payment/momo",
	"zalopay":     "github.com/goodgo/rotation/payment/zalopay",
	"webhook":     "github.com/goodgo/rotation/payment/webhook",
	"payment":     "github.com/goodgo/rotation/payment",
	"idemredis":   "github.com/goodgo/rotation/payment/idemredis",
	"secretenv":   "github.com/goodgo/rotation/secretenv",
	"fingerprint": "github.com/goodgo/rotation/fingerprint",
	"keygen":      "github.com/goodgo/rotation/keygen",
	"redisauth":   "github.com/goodgo/rotation/redisauth",
	// Named by the package docs' blocks (doc_test.go).
	"bytes":          "bytes",
	"fmt":            "fmt",
	"hmac":           "crypto/hmac",
	"httptest":       "net/http/httptest",
	"os":             "os",
	"sha256":         "crypto/sha256",
	"sha512":         "crypto/sha512",
	"strings":        "strings",
	"time":           "time",
	"pgx":            "github.com/jackc/pgx/v5",
	"fieldcrypttest": "github.com/goodgo/rotation/fieldcrypt/fieldcrypttest",
	"idempg":         "github.com/goodgo/rotation/payment/idempg",
	"paymentprom":    "github.com/goodgo/rotation/payment/paymentprom",
	"paymenttest":    "github.com/goodgo/rotation/payment/paymenttest",
	"pgbouncer":      "github.com/goodgo/rotation/pgrole/pgbouncer",
	"pgroletest":     "github.com/goodgo/rotation/pgrole/pgroletest",
}

// packagesNamed returns the names x of the x.Name selectors in src's code
// (not in its comments or strings), in order of first use: the packages a
// block may need imported.
func packagesNamed(src string) []string {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), func(token.Position, string) {}, 0)
	var out []string
	seen := map[string]bool{}
	var prev [2]string // the last two tokens: identifier, then "."
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.IDENT && prev[1] == "." && prev[0] != "" && lit[0] >= 'A' && lit[0] <= 'Z' && !seen[prev[0]] {
			seen[prev[0]] = true
			out = append(out, prev[0])
		}
		switch {
		case tok == token.IDENT:
			prev = [2]string{lit, ""}
		case tok == token.PERIOD && prev[0] != "" && prev[1] == "":
			prev[1] = "."
		default:
			prev = [2]string{}
		}
	}
}

// program is a main package holding b's declarations and, in main, its code
// under a //line directive (so errors name the README's lines), followed by
// a use of every variable it defines: a snippet shows calls, not what the
// reader does with their results.
func program(t *testing.T, b block, decls string) string {
	t.Helper()
	body := fmt.Sprintf("func main() {\n//line %s:%d\n%s}\n", b.file, b.line, b.code)
	src := decls + body
	var pkgs []string
	seen := map[string]bool{}
	for _, name := range packagesNamed(src) {
		if p, ok := imports[name]; ok && !seen[name] && !strings.Contains(decls, "\t"+name+" ") {
			seen[name] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	var head strings.Builder
	head.WriteString("package main\n\nimport (\n")
	for _, p := range pkgs {
		fmt.Fprintf(&head, "\t%q\n", p)
	}
	head.WriteString(")\n")
	full := head.String() + src

	// Use every variable main defines at its top level.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "block.go", full, 0)
	if err != nil {
		t.Fatalf("%s:%d: the block does not parse: %v", b.file, b.line, err)
	}
	var uses []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "main" {
			continue
		}
		for _, st := range fn.Body.List {
			as, ok := st.(*ast.AssignStmt)
			if !ok || as.Tok != token.DEFINE {
				continue
			}
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
					uses = append(uses, id.Name)
				}
			}
		}
	}
	use := ""
	if len(uses) > 0 {
		use = "_ = []any{" + strings.Join(uses, ", ") + "}\n"
	}
	return strings.TrimSuffix(full, "}\n") + "//line block.go:1\n" + use + "}\n"
}

// TestREADMEGoBlocksCompile builds every ```go block of the README against
// the module's packages, each in a program of its own (go build -overlay:
// nothing is written to the source tree).
func TestREADMEGoBlocksCompile(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(t, filepath.Join(root, "README.md"))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: the test would prove nothing")
	}
	var progs []string
	for _, b := range blocks {
		var decls string
		var matched []string
		for phrase, d := range declarations {
			if strings.Contains(b.code, phrase) {
				decls = d
				matched = append(matched, phrase)
			}
		}
		if len(matched) != 1 {
			t.Fatalf("README.md:%d: a ```go block must match exactly one entry of declarations in this test (matched %q): add the identifiers it takes from the reader's program", b.line, matched)
		}
		progs = append(progs, program(t, b, decls))
	}
	if out, err := build(t, root, progs); err != nil {
		t.Fatalf("README.md's Go blocks do not compile (%v):\n%s", err, out)
	}
	t.Logf("%d README blocks compile", len(blocks))
}

// build compiles each of progs as a main package of its own inside the
// module at root (go build -overlay: nothing is written to the source tree)
// and returns the compiler's output when one does not compile.
func build(t *testing.T, root string, progs []string) (string, error) {
	t.Helper()
	tmp := t.TempDir()
	overlay := map[string]string{}
	var pkgs []string
	for i, p := range progs {
		src := filepath.Join(tmp, fmt.Sprintf("block%d.go", i+1))
		if err := os.WriteFile(src, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "internal", "readme", fmt.Sprintf("zzblock%d", i+1))
		overlay[filepath.Join(dir, "main.go")] = src
		pkgs = append(pkgs, "./internal/readme/"+filepath.Base(dir))
	}
	ob, _ := json.Marshal(map[string]any{"Replace": overlay})
	of := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(of, ob, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"build", "-overlay", of, "-o", os.DevNull}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
