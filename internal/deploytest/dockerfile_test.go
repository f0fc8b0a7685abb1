package deploytest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(readRepoFile(t, "Dockerfile")), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
	}
	return out
}

// stages splits the instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.Cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

func find(stage []instruction, cmd string) []string {
	var out []string
	for _, in := range stage {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

func TestDockerfileBuildStage(t *testing.T) {
	st := stages(parseDockerfile(t))
	if len(st) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, run)", len(st))
	}
	build := st[0]
	if from := build[0].Args; !strings.HasPrefix(from, "golang:1.26-bookworm ") {
		t.Errorf("build stage FROM %q, want golang:1.26-bookworm AS ...", from)
	}
	all := strings.Join(append(find(build, "ENV"), find(build, "RUN")...), "\n")
	if !strings.Contains(all, "CGO_ENABLED=1") {
		t.Error("build stage does not set CGO_ENABLED=1 (mattn/go-sqlite3 needs cgo)")
	}
	var goBuild string
	for _, r := range find(build, "RUN") {
		if strings.Contains(r, "go build") {
			goBuild = r
		}
	}
	if goBuild == "" {
		t.Fatal("build stage has no go build")
	}
	for _, want := range []string{"-trimpath", "-s -w", "./cmd/bsc"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build lacks %s: %s", want, goBuild)
		}
	}
	// -X must name variables that exist, or the linker silently ignores them.
	vars := versionVars(t)
	for _, v := range []string{"Version", "Commit"} {
		if !strings.Contains(goBuild, "-X github.com/bsc-sim/bsc/internal/version."+v+"=") {
			t.Errorf("go build does not set internal/version.%s with -X", v)
		}
		if !vars[v] {
			t.Errorf("internal/version has no package-level variable %s for -X", v)
		}
	}
}

// versionVars are the package-level variables of internal/version.
func versionVars(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "internal", "version", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						vars[n.Name] = true
					}
				}
			}
		}
	}
	return vars
}

func TestDockerfileRunStage(t *testing.T) {
	st := stages(parseDockerfile(t))
	if len(st) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2", len(st))
	}
	run := st[1]
	if from := run[0].Args; from != "debian:bookworm-slim" {
		t.Errorf("run stage FROM %q, want debian:bookworm-slim (the builder's glibc)", from)
	}
	if !strings.Contains(strings.Join(find(run, "RUN"), "\n"), "ca-certificates") {
		t.Error("run stage does not install ca-certificates")
	}
	if u := find(run, "USER"); len(u) != 1 || !strings.HasPrefix(u[0], "10001") {
		t.Errorf("USER %v, want 10001 (non-root)", u)
	}
	if v := find(run, "VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/data") {
		t.Errorf("VOLUME %v, want /data", v)
	}
	if e := find(run, "EXPOSE"); !slices.Contains(e, "8080") {
		t.Errorf("EXPOSE %v, want 8080", e)
	}
	entry, cmd := execForm(t, run, "ENTRYPOINT"), execForm(t, run, "CMD")
	if len(entry) != 1 || filepath.Base(entry[0]) != "bsc" {
		t.Errorf("ENTRYPOINT %q, want the bsc binary", entry)
	}
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("CMD %q, want serve ...", cmd)
	}
	cfg, err := config.Load(cmd[1:], func(string) string { return "" })
	if err != nil {
		t.Fatalf("CMD %q: %v", cmd, err)
	}
	if cfg.Listen != "0.0.0.0:8080" || cfg.DB != "/data/bsc.db" {
		t.Errorf("CMD serves on %q with database %q, want 0.0.0.0:8080 and /data/bsc.db", cfg.Listen, cfg.DB)
	}
}

// execForm reads the JSON array of the last cmd instruction of a stage.
func execForm(t *testing.T, stage []instruction, cmd string) []string {
	t.Helper()
	args := find(stage, cmd)
	if len(args) == 0 {
		t.Fatalf("no %s", cmd)
	}
	var out []string
	if err := json.Unmarshal([]byte(args[len(args)-1]), &out); err != nil {
		t.Fatalf("%s %s: want the exec (JSON) form: %v", cmd, args[len(args)-1], err)
	}
	return out
}

// .dockerignore keeps .git out of the context and the Go sources in.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(string(readRepoFile(t, ".dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Errorf(".dockerignore does not exclude .git: %v", patterns)
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd/bsc/main.go", "internal/version/version.go"} {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, keep); ok || p == "*" || strings.HasPrefix(keep, strings.TrimSuffix(p, "/")+"/") {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, keep)
			}
		}
	}
}
