package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bsc-sim/bsc/internal/version"
)

// Exit codes: 0 done, 1 failed (bad config file in check, service error),
// 2 misused (unknown command, bad flag or value).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// exitCode ends bsc with this code, the command having said why itself
// (serve's last log line, load's report).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }

// failure is an error of a command that ran as asked: bsc exits 1, where
// any other error of a command is a misuse (2).
type failure struct{ error }

// run executes a command line and returns the exit code. An error is
// printed one line per problem on stderr, after the command's name.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(stdout, stderr, getenv)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), line)
	}
	if errors.As(err, new(failure)) {
		return exitError
	}
	return exitUsage
}

// newRoot is the command line of bsc. Cobra replaces the hand-written
// dispatch and usage text: help per command (`bsc help CMD`, `bsc CMD
// --help`), flags spelled --flag, --version and shell completion. Its
// errors are bsc's own, one line each (SilenceErrors), and a typo in a
// command or a flag gets a suggestion (help.go).
func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "bsc",
		Short: "The simulated base-station controller",
		Long: `bsc is the simulated base-station controller of "Designing for Scalability
with Erlang/OTP", served over a REST API (README.md).

Exit: 0 ok, 1 failed, 2 misused (bad command, flag or value); bsc load also
130 when interrupted.`,
		Version:       fmt.Sprintf("%s commit %s %s", version.Version, version.Commit, version.GoVersion),
		Args:          cobra.ArbitraryArgs,
		RunE:          needCommand,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout) // before the completion command, which keeps it
	root.SetErr(stderr)
	root.SetVersionTemplate("bsc {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(helpCommand())
	root.AddCommand(serveCommand(getenv), loadCommand(getenv), checkCommand(), versionCommand())
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			// Cobra's prints its help for a missing or unknown shell, and
			// exits 0; bsc says what is wrong, as for its own commands.
			c.Args, c.RunE = cobra.ArbitraryArgs, needCommand
		}
	}
	return root
}

// noArgs refuses arguments to a command that takes flags only.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	return nil
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version (also bsc --version)",
		Args:  noArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintf(c.OutOrStdout(), "bsc %s\n", c.Root().Version)
		},
	}
}
