package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// domain are the packages of the book's concepts, and backoff, which the
// auto devices share with the load driver: they never speak HTTP, which
// is internal/httpapi's job alone (CONTRIBUTING.md).
var domain = []string{"sup", "frequency", "hlr", "phonefsm", "overload", "hw", "coffee", "calls", "store", "errcode", "teletraffic", "backoff"}

// A domain package imports no HTTP package itself, and depends on neither
// the HTTP layer nor its router, however indirectly. (Deeper down,
// client_golang's metrics bring net/http along: that is the library's
// business, not a route.)
var (
	forbiddenImports = []string{"net/http", "github.com/bsc-sim/bsc/internal/httpapi", "github.com/go-chi/chi/v5"}
	forbiddenDeps    = []string{"github.com/bsc-sim/bsc/internal/httpapi", "github.com/bsc-sim/bsc/internal/app", "github.com/go-chi/chi/v5"}
)

func TestDomainPackagesDoNotSpeakHTTP(t *testing.T) {
	for _, pkg := range domain {
		t.Run(pkg, func(t *testing.T) {
			path := "github.com/bsc-sim/bsc/internal/" + pkg
			imports := goList(t, "-f", "{{join .Imports \"\\n\"}}", path)
			deps := goList(t, "-deps", path)
			for _, f := range forbiddenImports {
				if slices.Contains(imports, f) {
					t.Errorf("internal/%s imports %s", pkg, f)
				}
			}
			for _, f := range forbiddenDeps {
				if slices.Contains(deps, f) {
					t.Errorf("internal/%s depends on %s", pkg, f)
				}
			}
		})
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}
