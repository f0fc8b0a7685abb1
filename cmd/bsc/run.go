package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/version"
)

// Exit codes: 0 done, 1 failed (bad config file in check, service error),
// 2 misused (unknown command, bad flag or value).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run dispatches a command line and returns the exit code. Errors are one
// line on stderr.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "bsc: missing command; try 'bsc help'")
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stdout, stderr, getenv)
	case "check":
		return check(rest, stdout, stderr)
	case "version":
		return printVersion(rest, stdout, stderr)
	case "load":
		return runLoad(rest, stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "bsc: unknown command %q; try 'bsc help'\n", cmd)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: bsc <command> [flags]

commands:
  serve                run the service
  check --config FILE  validate a config file; prints ok or the reason
  version              print version, commit and Go version
  load [flags]         drive phones against a running bsc; 'bsc load -h' for its flags
  help                 print this help

flags of serve (each also settable as BSC_<FLAG>, e.g. BSC_FAULT_INJECTION=true,
and as a key of the --config YAML file; flag beats env beats file beats default):
`)
	config.PrintFlags(w)
}

func printVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "bsc version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(stdout, "bsc %s commit %s %s\n", version.Version, version.Commit, version.GoVersion)
	return exitOK
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "", "YAML config file to validate")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "bsc check: %v\n", err)
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "bsc check: usage: bsc check --config FILE")
		return exitUsage
	}
	cfg, err := config.LoadFile(*path)
	if err != nil {
		fmt.Fprintf(stderr, "bsc check: %v\n", err)
		return exitError
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "bsc check: warning: %s\n", w)
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}
