package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
)

// runApp is app.Run; tests replace it to check what serve hands over.
var runApp = app.Run

func serve(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "bsc serve: %v\n", err)
		return exitUsage
	}
	log := newLogger(stderr, cfg.LogLevel)
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
		return exitError
	}
	return exitOK
}

// newLogger logs JSON, or readable lines when w is a terminal. The level
// is zerolog's global one, so that SIGHUP can change it at run time.
func newLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
	}
	zerolog.SetGlobalLevel(level)
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
