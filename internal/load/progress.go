package load

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows a run as it goes: the driver calls Update every tick and
// Done once at the end.
type Progress interface {
	Update(Snapshot)
	Done()
}

// Snapshot is the run at one tick.
type Snapshot struct {
	Phase          string
	Elapsed        time.Duration // since the run started
	TrafficElapsed time.Duration // since the traffic started; 0 before
	Attempts       int64
	Goal           int64         // attempts to make; 0 when running for a duration
	Duration       time.Duration // the traffic's duration, if set
	Requests       int64
	Errors         int64
	ActiveCalls    int
	Rate           float64 // call attempts per second over the last tick
}

// progressTick is how often the driver updates the display.
const progressTick = 250 * time.Millisecond

func (d *driver) showProgress(ctx context.Context, prog Progress) {
	tick := time.NewTicker(progressTick)
	defer tick.Stop()
	var last progress
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p := d.st.progress()
			d.mu.Lock()
			active := d.pop.calls
			from := d.issuing.from
			d.mu.Unlock()
			s := Snapshot{Phase: d.phaseName.get(), Elapsed: now.Sub(d.start), Attempts: p.attempts,
				Duration: d.cfg.Duration, Requests: p.requests, Errors: p.errors, ActiveCalls: active,
				Rate: float64(p.attempts-last.attempts) / now.Sub(lastAt).Seconds()}
			if !from.IsZero() {
				s.TrafficElapsed = now.Sub(from)
			}
			if d.cfg.Duration == 0 {
				s.Goal = int64(d.cfg.Calls)
			}
			prog.Update(s)
			last, lastAt = p, now
		}
	}
}

// NewProgress shows progress on w: a progress bar when w is a terminal,
// else a plain line every second (for logs and CI).
func NewProgress(w io.Writer, terminal bool, cfg Config) Progress {
	if !terminal {
		return &lineProgress{w: w, every: time.Second}
	}
	// The bar counts attempts, or tenths of a second of a timed run: with
	// a known length it runs no goroutine of its own.
	max := int64(cfg.Calls)
	if cfg.Duration > 0 {
		max = int64(cfg.Duration / (100 * time.Millisecond))
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false),
	)
	return &barProgress{bar: bar, w: w, timed: cfg.Duration > 0}
}

type barProgress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	timed bool
}

// Update moves the bar, then describes it, which renders it with the new
// figures (the driver's tick is the throttle).
func (p *barProgress) Update(s Snapshot) {
	if p.timed {
		_ = p.bar.Set64(min(int64(s.TrafficElapsed/(100*time.Millisecond)), p.bar.GetMax64()))
	} else {
		_ = p.bar.Set64(min(s.Attempts, p.bar.GetMax64()))
	}
	p.bar.Describe(s.describe())
}

func (p *barProgress) Done() {
	_ = p.bar.Exit()
	fmt.Fprintln(p.w) // the report starts on a line of its own
}

// lineProgress writes a line at most every `every`.
type lineProgress struct {
	w     io.Writer
	every time.Duration
	last  time.Time
}

func (p *lineProgress) Update(s Snapshot) {
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "load: %6.1fs %s\n", s.Elapsed.Seconds(), s.describe())
	}
}

func (p *lineProgress) Done() {}

func (s Snapshot) describe() string {
	eta := "-"
	if d, ok := s.ETA(); ok {
		eta = d.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("%-9s elapsed %v, ETA %s, attempts %d (%.0f/s), active calls %d, requests %d, errors %d",
		s.Phase, s.Elapsed.Round(100*time.Millisecond), eta, s.Attempts, s.Rate, s.ActiveCalls, s.Requests, s.Errors)
}

// ETA is the time left until the traffic's attempts are all made: what is
// left of a timed run, or the attempts left at the mean rate so far. It
// cannot be told (false) outside the traffic phase, nor before a counted
// run's first attempt; the drain, detach and books that follow take
// seconds more.
func (s Snapshot) ETA() (time.Duration, bool) {
	switch {
	case s.Phase != phaseTraffic:
		return 0, false
	case s.Duration > 0:
		return max(s.Duration-s.TrafficElapsed, 0), true
	case s.Goal <= 0 || s.Attempts <= 0 || s.TrafficElapsed <= 0:
		return 0, false
	}
	left := max(s.Goal-s.Attempts, 0)
	return time.Duration(float64(s.TrafficElapsed) * float64(left) / float64(s.Attempts)), true
}
