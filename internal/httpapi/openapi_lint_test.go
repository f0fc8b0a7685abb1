package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The OpenAPI file passes the linters people bring to it: Redocly's
// recommended-strict (redocly.yaml) and Spectral's spectral:oas
// (.spectral.yaml), with no error and no warning. The linters are the
// versions pinned in tools/openapi-lint, installed by .ci/run.

const (
	repoDir  = "../.."
	lintDir  = "tools/openapi-lint" // under repoDir
	lintHelp = "run .ci/run, or: npm ci --prefix " + lintDir + " --ignore-scripts"
)

// lintProblem is one finding of either linter.
type lintProblem struct {
	Rule     string
	Severity string
	Where    string
	Message  string
}

func (p lintProblem) String() string {
	return fmt.Sprintf("%s %s at %s: %s", p.Severity, p.Rule, p.Where, p.Message)
}

// lintTool is the path of an installed linter of tools/openapi-lint, at the
// version its package.json pins. Missing or stale is a failure, not a skip.
func lintTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	root, err := filepath.Abs(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	readJSON(t, filepath.Join(root, lintDir, "package.json"), &manifest)
	want := manifest.DevDependencies[pkg]
	if want == "" {
		t.Fatalf("%s/package.json does not pin %s", lintDir, pkg)
	}
	path := filepath.Join(root, lintDir, "node_modules", ".bin", bin)
	installed := filepath.Join(root, lintDir, "node_modules", filepath.FromSlash(pkg), "package.json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s %s is not installed (%v): %s", pkg, want, err, lintHelp)
	}
	var got struct{ Version string }
	readJSON(t, installed, &got)
	if got.Version != want {
		t.Fatalf("%s %s is installed, %s pins %s: %s", pkg, got.Version, lintDir, want, lintHelp)
	}
	return path
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: %s", err, lintHelp)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// runLinter runs a linter in the repository root (where its configuration
// is) and returns its standard output and error; its exit status is left to
// the caller, which reads the findings.
func runLinter(t *testing.T, path string, args ...string) (stdout, stderr []byte) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = repoDir
	// No telemetry, no update check: a test reaches no network.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("%s: %v", path, err)
	}
	return out.Bytes(), errOut.Bytes()
}

// redocly lints spec with redocly.yaml and returns every problem.
func redocly(t *testing.T, spec string) []lintProblem {
	t.Helper()
	out, stderr := runLinter(t, lintTool(t, "redocly", "@redocly/cli"),
		"lint", spec, "--config", "redocly.yaml", "--format", "json")
	var res struct {
		Totals struct {
			Errors   *int `json:"errors"`
			Warnings *int `json:"warnings"`
		} `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Totals.Errors == nil || res.Totals.Warnings == nil {
		t.Fatalf("redocly lint %s: not its JSON report (%v):\n%s\n%s", spec, err, out, stderr)
	}
	var ps []lintProblem
	for _, p := range res.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		ps = append(ps, lintProblem{p.RuleID, p.Severity, where, p.Message})
	}
	if n := *res.Totals.Errors + *res.Totals.Warnings; n != len(ps) {
		t.Fatalf("redocly lint %s: totals say %d problems, the list has %d", spec, n, len(ps))
	}
	return ps
}

// spectral lints spec with .spectral.yaml and returns every result, hints
// and infos included.
func spectral(t *testing.T, spec string) []lintProblem {
	t.Helper()
	report := filepath.Join(t.TempDir(), "spectral.json")
	_, stderr := runLinter(t, lintTool(t, "spectral", "@stoplight/spectral-cli"),
		"lint", spec, "--ruleset", ".spectral.yaml", "--format", "json", "--output", report, "--fail-severity", "hint")
	var res []struct {
		Code     string   `json:"code"`
		Severity int      `json:"severity"`
		Message  string   `json:"message"`
		Path     []string `json:"path"`
	}
	b, err := os.ReadFile(report)
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err != nil {
		t.Fatalf("spectral lint %s: no JSON report: %v\n%s", spec, err, stderr)
	}
	severities := []string{"error", "warn", "info", "hint"}
	var ps []lintProblem
	for _, r := range res {
		sev := fmt.Sprint(r.Severity)
		if r.Severity >= 0 && r.Severity < len(severities) {
			sev = severities[r.Severity]
		}
		ps = append(ps, lintProblem{r.Code, sev, strings.Join(r.Path, "."), r.Message})
	}
	return ps
}

// wantRule fails unless ps holds rule at severity.
func wantRule(t *testing.T, linter string, ps []lintProblem, rule, severity string) {
	t.Helper()
	for _, p := range ps {
		if p.Rule == rule && p.Severity == severity {
			return
		}
	}
	t.Errorf("%s: no %s %s on a spec that breaks it; got %v", linter, severity, rule, ps)
}

func TestOpenAPILint(t *testing.T) {
	// The check bites: a bare spec breaks the rules of both rulesets, and
	// Redocly's 4xx rule, a warning in "recommended", is an error: the
	// configuration in force is recommended-strict.
	bare := filepath.Join(t.TempDir(), "bare.yaml")
	if err := os.WriteFile(bare, []byte(`openapi: 3.0.3
info: {title: bare, version: "1"}
paths:
  /x:
    get:
      responses:
        "200": {description: ok}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rp, sp := redocly(t, bare), spectral(t, bare)
	wantRule(t, "redocly", rp, "operation-4xx-response", "error")
	wantRule(t, "redocly", rp, "info-license", "error")
	wantRule(t, "spectral", sp, "operation-description", "warn")
	wantRule(t, "spectral", sp, "info-contact", "warn")

	spec := filepath.FromSlash("api/openapi.yaml")
	for linter, ps := range map[string][]lintProblem{"redocly (recommended-strict)": redocly(t, spec), "spectral (spectral:oas)": spectral(t, spec)} {
		for _, p := range ps {
			t.Errorf("%s: %s", linter, p)
		}
	}
}
