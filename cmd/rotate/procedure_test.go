package main

import (
	"os"
	"strings"
	"testing"
)

// procedureBlocks returns the ```sh blocks of the section of
// docs/rotation-procedures.md whose heading starts with heading, in order.
func procedureBlocks(t *testing.T, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/rotation-procedures.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, heading)
	if i < 0 {
		t.Fatalf("docs: no section %q", heading)
	}
	doc = doc[i+len(heading):]
	if j := strings.Index(doc, "\n## "); j >= 0 {
		doc = doc[:j]
	}
	var blocks [][]string
	for {
		i := strings.Index(doc, "```sh\n")
		if i < 0 {
			return blocks
		}
		doc = doc[i+6:]
		j := strings.Index(doc, "```")
		blocks = append(blocks, strings.Split(strings.TrimSpace(doc[:j]), "\n"))
		doc = doc[j+3:]
	}
}

// runProcedure runs a block as written: each "rotate …" line through the
// real CLI with vars as its environment (its trailing comment dropped),
// with the words in subst replaced (role and file names, durations); a
// comment line "# WORD…" calls at[WORD]. Every line must exit 0, and no
// output may hold a secret: those given, and every secret a line wrote to
// its -o / --out file, from then on.
func runProcedure(t *testing.T, vars map[string]string, lines []string, subst map[string]string, at map[string]func(), secrets ...string) {
	t.Helper()
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			word := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(line, "#"))[0], ":")
			f, ok := at[word]
			if !ok {
				t.Fatalf("procedure step %q has no test action", line)
			}
			f()
			continue
		}
		if i := strings.Index(line, "  #"); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		if words[0] != "rotate" {
			t.Fatalf("not a rotate command: %q", line)
		}
		var args []string
		out := ""
		for _, w := range words[1:] {
			if v, ok := subst[w]; ok {
				w = v
			}
			if n := len(args); n > 0 && (args[n-1] == "-o" || args[n-1] == "--out") {
				out = w
			}
			args = append(args, w)
		}
		r := runCLI(t, vars, "", args...)
		assertNoSecret(t, r, secrets...)
		if r.code != exitOK {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", line, r.code, r.stdout, r.stderr)
		}
		if out != "" {
			if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
				secrets = append(secrets, string(b))
			}
		}
		t.Logf("%s → ok", line)
	}
}
