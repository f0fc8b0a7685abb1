package archtest

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sqlHome is the one package that holds the service's SQL: the others
// call its typed methods.
const sqlHome = "github.com/bsc-sim/bsc/internal/store"

// sqlImports are the packages that reach the database.
var sqlImports = []string{"database/sql", "github.com/mattn/go-sqlite3"}

// sqlText is a string that starts as an SQL statement does.
var sqlText = regexp.MustCompile(`^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|PRAGMA|CREATE|ALTER|DROP|WITH)\s`)

// TestSQLLivesInStore: outside internal/store, no package's code (tests
// aside, which may reach under the store) imports the database packages
// or holds a string that reads as SQL.
func TestSQLLivesInStore(t *testing.T) {
	pkgs := listPackages(t, "{{.ImportPath}}|{{.Dir}}|{{join .GoFiles \",\"}}|{{join .Imports \",\"}}")
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages: %v", len(pkgs), pkgs)
	}
	for _, line := range pkgs {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("go list printed %q, want path|dir|files|imports", line)
		}
		path, dir, files, imports := f[0], f[1], strings.Split(f[2], ","), strings.Split(f[3], ",")
		if path == sqlHome {
			continue
		}
		for _, imp := range sqlImports {
			if slices.Contains(imports, imp) {
				t.Errorf("%s imports %s: its SQL belongs in %s", path, imp, sqlHome)
			}
		}
		for _, name := range files {
			if name == "" {
				continue
			}
			for _, at := range sqlStrings(t, filepath.Join(dir, name)) {
				t.Errorf("%s: SQL outside %s", at, sqlHome)
			}
		}
	}
}

// listPackages is a line per package of the module, in format. Only
// go list's output is read: it also warns on stderr (of a symlinked
// node_modules, say), which is no package.
func listPackages(t *testing.T, format string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", format, "github.com/bsc-sim/bsc/...").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// sqlStrings are the positions of the string literals of a Go file that
// read as SQL.
func sqlStrings(t *testing.T, file string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		if s, err := strconv.Unquote(lit.Value); err == nil && sqlText.MatchString(s) {
			found = append(found, fset.Position(lit.Pos()).String())
		}
		return true
	})
	return found
}
