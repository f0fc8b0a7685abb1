package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/bsc-sim/bsc/internal/app"
	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/version"
)

// The habits of a Go CLI: --version, help per command, --flag, did you
// mean, shell completion.

// runOK runs a command line that must succeed silently on stderr, and
// returns its stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != 0 || stderr.Len() > 0 {
		t.Fatalf("%q: exit %d, stderr %q", args, code, stderr.String())
	}
	return stdout.String()
}

func TestVersion(t *testing.T) {
	want := "bsc " + version.Version + " commit " + version.Commit + " " + version.GoVersion + "\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		if got := runOK(t, args...); got != want {
			t.Errorf("%q: %q, want %q", args, got, want)
		}
	}
}

// `bsc help CMD`, `bsc CMD --help` and `bsc CMD -h` print the same help,
// the command's own: its usage line and its flags, not another's.
func TestCommandHelp(t *testing.T) {
	tests := []struct {
		cmd    []string
		has    []string
		hasNot []string // the flags of other commands, above all
	}{
		{[]string{"serve"}, []string{"bsc serve [flags]", "BSC_<FLAG>", "--listen host:port", "--max-inflight int", "--log-level level"},
			[]string{"--answer-delay", "Available Commands"}},
		{[]string{"load"}, []string{"bsc load [flags]", "BSC_LOAD_<FLAG>", "--answer-delay range", "--dimension", "bsc load --dimension --erlangs 5 --gos 0.02"},
			[]string{"--max-inflight", "--listen"}},
		{[]string{"check"}, []string{"bsc check --config FILE", "--config file", "every unknown key"},
			[]string{"--listen", "--target"}},
		{[]string{"version"}, []string{"bsc version [flags]", "Print version"}, []string{"--listen"}},
		{[]string{"completion"}, []string{"bsc completion [command]", "bash", "zsh", "fish"}, []string{"--listen"}},
		{[]string{"completion", "bash"}, []string{"bsc completion bash", "source <(bsc completion bash)"}, []string{"--listen"}},
		{nil, []string{"Available Commands:", "serve", "load", "check", "version", "completion", "--version"}, []string{"--listen"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"bsc"}, tt.cmd...), " "), func(t *testing.T) {
			byHelp := runOK(t, append([]string{"help"}, tt.cmd...)...)
			for _, flag := range []string{"--help", "-h"} {
				if byFlag := runOK(t, append(tt.cmd, flag)...); byFlag != byHelp {
					t.Errorf("%s differs from help:\n%s\n---\n%s", flag, byFlag, byHelp)
				}
			}
			for _, s := range tt.has {
				if !strings.Contains(byHelp, s) {
					t.Errorf("help lacks %q:\n%s", s, byHelp)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(byHelp, s) {
					t.Errorf("help has %q:\n%s", s, byHelp)
				}
			}
		})
	}
}

// Every flag in help is spelled --flag (Go's flag package printed -flag),
// and every flag of serve is there.
func TestHelpSpellsFlagsWithTwoDashes(t *testing.T) {
	oneDash := regexp.MustCompile(`(?m)^\s+-[a-z][a-z-]+`)
	for _, cmd := range []string{"serve", "load", "check", "version"} {
		help := runOK(t, "help", cmd)
		if m := oneDash.FindString(help); m != "" {
			t.Errorf("help of %s spells %q with one dash:\n%s", cmd, m, help)
		}
	}
	help := runOK(t, "help", "serve")
	config.Flags().VisitAll(func(f *pflag.Flag) {
		if !regexp.MustCompile(`(?m)^\s+--` + f.Name + `\b`).MatchString(help) {
			t.Errorf("help of serve lacks --%s", f.Name)
		}
	})
}

// A typo of a command or a flag gets what was probably meant, in one line,
// exit 2.
func TestDidYouMean(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `bsc: unknown command "serv"; did you mean "serve"?`},
		{[]string{"chekc", "--config", "x"}, `bsc: unknown command "chekc"; did you mean "check"?`},
		{[]string{"help", "lod"}, `bsc help: unknown command "lod"; did you mean "load"?`},
		{[]string{"help", "serve", "now"}, `bsc help: unknown command "now"; try 'bsc help serve'`},
		{[]string{"completion", "bsh"}, `bsc completion: unknown command "bsh"; did you mean "bash" or "zsh"?`},
		{[]string{"completion"}, `bsc completion: missing command; try 'bsc help completion'`},
		{[]string{"serve", "--frequncies", "1"}, `bsc serve: unknown flag: --frequncies; did you mean --frequencies?`},
		{[]string{"serve", "--log-lvl", "warn"}, `bsc serve: unknown flag: --log-lvl; did you mean --log-level?`},
		{[]string{"serve", "-listen", ":1"}, `bsc serve: unknown shorthand flag: 'l' in -listen; did you mean --listen?`},
		{[]string{"load", "--phone", "3"}, `bsc load: unknown flag: --phone; did you mean --phones?`},
		{[]string{"load", "--erlang", "3"}, `bsc load: unknown flag: --erlang; did you mean --erlangs?`},
		{[]string{"check", "--conf", "x"}, `bsc check: unknown flag: --conf; did you mean --config?`},
		{[]string{"serve", "--hlep"}, `bsc serve: unknown flag: --hlep; did you mean --help?`},
		{[]string{"serve", "--colour", "blue"}, `bsc serve: unknown flag: --colour`},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		code := run(tt.args, &stdout, &stderr, func(string) string { return "" })
		if code != exitUsage || stderr.String() != tt.want+"\n" || stdout.Len() > 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want 2 and %q", tt.args, code, stderr.String(), stdout.String(), tt.want)
		}
	}
}

// bsc check reports every bad key and value of the file at once, each on
// its own line naming its line in the file, and exits 1.
func TestCheckListsEveryProblem(t *testing.T) {
	file := writeConfig(t, "listen: nowhere\nfrequency: 1-2\nlog-level: loud\nmax-phones: 3\nfrequencies: [10, 11, 9-x]\n")
	var stdout, stderr strings.Builder
	code := run([]string{"check", "--config", file}, &stdout, &stderr, func(string) string { return "" })
	if code != exitError || stdout.Len() > 0 {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
	}
	want := []string{
		`line 1: listen: "nowhere" is not a host:port address`,
		`line 2: unknown key "frequency"; did you mean "frequencies"?`,
		`line 3: log-level: unknown log level "loud"`,
		`line 5: frequencies item 3: invalid frequency pool: "9-x" is not a range`,
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr.String())
	}
	for i, w := range want {
		if prefix := "bsc check: config file " + file + ": "; !strings.HasPrefix(lines[i], prefix) || !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q, want %q after %q", i+1, lines[i], w, prefix)
		}
	}
}

// A list value may be a YAML list, in check as in serve.
func TestYAMLListInCheckAndServe(t *testing.T) {
	file := writeConfig(t, "frequencies: [10, 11, \"20-25\"]\n")
	if got := runOK(t, "check", "--config", file); got != "ok\n" {
		t.Errorf("check: %q", got)
	}
	var cfg config.Config
	runApp = func(_ context.Context, c config.Config, _ zerolog.Logger, _ app.Reloader) error {
		cfg = c
		return nil
	}
	runOK(t, "serve", "--config", file)
	if cfg.Frequencies != "10,11,20-25" {
		t.Errorf("serve runs with frequencies %q", cfg.Frequencies)
	}
}

// bsc completion writes the script of each shell; Cobra's __complete,
// which the scripts call, completes commands, flags and the log levels.
func TestCompletion(t *testing.T) {
	for _, shell := range []struct{ name, has string }{
		{"bash", "__start_bsc"}, {"zsh", "#compdef bsc"}, {"fish", "complete -c bsc"}, {"powershell", "Register-ArgumentCompleter"},
	} {
		if script := runOK(t, "completion", shell.name); !strings.Contains(script, shell.has) || !strings.Contains(script, "__complete") {
			t.Errorf("completion %s lacks %q:\n%.300s", shell.name, shell.has, script)
		}
	}
	tests := []struct {
		args []string
		want []string // completions, before the directive line
	}{
		{[]string{"se"}, []string{"serve\tRun the service"}},
		{[]string{"help", "lo"}, []string{"load\tDrive phones against a running bsc"}},
		{[]string{"serve", "--log-level", ""}, config.LogLevels},
		{[]string{"serve", "--max-ph"}, []string{"--max-phones\tattached phones at most (about 500 bytes each); more attaches get 503 overloaded"}},
		{[]string{"load", "--busy"}, []string{"--busy-hour-calls\ttraffic model: offer this many calls per phone per hour instead of --erlangs"}},
		{[]string{"load", "--cel"}, []string{"--cell\ttraffic model: attach every phone in cell `N` and measure that cell's pool; needed against a target of several cells (a cluster)"}},
	}
	for _, tt := range tests {
		// __complete tells on stderr the directive it ends with.
		var out, stderr strings.Builder
		if code := run(append([]string{"__complete"}, tt.args...), &out, &stderr, func(string) string { return "" }); code != 0 {
			t.Fatalf("complete %q: exit %d, %s", tt.args, code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if got := lines[:len(lines)-1]; strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("complete %q: %q, want %q", tt.args, got, tt.want)
		}
	}
}

// The bash script completes in a real bash, with the bash-completion
// package .ci/run installs, by running the built binary.
func TestBashCompletion(t *testing.T) {
	bin := buildBSC(t)
	script := filepath.Join(t.TempDir(), "bsc.bash")
	out, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, out, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ line, want string }{
		{"bsc se", "serve"},
		{"bsc serve --log-level ", strings.Join(config.LogLevels, " ")},
		{"bsc serve --max-in", "--max-inflight"},
		{"bsc help lo", "load"},
		{"bsc load --erl", "--erlangs"},
	}
	for _, tt := range tests {
		// compopt only works inside a completion the shell runs; here it
		// is a no-op.
		const complete = `source /usr/share/bash-completion/bash_completion
source "$1"
compopt() { :; }
read -ra COMP_WORDS <<< "$2"
[[ $2 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$2 COMP_POINT=${#2}
__start_bsc
echo "${COMPREPLY[*]}"`
		ctx, cancel := context.WithTimeout(context.Background(), binaryWait)
		cmd := exec.CommandContext(ctx, "bash", "--norc", "-c", complete, "bash", script, tt.line)
		cmd.Env = append(cmd.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("%q: %v (is bash-completion installed? .ci/run installs it)", tt.line, err)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("%q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
}
