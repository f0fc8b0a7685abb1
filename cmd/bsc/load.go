package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/load"
)

// exitInterrupted is `bsc load` stopped by SIGINT or SIGTERM, after its
// partial report: 128 + SIGINT, as shells report a Ctrl-C.
const exitInterrupted = 130

// loadOptions are the flags of `bsc load` that are not the run's Config.
type loadOptions struct {
	out       string  // --out
	dimension bool    // --dimension: print the frequencies a cell needs, run nothing
	gos       float64 // --gos: the grade of service --dimension sizes for
}

func loadCommand(getenv func(string) string) *cobra.Command {
	cfg, o := load.DefaultConfig(), loadOptions{}
	fs := loadFlags(&cfg, &o)
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Drive phones against a running bsc",
		Long: `Drive a population of phones against a running bsc over its HTTP API and
report latencies, call outcomes, errors and the server's books. With
--erlangs (or --busy-hour-calls) it offers a steady traffic instead and sets
the blocking it measures against Erlang B, in the one cell --cell names on a
target of several cells; --dimension only prints the frequencies a cell needs
for a traffic (docs/traffic.md).

--target takes one URL, or every node of a cluster (comma-separated): phone
i's requests go to node i mod n, the others to each node in turn, an event
stream is open on every node, and the books are the cluster's. A 503 (or
429) is sent again after a capped exponential back-off with jitter that
honours Retry-After, at most --retries times; the report counts the
retries.

Each flag is also settable as BSC_LOAD_<FLAG> (e.g. BSC_LOAD_TOKEN); a flag
beats the variable. Exit: 0 ok, 1 books or thresholds failed or target
unreachable, 2 misused, 130 interrupted.`,
		Example: `  bsc load --phones 1000 --rate 100 --duration 20s --max-p99 50ms --max-error-rate 0.01
  bsc load --target http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083 --rate 100 --duration 20s
  bsc load --erlangs 5 --holding-time 200ms --duration 60s --max-gos 0.02
  bsc load --target http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083 --erlangs 5 --cell 3 --duration 60s
  bsc load --dimension --erlangs 5 --gos 0.02`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := loadConfig(fs, &cfg, &o, getenv); err != nil {
				return err
			}
			if code := runLoad(cfg, o, c.OutOrStdout(), c.ErrOrStderr()); code != exitOK {
				return exitCode(code)
			}
			return nil
		},
	}
	cmd.Flags().SortFlags = false // in the order of the README's table
	cmd.Flags().AddFlagSet(fs)
	return cmd
}

// loadFlags binds the flags of `bsc load` to cfg and o.
func loadFlags(cfg *load.Config, o *loadOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Var(targetList{&cfg.Targets}, "target", "base `URLs` of the bsc to load, comma-separated: one, or every node of a cluster")
	fs.StringVar(&cfg.Token, "token", cfg.Token, "bearer token of the target (none: no Authorization header)")
	fs.IntVar(&cfg.Phones, "phones", cfg.Phones, "phones to attach and drive")
	fs.IntVar(&cfg.Calls, "calls", cfg.Calls, "call attempts to make (ignored with --duration)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "make call attempts for this long instead of --calls")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "call attempts per second, Poisson arrivals (open model); 0: as fast as the population allows (closed model)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "closed model: workers dialling as soon as a phone is idle")
	fs.DurationVar(&cfg.Ramp, "ramp", cfg.Ramp, "grow the rate (or the workers) linearly from 0 over this time")
	fs.Var(durationRange{&cfg.AnswerMin, &cfg.AnswerMax}, "answer-delay", "a callee answers after a uniform delay in MIN-MAX")
	fs.Float64Var(&cfg.Accept, "accept", cfg.Accept, "probability that a callee accepts a call")
	fs.Var(durationRange{&cfg.TalkMin, &cfg.TalkMax}, "talk-time", "a caller hangs up an answered call after a uniform time in MIN-MAX")
	fs.Float64Var(&cfg.Traffic.Erlangs, "erlangs", cfg.Traffic.Erlangs, "traffic model: offer this traffic in Erlangs, Poisson arrivals at erlangs / holding-time per second, every callee idle and answering")
	fs.Float64Var(&cfg.Traffic.BusyHourCalls, "busy-hour-calls", cfg.Traffic.BusyHourCalls, "traffic model: offer this many calls per phone per hour instead of --erlangs")
	fs.DurationVar(&cfg.Traffic.HoldingTime, "holding-time", cfg.Traffic.HoldingTime, "traffic model: mean of the exponential holding time of a call")
	fs.Var(optionalCell{&cfg.Traffic.Cell}, "cell", "traffic model: attach every phone in cell `N` and measure that cell's pool; needed against a target of several cells (a cluster)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice, for a reproducible run")
	fs.Uint64Var(&cfg.MSISDNBase, "msisdn-base", cfg.MSISDNBase, "MSISDN of the first phone; the population is the next --phones numbers")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound of every request")
	fs.IntVar(&cfg.Retries, "retries", cfg.Retries, "send a request refused for now (503, 429) again at most this often, after a capped exponential back-off with jitter that honours Retry-After")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "requests in flight at most")
	fs.DurationVar(&cfg.MaxP99, "max-p99", cfg.MaxP99, "fail if any operation's p99 latency, or the driver's lag p99, is above this (0: no threshold)")
	fs.Var(optionalRate{&cfg.MaxErrorRate}, "max-error-rate", "fail if errors/requests is above this, 0 to 1 (default: no threshold)")
	fs.Var(optionalRate{&cfg.MaxGoS}, "max-gos", "traffic model: fail if the blocking measured (no_frequency / attempts that reached the allocator) is above this, 0 to 1 (default: no threshold)")
	fs.StringVar(&o.out, "out", o.out, "also write the report as JSON to this `file`")
	fs.BoolVar(&o.dimension, "dimension", o.dimension, "print the frequencies a cell needs for --erlangs (or --busy-hour-calls) at --gos, by Erlang B; contacts no server")
	fs.Float64Var(&o.gos, "gos", o.gos, "--dimension: the grade of service, the blocking to stay under, e.g. 0.02")
	return fs
}

// loadConfig completes cfg and o, bound to the parsed flags fs, with the
// BSC_LOAD_<FLAG> variables of the flags not given, and checks them. The
// error is one line.
func loadConfig(fs *pflag.FlagSet, cfg *load.Config, o *loadOptions, getenv func(string) string) error {
	given, set := map[string]bool{}, map[string]bool{}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			given[f.Name], set[f.Name] = true, true
			return
		}
		name := config.EnvName("load-" + f.Name)
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("env %s: %w", name, err)
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return envErr
	}
	if o.dimension {
		return checkDimension(*cfg, *o, given)
	}
	if err := checkCombinations(*cfg, set, given); err != nil {
		return err
	}
	return cfg.Validate()
}

// trafficExcludes are the flags of the book's phone behaviour that the
// traffic model replaces (Config.Validate refuses --rate and --ramp).
var trafficExcludes = []struct{ flag, why string }{
	{"workers", "its arrivals are Poisson, not workers"},
	{"answer-delay", "every callee answers at once, so the frequency is asked for at the arrival"},
	{"accept", "every callee accepts"},
	{"talk-time", "calls last an exponential time of mean --holding-time"},
}

// checkCombinations refuses the flags that would be ignored: set are the
// flags given or set from the environment, given the former.
func checkCombinations(cfg load.Config, set, given map[string]bool) error {
	name := func(f string) string {
		if given[f] {
			return "--" + f
		}
		return config.EnvName("load-" + f)
	}
	if set["gos"] {
		return fmt.Errorf("%s is the target of --dimension; to fail a run on its blocking, give --max-gos", name("gos"))
	}
	if !cfg.Traffic.On() {
		if set["holding-time"] {
			return fmt.Errorf("%s needs the traffic model: give --erlangs or --busy-hour-calls", name("holding-time"))
		}
		return nil
	}
	for _, x := range trafficExcludes {
		if set[x.flag] {
			return fmt.Errorf("%s does not apply to the traffic model: %s", name(x.flag), x.why)
		}
	}
	return nil
}

// notifyContext is signal.NotifyContext; tests replace it to interrupt a
// run without signalling the test process.
var notifyContext = signal.NotifyContext

// runLoad is `bsc load` once its flags are checked. Exit: 0 the run
// completed, its books balance and its thresholds are met; 1 the books or
// thresholds failed, or the target was unreachable (after a partial
// report); 130 interrupted (after a partial report).
func runLoad(cfg load.Config, o loadOptions, stdout, stderr io.Writer) int {
	if o.dimension {
		printDimension(stdout, cfg, o.gos)
		return exitOK
	}
	// The first signal stops the run (partial report, phones detached);
	// restoring the default handling lets a second one kill at once.
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	rep, runErr := load.Run(ctx, cfg, load.NewProgress(stderr, isTerminal(stderr), cfg))
	if rep == nil {
		fmt.Fprintf(stderr, "bsc load: %v\n", runErr)
		return exitError
	}
	code := exitOK
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "bsc load: writing the report: %v\n", err)
		code = exitError
	}
	if o.out != "" {
		if err := writeReportFile(o.out, rep); err != nil {
			fmt.Fprintf(stderr, "bsc load: %v\n", err)
			code = exitError
		}
	}
	switch {
	case errors.Is(runErr, load.ErrInterrupted):
		fmt.Fprintln(stderr, "bsc load: interrupted: partial report")
		return exitInterrupted
	case runErr != nil:
		fmt.Fprintf(stderr, "bsc load: %v: partial report\n", runErr)
		return exitError
	}
	if err := rep.Verdict(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "bsc load: %s\n", line)
		}
		return exitError
	}
	return code
}

func writeReportFile(path string, rep *load.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// durationRange is a MIN-MAX flag of two durations, such as 1ms-1500ms; a
// single duration is a fixed value.
type durationRange struct{ lo, hi *time.Duration }

func (r durationRange) Type() string { return "range" }

func (r durationRange) String() string {
	if r.lo == nil {
		return ""
	}
	return r.lo.String() + "-" + r.hi.String()
}

func (r durationRange) Set(s string) error {
	loS, hiS, isRange := strings.Cut(s, "-")
	if !isRange {
		hiS = loS
	}
	lo, err1 := time.ParseDuration(loS)
	hi, err2 := time.ParseDuration(hiS)
	if err1 != nil || err2 != nil || lo < 0 || lo > hi {
		return fmt.Errorf("%q is not a range MIN-MAX of durations such as 1ms-1500ms", s)
	}
	*r.lo, *r.hi = lo, hi
	return nil
}

// targetList is a comma-separated list of URLs; Config.Validate checks
// each.
type targetList struct{ v *[]string }

func (l targetList) Type() string { return "urls" }

func (l targetList) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l targetList) Set(s string) error {
	var urls []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			return fmt.Errorf("%q has an empty URL: give URL1,URL2,... with no empty item", s)
		}
		urls = append(urls, u)
	}
	*l.v = urls
	return nil
}

// optionalRate is a ratio from 0 to 1, negative meaning none.
type optionalRate struct{ v *float64 }

func (r optionalRate) Type() string { return "ratio" }

func (r optionalRate) String() string {
	if r.v == nil || *r.v < 0 {
		return ""
	}
	return strconv.FormatFloat(*r.v, 'g', -1, 64)
}

func (r optionalRate) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return fmt.Errorf("%q is not a ratio from 0 to 1", s)
	}
	*r.v = f
	return nil
}

// optionalCell is a cell number, nil meaning none.
type optionalCell struct{ v **int }

func (c optionalCell) Type() string { return "int" }

func (c optionalCell) String() string {
	if c.v == nil || *c.v == nil {
		return ""
	}
	return strconv.Itoa(**c.v)
}

func (c optionalCell) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= config.MaxCells {
		return fmt.Errorf("%q is not a cell number from 0 to %d", s, config.MaxCells-1)
	}
	*c.v = &n
	return nil
}
