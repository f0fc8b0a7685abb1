package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrInterrupted is a run stopped early by its context (Ctrl-C).
var ErrInterrupted = errors.New("interrupted")

// driver is one run.
type driver struct {
	cfg  Config
	c    *client
	st   *stats
	wire *wire  // bytes sent and received
	g    *group // every goroutine of the run but Run's own
	// streams are the event streams, one for each group of streamChunk
	// phones (streams[group]), spread over the targets: any node of a
	// cluster streams the replies of every phone.
	streams []*stream
	// streamHTTP carries the event streams, apart from the requests so
	// that their long-lived connections take none of the pool's.
	streamHTTP *http.Client
	start      time.Time
	cell       cellView // traffic model: the cell's frequencies when the traffic started

	mu       sync.Mutex
	rng      *rand.Rand
	pop      *population
	busy     int  // actions on their way
	stopping bool // plan nothing new

	// work is the queue of the action workers (startWorkers), which stop
	// when workersDone is closed.
	work        chan func()
	workersDone <-chan struct{}

	// dead is cancelled when the target is unreachable: nothing more can
	// be asked of it. actx, under it, carries the actions' requests; cancelling it
	// abandons those still on their way.
	dead    context.Context
	kill    context.CancelFunc
	actx    context.Context
	abandon context.CancelFunc

	fatalMu   sync.Mutex
	fatal     error
	onFatal   func() // stops issuing; set by run
	phaseName phaseValue
	// When attempts were being made, and that plus the drain; written
	// under mu.
	issuing, trafficWindow window
}

func newDriver(cfg Config) *driver {
	cfg = cfg.applied()
	d := &driver{cfg: cfg, st: newStats(), wire: &wire{}, g: newGroup(), pop: newPopulation(cfg),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0xb5c))}
	d.dead, d.kill = context.WithCancel(context.Background())
	d.actx, d.abandon = context.WithCancel(d.dead)
	d.c = newClient(cfg, d.st, d.wire, d.fail)
	d.newStreams()
	return d
}

// fail records the first fatal error and stops issuing. An unreachable
// target also ends every request to it; after other errors (a refused
// setup) the phones attached so far are still detached.
func (d *driver) fail(err error) {
	d.fatalMu.Lock()
	first := d.fatal == nil
	if first {
		d.fatal = err
	}
	onFatal := d.onFatal
	d.fatalMu.Unlock()
	if !first {
		return
	}
	if errors.Is(err, ErrUnreachable) {
		d.kill()
	}
	if onFatal != nil {
		onFatal()
	}
}

func (d *driver) fatalErr() error {
	d.fatalMu.Lock()
	defer d.fatalMu.Unlock()
	return d.fatal
}

// Run performs a run against cfg.Targets and returns its report, which is
// partial when ctx was cancelled (the error is then ErrInterrupted) or a
// fatal error stopped the run (that error, such as ErrUnreachable). prog,
// if not nil, is shown the progress every tick.
func Run(ctx context.Context, cfg Config, prog Progress) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := newDriver(cfg)
	rep := d.run(ctx, prog)
	err := d.fatalErr()
	if err == nil && ctx.Err() != nil {
		err = ErrInterrupted
	}
	return rep, err
}

func (d *driver) run(ctx context.Context, prog Progress) *Report {
	d.start = time.Now()
	// traffic is what issues new work: the caller's ctx (interrupt) and a
	// fatal error end it.
	traffic, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	d.fatalMu.Lock()
	d.onFatal = stopTraffic
	d.fatalMu.Unlock()
	streamsCtx, stopStreams := context.WithCancel(d.dead)
	defer stopStreams()
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	d.g.Go(func() { d.watchdog(bg) })
	d.startWorkers(bg)
	if prog != nil {
		d.g.Go(func() { d.showProgress(bg, prog) })
	}

	var books *BooksResult
	err := d.checkTargets(traffic)
	if err == nil {
		err = d.provision(traffic)
	}
	if err == nil {
		err = d.startStreams(streamsCtx, traffic)
	}
	if err == nil {
		d.phaseName.set("attach")
		err = d.attachAll(traffic)
	}
	if err == nil && d.cfg.Traffic.On() {
		d.cell, err = d.readCell(traffic)
	}
	if err == nil {
		d.phaseName.set(phaseTraffic)
		d.mark(&d.issuing.from, &d.trafficWindow.from)
		d.traffic(traffic)
		d.mark(&d.issuing.to)
		d.phaseName.set("drain")
		d.drain(traffic)
		d.mark(&d.trafficWindow.to)
	}
	d.stopActions()
	if err != nil {
		d.fail(err)
	}
	unreachable := errors.Is(d.fatalErr(), ErrUnreachable)
	if !unreachable && d.attachedAny() {
		d.phaseName.set("detach")
		d.detachAll(d.dead)
		d.phaseName.set("books")
		books = d.checkBooks(d.dead)
	}
	stopStreams()
	stopBackground()
	d.abandon()
	d.g.close()
	select {
	case <-d.g.Done():
	case <-time.After(d.cfg.Timeout + time.Second):
		// Every request is bounded by the timeout and every wait by a
		// context cancelled above, so this is a bug; say so and go on.
		d.fail(errors.New("load: goroutines still running after stop"))
	}
	// Connections dialled for requests abandoned meanwhile never carried
	// one: a server shutting down waits seconds for such connections, so
	// close them rather than leave them to the process's exit.
	d.c.closeIdle()
	d.streamHTTP.CloseIdleConnections()
	if prog != nil {
		prog.Done()
	}
	return d.report(ctx, books)
}

// mark sets the times to now.
func (d *driver) mark(ts ...*time.Time) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range ts {
		*t = now
	}
}

// streamSilence is how long an event stream may be silent before the
// watchdog reconnects it: the server sends a heartbeat every 15 s.
const streamSilence = 45 * time.Second

// watchdog ends the run when requests wait without the server answering
// any of them (a hung server must not hang the driver), and reconnects an
// event stream gone silent for longer than the server's heartbeat allows.
func (d *driver) watchdog(ctx context.Context) {
	limit := 2*d.cfg.Timeout + time.Second
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if t := d.c.unresponsive(now, limit); t != nil {
				d.fail(fmt.Errorf("%w: %s: no answer to any request for %v", ErrUnreachable, t.base, limit))
				return
			}
			for _, s := range d.streams {
				s.kick(now, streamSilence)
			}
		}
	}
}

// provision creates the population's subscribers with bulk requests of at
// most api.md's 100 000 items.
func (d *driver) provision(ctx context.Context) error {
	d.phaseName.set("provision")
	const (
		bulkMax      = 100_000
		bulkItemTime = 100 * time.Microsecond
	)
	type item struct {
		MSISDN string `json:"msisdn"`
	}
	for lo := 0; lo < len(d.pop.phones); lo += bulkMax {
		hi := min(lo+bulkMax, len(d.pop.phones))
		items := make([]item, 0, hi-lo)
		for _, ph := range d.pop.phones[lo:hi] {
			items = append(items, item{ph.msisdn})
		}
		var got struct {
			Created  int `json:"created"`
			Existing int `json:"existing"`
		}
		// A bulk insert is many rows in one transaction: it gets longer
		// than an action, in proportion.
		timeout := d.cfg.Timeout + time.Duration(len(items))*bulkItemTime
		a := d.c.doWithin(ctx, d.c.spread(), timeout, http.MethodPost, "/api/v1/subscribers:bulk", map[string]any{"items": items}, &got)
		if !a.ok() {
			return d.setupError("provision subscribers", a)
		}
	}
	return nil
}

// setupError explains a failed setup request; an unreachable target is
// ErrUnreachable.
func (d *driver) setupError(what string, a answer) error {
	if a.code == codeUnreachable || a.code == codeTimeout {
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, what, a.code)
	}
	if a.status == 0 {
		return fmt.Errorf("%s: %s", what, a.code)
	}
	return fmt.Errorf("%s: %d %s", what, a.status, a.code)
}

// newStreams makes the event streams of the population, one per
// streamChunk phones and target; startStreams connects them.
func (d *driver) newStreams() {
	d.streamHTTP = &http.Client{Transport: &http.Transport{
		Proxy: nil, // loopback benchmarks must not detour through a proxy
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.wire.dialContext(ctx, d.cfg.Timeout, network, addr)
		},
	}}
	for group, lo := 0, 0; lo < len(d.pop.phones); group, lo = group+1, lo+streamChunk {
		var ms []string
		for _, ph := range d.pop.phones[lo:min(lo+streamChunk, len(d.pop.phones))] {
			ms = append(ms, ph.msisdn)
		}
		d.streams = append(d.streams, newStream(d.c, group%len(d.c.targets), d.streamHTTP, ms, d.onReply))
	}
}

// target is the target of ph's requests: phone i's go to target i mod n,
// always, so that they reach the server in the order they are sent.
func (d *driver) target(ph *phone) *target { return d.c.targets[ph.index%len(d.c.targets)] }

// startStreams connects the event streams, and returns once every one is
// connected: the server has the subscriptions before any call is made.
func (d *driver) startStreams(ctx, traffic context.Context) error {
	d.phaseName.set("subscribe")
	ready := make(chan struct{}, len(d.streams))
	for _, s := range d.streams {
		var once sync.Once
		d.g.Go(func() {
			if err := s.run(ctx, func() { once.Do(func() { ready <- struct{}{} }) }); err != nil {
				d.fail(err)
			}
		})
	}
	timeout := time.NewTimer(d.cfg.Timeout + retryCap)
	defer timeout.Stop()
	for range d.streams {
		select {
		case <-ready:
		case <-traffic.Done():
			return d.fatalErr() // nil on an interrupt: the report says so
		case <-timeout.C:
			return fmt.Errorf("%w: event stream not connected within %v", ErrUnreachable, d.cfg.Timeout+retryCap)
		}
	}
	return nil
}
