package main

import (
	"fmt"
	"io"
	"math"

	"github.com/bsc-sim/bsc/internal/load"
	"github.com/bsc-sim/bsc/internal/teletraffic"
)

// dimensionFlags are the flags `bsc load --dimension` reads; any other on
// the command line is a run's, and a mistake here. (Variables are not:
// BSC_LOAD_TARGET in a shell or a compose file must not break it.)
var dimensionFlags = map[string]bool{"dimension": true, "gos": true, "erlangs": true, "busy-hour-calls": true,
	"holding-time": true, "phones": true}

// checkDimension checks the flags of --dimension; given are those on the
// command line.
func checkDimension(cfg load.Config, o loadOptions, given map[string]bool) error {
	for f := range given {
		if !dimensionFlags[f] {
			return fmt.Errorf("--%s is for a run: --dimension contacts no server, it takes --erlangs (or --busy-hour-calls, --phones and --holding-time) and --gos", f)
		}
	}
	switch {
	case !cfg.Traffic.On():
		return fmt.Errorf("--dimension needs the offered traffic: give --erlangs (or --busy-hour-calls)")
	case math.IsNaN(o.gos) || o.gos <= 0 || o.gos >= 1:
		return fmt.Errorf("--gos %v: --dimension needs a grade of service above 0 and below 1, e.g. 0.02 for 2 %% of calls blocked", o.gos)
	}
	return cfg.Traffic.Validate(cfg.Phones)
}

// printDimension is `bsc load --dimension`: the frequencies a cell needs
// to carry the offered traffic at the grade of service, by Erlang B.
func printDimension(w io.Writer, cfg load.Config, gos float64) {
	tr := cfg.Traffic
	a := tr.Offered(cfg.Phones)
	n := teletraffic.Channels(a, gos)
	fmt.Fprintf(w, "offered      %.4g E", a)
	if tr.Erlangs == 0 {
		fmt.Fprintf(w, " (%d phones x %g/h each x %v mean holding)", cfg.Phones, tr.BusyHourCalls, tr.HoldingTime)
	}
	fmt.Fprintf(w, "\ngos          %.4g%% of calls blocked at most (Erlang B: Poisson arrivals, blocked calls cleared)\n", 100*gos)
	pool := "1"
	if n > 1 {
		pool = fmt.Sprintf("1-%d", n)
	}
	fmt.Fprintf(w, "frequencies  %d (e.g. bsc serve --frequencies %s)\n", n, pool)
	fmt.Fprintf(w, "blocking     %.4g%% with %d; %d would block %.4g%%\n",
		100*teletraffic.ErlangB(a, n), n, n-1, 100*teletraffic.ErlangB(a, n-1))
	fmt.Fprintf(w, "capacity     up to %.4g E on %s at %.4g%%\n", teletraffic.Capacity(n, gos), frequencies(n), 100*gos)
}

func frequencies(n int) string {
	if n == 1 {
		return "1 frequency"
	}
	return fmt.Sprintf("%d frequencies", n)
}
