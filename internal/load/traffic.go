package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/bsc-sim/bsc/internal/teletraffic"
)

// Traffic is the teletraffic model of a run (docs/traffic.md): calls
// offered to the cell as a Poisson process of A Erlangs, each held for an
// exponential time, every callee idle and answering at once, so that the
// frequency is asked for at the call's arrival and the calls the server
// refuses no_frequency can be set against Erlang B for the cell. The zero
// value is off: the run is the book's load test.
type Traffic struct {
	Erlangs       float64       // offered traffic A; or
	BusyHourCalls float64       // call attempts per phone in an hour: A = phones × BusyHourCalls × HoldingTime / 1 h
	HoldingTime   time.Duration // mean holding time h: attempts arrive at A / h per second
	// Cell, if not nil, is the cell measured: every phone is attached in
	// it, and its pool is N. A target of several cells (a cluster, each
	// cell with a pool of its own) needs it; nil measures a target's only
	// cell.
	Cell *int
}

// On tells whether the run follows the traffic model.
func (t Traffic) On() bool { return t.Erlangs > 0 || t.BusyHourCalls > 0 }

// Offered is A, in Erlangs, for a population of phones.
func (t Traffic) Offered(phones int) float64 {
	if t.Erlangs > 0 {
		return t.Erlangs
	}
	return float64(phones) * t.BusyHourCalls * t.HoldingTime.Hours()
}

func (t Traffic) rate(phones int) float64 { return t.Offered(phones) / t.HoldingTime.Seconds() }

// minRate is the fewest attempts per second a run offers: one a day. Below
// it a run would make no attempt, and the schedule's times would overflow.
const minRate = 1.0 / (24 * 60 * 60)

// maxHoldingTime bounds the mean holding time: a day is far beyond any
// call, and holdingCap times it still fits a time.Duration.
const maxHoldingTime = 24 * time.Hour

// holdingCap bounds a drawn holding time, in means: an exponential time
// exceeds 20 means with probability e⁻²⁰ ≈ 2·10⁻⁹, so the cap changes
// nothing measurable, while the waits for the end of a call (the callee's
// deadline, the drain) get a bound.
const holdingCap = 20

// Validate checks the model alone; Config.Validate checks it with the rest.
func (t Traffic) Validate(phones int) error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	switch {
	case bad(t.Erlangs):
		return fmt.Errorf("erlangs %v: want a non-negative traffic in Erlangs", t.Erlangs)
	case bad(t.BusyHourCalls):
		return fmt.Errorf("busy-hour-calls %v: want a non-negative number of calls per phone per hour", t.BusyHourCalls)
	case t.Erlangs > 0 && t.BusyHourCalls > 0:
		return errors.New("erlangs and busy-hour-calls both set: give the offered traffic one way")
	case t.Cell != nil && *t.Cell < 0:
		return fmt.Errorf("cell %d: want a cell number, 0 or more", *t.Cell)
	case !t.On():
		return nil
	case t.HoldingTime <= 0 || t.HoldingTime > maxHoldingTime:
		return fmt.Errorf("holding time %v: want a mean above 0 and at most %v", t.HoldingTime, maxHoldingTime)
	case t.Offered(phones) > teletraffic.MaxErlangs:
		return fmt.Errorf("offered traffic %.4g E: want at most %g E", t.Offered(phones), teletraffic.MaxErlangs)
	}
	return nil
}

// applied is c as the driver runs it. In the traffic model: attempts
// arrive at A / h as the open model's Poisson process, callees accept at
// once (the frequency is asked for at the arrival, as Erlang B assumes)
// and callers hang up after an exponential holding time, drawn by
// talkTime and bounded by TalkMax.
func (c Config) applied() Config {
	if !c.Traffic.On() {
		return c
	}
	c.Rate = c.Traffic.rate(c.Phones)
	c.Accept = 1
	c.AnswerMin, c.AnswerMax = 0, 0
	c.TalkMin, c.TalkMax = 0, holdingCap*c.Traffic.HoldingTime
	return c
}

// talkTime draws how long a caller talks: the holding time in the traffic
// model, the book's uniform talk time otherwise. Under d.mu.
func (d *driver) talkTime() time.Duration {
	if h := d.cfg.Traffic.HoldingTime; d.cfg.Traffic.On() {
		return time.Duration(min(d.rng.ExpFloat64(), holdingCap) * float64(h))
	}
	return uniform(d.rng, d.cfg.TalkMin, d.cfg.TalkMax)
}

// cellView is the frequencies of the cell when the traffic started.
type cellView struct {
	pool, blocked int
	held          int // allocated to other owners (not blocked): channels the run cannot have
}

// channels is N for Erlang B: a blocked frequency is retired when released
// and never handed out again.
func (v cellView) channels() int { return v.pool - v.blocked }

// checkCell checks the traffic model's cell against the target's cells,
// before anything is attached. Each cell of a cluster has a pool of its
// own and allocates for the calls of its own phones (cluster.md), so the
// model measures one cell, the one every phone is attached in: a target
// of several cells needs --cell, and the cell must be one of them.
func (d *driver) checkCell(cells int) error {
	cell := d.cfg.Traffic.Cell
	switch {
	case !d.cfg.Traffic.On(): // the book's test: each phone in its home cell
	case cell == nil && cells > 1:
		return fmt.Errorf("traffic model: the target has %d cells (cluster mode), each with a pool of its own, and the "+
			"model measures one: pass --cell N (0 to %d) to attach every phone in cell N and measure its pool", cells, cells-1)
	case cell != nil && *cell >= cells:
		return fmt.Errorf("traffic model: --cell %d: the target's cells are 0 to %d", *cell, cells-1)
	}
	return nil
}

// attachBody is the body that attaches ph as a manual phone: in the
// traffic model's cell if one was given, else in the cell the server
// picks (a single node's only one, a cluster's home cell of the MSISDN).
func (d *driver) attachBody(ph *phone) map[string]any {
	body := map[string]any{"msisdn": ph.msisdn, "device": map[string]string{"mode": "manual"}}
	if c := d.cfg.Traffic.Cell; c != nil {
		body["cell"] = *c
	}
	return body
}

// readCell reads the frequencies of the cell measured: its own body
// (?cell=N) when --cell names it, else the only cell's (checkCell saw to
// it that there is one).
func (d *driver) readCell(ctx context.Context) (cellView, error) {
	path := "/api/v1/frequencies"
	if c := d.cfg.Traffic.Cell; c != nil {
		path += "?cell=" + strconv.Itoa(*c)
	}
	cells, err := cellsOf[frequencies](ctx, d, path)
	switch {
	case err != nil && ctx.Err() != nil:
		return cellView{}, nil // interrupted, or failed already: the report says so
	case err != nil:
		return cellView{}, err
	case len(cells) != 1:
		return cellView{}, fmt.Errorf("traffic model: GET %s answered %d cells, want one", path, len(cells))
	}
	got := cells[0].body
	v := cellView{pool: len(got.Pool), blocked: len(got.Blocked)}
	for _, al := range got.Allocated {
		if !slices.Contains(got.Blocked, al.Frequency) {
			v.held++
		}
	}
	if v.channels() < 1 {
		return v, fmt.Errorf("traffic model: the cell has no frequency to allocate (pool %d, blocked %d)", v.pool, v.blocked)
	}
	return v, nil
}
