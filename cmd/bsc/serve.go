package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/bsc-sim/bsc/internal/app"
	"github.com/bsc-sim/bsc/internal/config"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runApp is app.Run; tests replace it to check what serve hands over.
var runApp = app.Run

func serveCommand(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service",
		Long: `Run the service: the REST API, its metrics and the supervision tree.

Each flag is also settable as the variable BSC_<FLAG> (e.g.
BSC_FAULT_INJECTION=true) and as a key of the --config YAML file, where a
list such as frequencies may also be a YAML list ([10, 11, "20-25"]). A flag
beats the variable, which beats the file, which beats the default. SIGHUP
reads them again and applies the frequency pool and the log level.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return serve(c, getenv) },
	}
	cmd.Flags().SortFlags = false // in the order of the README's table
	cmd.Flags().AddFlagSet(config.Flags())
	if err := cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions(config.LogLevels, cobra.ShellCompDirectiveNoFileComp)); err != nil {
		panic(err) // config.Flags has no --log-level: a mistake in the code, not in a command line
	}
	completeConfigFile(cmd)
	return cmd
}

func serve(c *cobra.Command, getenv func(string) string) error {
	// The flags Cobra parsed, as config.Load reads them at start and again
	// on SIGHUP. Every value's String is what its Set accepts.
	var args []string
	c.Flags().Visit(func(f *pflag.Flag) { args = append(args, "--"+f.Name+"="+f.Value.String()) })
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(c.ErrOrStderr(), cfg.LogLevel)
	tuneGC(getenv)

	// The first SIGINT or SIGTERM starts the graceful stop, which app.Run
	// bounds with cfg.ShutdownTimeout. Restoring the default handling then
	// lets an impatient second signal kill the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	reload := func() (config.Config, error) { return config.Load(args, getenv) }
	if err := runApp(ctx, cfg, log, reload); err != nil {
		log.Error().Err(err).Msg("bsc stopped on an error")
		return exitCode(exitError)
	}
	return nil
}

// newLogger logs JSON, or readable lines when w is a terminal. The level
// is zerolog's global one, so that SIGHUP can change it at run time.
func newLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
	}
	zerolog.SetGlobalLevel(level)
	// Milliseconds: a failover is told in them.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	return zerolog.New(w).With().Timestamp().Logger()
}

// defaultGCPercent is the GC target of bsc serve unless GOGC is set. The
// heap of a busy BSC is mostly long-lived small objects (a few hundred
// bytes per attached phone), which the default of 100 re-marks twice as
// often as needed: at a million phones, 400 attaches ~40% faster for the
// same live memory (BENCHMARKS.md). GOMEMLIMIT still caps the total.
const defaultGCPercent = 400

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
