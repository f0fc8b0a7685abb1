package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bsc-sim/bsc/internal/config"
)

// checkCommand is `bsc check --config FILE`: it validates a config file
// as `bsc serve` would read it, reporting every problem of the file.
func checkCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a config file of bsc serve",
		Long: `Validate a YAML config file of bsc serve: its keys are the flags of serve
('bsc help serve'). Prints ok, and warnings on stderr; or every unknown key
and bad value, one line each with its line in the file, and exits 1.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if path == "" {
				return errors.New("usage: bsc check --config FILE")
			}
			cfg, err := config.LoadFile(path)
			if err != nil {
				return failure{err}
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(c.ErrOrStderr(), "bsc check: warning: %s\n", w)
			}
			fmt.Fprintln(c.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML `file` to validate")
	completeConfigFile(cmd)
	return cmd
}
