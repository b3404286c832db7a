package readme

import (
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docBlocks returns the code blocks (indented spans, in godoc syntax) of the
// package doc comment of every non-test Go file of the module at root, each
// with the file line its first code line is on. Nested modules
// (examples/consumer) are returned in nested, by directory: their blocks
// would need their own build.
func docBlocks(t *testing.T, root string) (blocks []block, nested map[string]int) {
	t.Helper()
	nested = map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Doc == nil {
			return nil
		}
		found := codeBlocks(t, fset, f.Doc, src, path)
		if mod := moduleRoot(root, filepath.Dir(path)); mod != root {
			nested[mod] += len(found)
			return nil
		}
		blocks = append(blocks, found...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks, nested
}

// moduleRoot is the directory of the go.mod that holds dir, at or under root.
func moduleRoot(root, dir string) string {
	for d := dir; d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return root
}

// codeBlocks returns the code blocks of doc, a file's package comment,
// located on the file's lines (go/doc/comment gives the text, not where it
// is: each block's first line is found among the comment's lines in order).
func codeBlocks(t *testing.T, fset *token.FileSet, doc *ast.CommentGroup, src []byte, path string) []block {
	t.Helper()
	var p comment.Parser
	lines := strings.Split(string(src), "\n")
	start := fset.Position(doc.Pos()).Line - 1
	end := fset.Position(doc.End()).Line
	var out []block
	next := start
	for _, c := range p.Parse(doc.Text()).Content {
		code, ok := c.(*comment.Code)
		if !ok {
			continue
		}
		first := strings.TrimSpace(strings.SplitN(code.Text, "\n", 2)[0])
		at := -1
		for i := next; i < end; i++ {
			ln := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "//"))
			if ln == first {
				at = i
				break
			}
		}
		if at < 0 {
			t.Fatalf("%s: a package doc code block starting %q is not found on the comment's lines", path, first)
		}
		next = at + 1
		out = append(out, block{file: path, line: at + 1, code: code.Text})
	}
	return out
}

// isGo says whether a doc block is Go (the others are shell commands, SQL or
// metric lists): it defines a variable with := or names a package this test
// can import. A Go block with a typo is still Go, and fails to build.
func isGo(code string) bool {
	if strings.Contains(code, ":=") {
		return true
	}
	for _, name := range packagesNamed(code) {
		if _, ok := imports[name]; ok {
			return true
		}
	}
	return false
}

// elide drops the elisions a doc block writes as ... or … where code is left
// out: an element of a composite literal or argument list (Config{...,
// Observer: obs}, Request{Amount: 1, ...}), a field's value (RedirectURL:
// ...), or a whole block ({ … }). What remains must compile as written.
// Deleted bytes become spaces, so the lines stay where they were.
func elide(code string) string {
	type tk struct {
		off, end int
		tok      token.Token
	}
	src := []byte(code)
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, 0)
	var toks []tk
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // an inserted semicolon is not in the text
		}
		off := file.Offset(pos)
		n := len(lit)
		if n == 0 {
			n = len(tok.String())
		}
		if tok == token.ILLEGAL {
			n = len(string([]rune(code[off:])[:1]))
		}
		toks = append(toks, tk{off, off + n, tok})
	}
	isElision := func(i int) bool {
		t := toks[i]
		return t.tok == token.ELLIPSIS || (t.tok == token.ILLEGAL && code[t.off:t.end] == "…")
	}
	out := []byte(code)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if out[i] != '\n' {
				out[i] = ' '
			}
		}
	}
	for i := range toks {
		if !isElision(i) || i == 0 || i+1 >= len(toks) {
			continue
		}
		prev, next := toks[i-1].tok, toks[i+1].tok
		if next != token.COMMA && next != token.RBRACE && next != token.RPAREN {
			continue
		}
		// A comma left before } or ) is valid Go, on one line or across
		// lines, so only the elision and the comma after it go.
		from, to := toks[i].off, toks[i].end
		switch prev {
		case token.COLON: // Key: …
			if i < 2 || toks[i-2].tok != token.IDENT {
				continue
			}
			from = toks[i-2].off
		case token.COMMA, token.LBRACE, token.LPAREN: // A: 1, … or {…, B: 2} or { … }
		default:
			continue
		}
		if next == token.COMMA {
			to = toks[i+1].end
		}
		blank(from, to)
	}
	return string(out)
}

// docDeclarations are what the package docs' blocks take from the reader's
// program, by the directory of the package whose doc holds the block.
var docDeclarations = map[string]string{
	"jwtkeys": `
type AppClaims struct {
	jwtkeys.Claims
	Role string
}

var (
	ctx            context.Context
	rdb            *redis.Client
	pool           *pgxpool.Pool
	mux            *http.ServeMux
	api            http.Handler
	r              *http.Request
	userID         string
	loadUserStatus jwtkeys.StatusLoader
	loadClaims     func(ctx context.Context, sub string) (AppClaims, error)
)
`,
	"jwtkeys/jwtkeystest": `
type AppClaims struct {
	jwtkeys.Claims
	Role string
}

var (
	t         *testing.T
	myHandler http.Handler
)
`,
	"jwtkeys/refreshpg": `
type AppClaims struct {
	jwtkeys.Claims
	Role string
}

var (
	ctx        context.Context
	pool       *pgxpool.Pool
	svc        *jwtkeys.Service[AppClaims]
	status     *jwtkeys.StatusCache
	loadClaims func(ctx context.Context, sub string) (AppClaims, error)
)
`,
	"fieldcrypt": `
var (
	indexKey []byte
	email    string
)
`,
	"fieldcrypt/fieldcrypttest": `
type UserRepo struct{}

var (
	t           *testing.T
	db          *pgxpool.Pool
	NewUserRepo func(*pgxpool.Pool, *fieldcrypt.Keyring) *UserRepo
)
`,
	"fieldcrypt/pgstore": `
var (
	ctx  context.Context
	pool *pgxpool.Pool
)
`,
	"fingerprint": `
var raw []byte
`,
	"payment": `
var (
	canonical []byte
	sigHex    string
)
`,
	"payment/idempg": `
var (
	ctx  context.Context
	pool *pgxpool.Pool
)
`,
	"payment/idemredis": `
var rdb *redis.Client
`,
	"payment/momo": `
var (
	rdb *redis.Client
	id  string
)
`,
	"payment/vnpay": `
var rdb *redis.Client
`,
	"payment/zalopay": `
var rdb *redis.Client
`,
	"payment/paymenttest": `
var (
	t              *testing.T
	myConfirmOrder vnpay.IPNFunc
)
`,
	"payment/webhook": `
var (
	ctx    context.Context
	rdb    *redis.Client
	mux    *http.ServeMux
	obs    payment.Observer
	set    payment.SecretSet
	url    string
	msgID  string
	body   []byte
	credit func(ctx context.Context, id string, body []byte) error
)
`,
	"pgrole": `
var (
	ctx         context.Context
	adminDSN    string
	newPassword fingerprint.Secret
)
`,
	"pgrole/pgbouncer": `
var (
	ctx      context.Context
	adminDSN string
	path     string
	verifier scram.Verifier
)
`,
	"pgrole/pgroletest": `
var (
	t   *testing.T
	ctx context.Context
)
`,
	"pgrole/scram": `
var password fingerprint.Secret
`,
	"redisauth": `
var (
	ctx         context.Context
	newPassword fingerprint.Secret
)
`,
}

// TestPackageDocGoBlocksCompile builds every Go code block of every package
// doc comment of the module, each in a program of its own with the
// declarations of its package's entry in docDeclarations, as
// TestREADMEGoBlocksCompile does for the README: a renamed function or a
// changed signature fails here, naming the doc's file and line, instead of
// misleading a reader of go doc.
func TestPackageDocGoBlocksCompile(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks, nested := docBlocks(t, root)
	for mod, n := range nested {
		if n > 0 {
			t.Errorf("%s: %d package doc code blocks in a nested module: this test builds the main module only", mod, n)
		}
	}
	var progs []string
	var other []string
	used := map[string]bool{}
	for _, b := range blocks {
		rel, _ := filepath.Rel(root, b.file)
		if !isGo(b.code) {
			other = append(other, rel)
			continue
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		decls, ok := docDeclarations[dir]
		used[dir] = ok
		b.code = elide(b.code)
		progs = append(progs, program(t, b, decls))
	}
	for dir := range docDeclarations {
		if !used[dir] {
			t.Errorf("docDeclarations[%q] serves no Go block of a package doc: remove it", dir)
		}
	}
	if len(progs) < 20 {
		t.Fatalf("only %d Go blocks found in package docs: the search is wrong", len(progs))
	}
	if out, err := build(t, root, progs); err != nil {
		t.Fatalf("package doc Go blocks do not compile (%v):\n%s", err, out)
	}
	t.Logf("%d package doc Go blocks compile; %d other blocks (shell, SQL, metric lists) skipped: %s", len(progs), len(other), strings.Join(other, ", "))
}

// TestElide: the elisions a doc block may write are dropped, and nothing
// else is (a variadic call, an array length or a string keeps its dots).
func TestElide(t *testing.T) {
	for in, want := range map[string]string{
		`c := vnpay.Config{..., Observer: obs}`:             `c := vnpay.Config{     Observer: obs}`,
		`r := Request{Amount: 1, TxnRef: "42", ...}`:        `r := Request{Amount: 1, TxnRef: "42",    }`,
		`r := Request{A: id, B: ..., C: ...}`:               `r := Request{A: id,               }`,
		`r := Request{B: ..., A: 1}`:                        `r := Request{        A: 1}`,
		`if err := f(); err != nil { … }`:                   `if err := f(); err != nil {     }`,
		`f(...)`:                                            `f(   )`,
		`f(xs...)`:                                          `f(xs...)`,
		`a := [...]int{1, 2}`:                               `a := [...]int{1, 2}`,
		`s := Order{Description: "...", Amount: 1}`:         `s := Order{Description: "...", Amount: 1}`,
		"x := T{\n\tA: 1,\n\t...,\n}":                       "x := T{\n\tA: 1,\n\t    \n}",
		"x := T{\n\tA: 1,\n\t...\n}":                        "x := T{\n\tA: 1,\n\t   \n}",
		`// … a comment keeps its dots`:                     `// … a comment keeps its dots`,
		`fmt.Println(ok, "…") // and so does a string: "…"`: `fmt.Println(ok, "…") // and so does a string: "…"`,
	} {
		if got := elide(in); got != want {
			t.Errorf("elide(%q) = %q, want %q", in, got, want)
		}
	}
}
