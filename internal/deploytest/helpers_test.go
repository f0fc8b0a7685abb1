package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoRoot is the repository root, for paths such as DashboardPath.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// promtool finds Debian's promtool. Its absence is a failure, not a skip:
// CI's .ci/run installs it (package prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		return "/usr/bin/promtool"
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	t.Fatal("promtool not found: run .ci/run, which installs the Debian package prometheus " +
		"(or: apt-get install prometheus)")
	return ""
}

// runPromtool runs promtool with args and returns its combined output.
func runPromtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	return string(out), err
}
