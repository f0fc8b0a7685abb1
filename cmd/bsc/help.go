package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bsc-sim/bsc/internal/suggest"
)

// helpCommand is `bsc help [command]`: the help of that command, the same
// as `bsc command --help`. Cobra's own prints the root's help for an
// unknown command, and exits 0; this one says what is wrong and what was
// probably meant.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "help [command]",
		Short:             "Help about any command",
		Long:              "Print the help of a command: what it does, and its flags.",
		ValidArgsFunction: completeCommands,
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			// As when it runs, so that the same flags are listed.
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// needCommand is what a command that only groups others (bsc, bsc
// completion) does when run: refuse, naming the command it did not find.
func needCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("missing command; try '%s'", helpOf(c))
	}
	return unknownCommand(c, args[0])
}

// unknownCommand is the error of a name that is none of parent's
// commands, with those it was probably meant for.
func unknownCommand(parent *cobra.Command, name string) error {
	var names []string
	for _, c := range parent.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	hint := suggest.DidYouMean(name, names, strconv.Quote)
	if hint == "" {
		hint = fmt.Sprintf("; try '%s'", helpOf(parent))
	}
	return fmt.Errorf("unknown command %q%s", name, hint)
}

// helpOf is the command line that prints the help of c.
func helpOf(c *cobra.Command) string {
	root := c.Root()
	if c == root {
		return root.Name() + " help"
	}
	return root.Name() + " help " + strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
}

// flagError adds to an unknown flag the flags it was probably meant for;
// Cobra suggests commands only. A long flag given with one dash, as Go's
// flag package took them (-listen), is taken by pflag for the shorthands
// -l -i -s ..., and gets its --name back.
func flagError(c *cobra.Command, err error) error {
	var unknown *pflag.NotExistError
	if !errors.As(err, &unknown) {
		return err
	}
	if !c.HasParent() && c.Flags().NArg() > 0 {
		// bsc chekc --config x: the flag is unknown to bsc itself because
		// the command before it is.
		return unknownCommand(c, c.Flags().Arg(0))
	}
	typed := unknown.GetSpecifiedName()
	if s := unknown.GetSpecifiedShortnames(); s != "" {
		typed = s
	}
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	return fmt.Errorf("%w%s", err, suggest.DidYouMean(typed, names, func(n string) string { return "--" + n }))
}

// completeCommands completes the argument of `bsc help`: the commands
// under those already given.
func completeCommands(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	parent, rest, err := c.Root().Find(args)
	if err != nil || len(rest) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, sub := range parent.Commands() {
		if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeConfigFile has the shell complete --config with YAML files.
func completeConfigFile(c *cobra.Command) {
	if err := c.MarkFlagFilename("config", "yaml", "yml"); err != nil {
		panic(err) // c has no --config: a mistake in this file, not in a command line
	}
}
