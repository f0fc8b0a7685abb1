package phonefsm

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Frequencies is the allocator as the controllers use it: the caller of a
// call owns the frequency, under the owner name "msisdn:N".
type Frequencies interface {
	Allocate(owner string) (int, error)
	Release(owner string, f int)
}

// Recorder keeps the call records (the batching writer, calls.Writer).
type Recorder interface {
	// Reserve promises room for the record of a call about to leave idle;
	// an error sheds the call. Every reservation is taken by one Record.
	Reserve() error
	// Record takes a finished call's record without blocking and returns
	// the ticket Wait takes.
	Record(calls.Record) calls.Ticket
	// Wait returns once the record of the ticket is committed, or fails
	// (within a bound of its own) when it is not.
	Wait(ctx context.Context, t calls.Ticket) error
}

// Config is what the phones of one phones-supervisor incarnation share.
type Config struct {
	Freq    Frequencies
	Records Recorder
	Metrics *Metrics // shared by every incarnation; nil: none
	Log     zerolog.Logger
	// OnDetach is told when a phone detached (its controller stopped
	// normally): the service removes its device and notes the time.
	OnDetach func(hlr.MSISDN)
}

// maxBackground bounds the goroutines that finish long cascades; past it
// the executor that found the work finishes it itself.
const maxBackground = 64

// Phones is the set of attached phones of one incarnation of the phones
// supervisor, with the attachment registry it owns (the book's ETS
// tables): a phone crash keeps its attachment, a restart of the
// supervisor starts from an empty set.
type Phones struct {
	sup     *sup.Supervisor
	reg     hlr.Registry[*Controller]
	freq    Frequencies
	records Recorder
	metrics *Metrics
	log     zerolog.Logger
	onDet   func(hlr.MSISDN)
	bg      chan struct{} // semaphore of background executors
	bgWG    sync.WaitGroup
}

// New makes the phone set of the running phones supervisor s.
func New(s *sup.Supervisor, cfg Config) *Phones {
	if cfg.OnDetach == nil {
		cfg.OnDetach = func(hlr.MSISDN) {}
	}
	return &Phones{sup: s, freq: cfg.Freq, records: cfg.Records, metrics: cfg.Metrics, log: cfg.Log,
		onDet: cfg.OnDetach, bg: make(chan struct{}, maxBackground)}
}

// Attach starts a controller for m, talking to dev. The supervisor restarts
// it (same MSISDN, same device, fresh idle state) if it crashes.
func (p *Phones) Attach(ctx context.Context, m hlr.MSISDN, dev hw.Device) (Status, error) {
	// current is the incarnation a restart replaces; first is read back
	// here, where only the first start (on this goroutine) wrote it.
	var first, current *Controller
	start := func(_ context.Context, exit sup.ExitFunc) (sup.Proc, error) {
		c := newController(p, m, dev, exit)
		if current == nil {
			if err := p.reg.Attach(m, c); err != nil {
				return nil, err
			}
			p.metrics.attached()
			first = c
		} else {
			p.reg.Replace(m, c)
		}
		current = c
		return c, nil
	}
	if _, err := p.sup.StartChild(ctx, start); err != nil {
		p.metrics.attachFailed(err)
		return Status{}, err
	}
	return first.Status(), nil
}

// Lookup finds the controller of an attached phone.
func (p *Phones) Lookup(m hlr.MSISDN) (*Controller, error) {
	c, ok := p.reg.Lookup(m)
	if !ok {
		return nil, ErrNotAttached
	}
	return c, nil
}

// Get is an attached phone's status.
func (p *Phones) Get(m hlr.MSISDN) (Status, error) {
	c, err := p.Lookup(m)
	if err != nil {
		return Status{}, err
	}
	return c.Status(), nil
}

// Commit is what a handled action still waits for before it may be
// acknowledged: the records of the calls it ended, committed. The wait is
// I/O, not work, which is why it is apart: a caller bounding the work in
// progress (the HTTP layer's gate) need not count it.
type Commit struct {
	a       *ack
	records Recorder
}

// Wait returns once the records of the calls the action ended are
// committed, or why they are not (the action happened all the same).
func (c Commit) Wait(ctx context.Context) error {
	if c.a == nil {
		return nil
	}
	return c.a.wait(ctx, c.records)
}

// Act performs a user action on phone m and returns the phone once its own
// controller handled it, and the Commit to wait for before acknowledging
// it: an action that can end a call (accept, reject, hangup) is durable
// only once the record of the call it ended is committed.
func (p *Phones) Act(ctx context.Context, m hlr.MSISDN, a Action, to hlr.MSISDN) (Status, Commit, error) {
	c, err := p.Lookup(m)
	if err != nil {
		return Status{}, Commit{}, err
	}
	msg := message{kind: msgAction, action: a, to: to}
	if a != ActCall {
		msg.ack = newAck()
	}
	if err := c.act(ctx, msg); err != nil {
		return c.Status(), Commit{}, err
	}
	// The status is the one the action left, not what later events did.
	return c.Status(), Commit{msg.ack, p.records}, nil
}

// Detach stops phone m's controller normally (ending its call for the
// peer), waits until it is gone, and returns the Commit of the call's
// record.
func (p *Phones) Detach(ctx context.Context, m hlr.MSISDN) (Commit, error) {
	c, err := p.Lookup(m)
	if err != nil {
		return Commit{}, err
	}
	a := newAck()
	if err := c.stopAndWait(ctx, a); err != nil {
		return Commit{}, err
	}
	return Commit{a, p.records}, nil
}

// Crash makes phone m's controller panic (fault injection).
func (p *Phones) Crash(m hlr.MSISDN) error {
	c, err := p.Lookup(m)
	if err != nil {
		return err
	}
	c.Crash()
	return nil
}

// Count is the number of attached phones.
func (p *Phones) Count() int { return p.reg.Len() }

// listScanBudget bounds the attachments one List looks at. Each scan of
// the registry walks every entry (it keeps no order), so a filter that
// matches little would otherwise cost a scan per few matches.
const listScanBudget = 5 * store.MaxPageLimit

// List pages attached phones in MSISDN order, optionally by state. It
// returns up to limit phones after `after`; when it ran out of scan budget
// first, resume is where the next call continues (a short page with a
// cursor), and 0 when the listing is complete up to what it returned.
func (p *Phones) List(after hlr.MSISDN, limit int, state *State) (out []Status, resume hlr.MSISDN) {
	batch := limit
	if state != nil {
		batch = store.MaxPageLimit
	}
	for scanned := 0; len(out) < limit; {
		if scanned >= listScanBudget {
			return out, after
		}
		page := p.reg.List(after, batch)
		if len(page) == 0 {
			return out, 0
		}
		scanned += len(page)
		for _, m := range page {
			after = m
			c, ok := p.reg.Lookup(m)
			if !ok {
				continue
			}
			if st := c.Status(); state == nil || st.State == state.String() {
				out = append(out, st)
				if len(out) == limit {
					return out, 0
				}
			}
		}
	}
	return out, 0
}

// detached removes a stopped controller's attachment.
func (p *Phones) detached(c *Controller) {
	if cur, ok := p.reg.Lookup(c.msisdn); ok && cur == c {
		_, _ = p.reg.Detach(c.msisdn)
		p.metrics.detached()
		p.onDet(c.msisdn)
	}
}

// background finishes an executor's run queue on another goroutine, or on
// this one when the background slots are all busy.
func (p *Phones) background(runq []*Controller) {
	select {
	case p.bg <- struct{}{}:
	default:
		e := getExecutor()
		e.runq = append(e.runq, runq...)
		e.run(p)
		e.release()
		return
	}
	p.bgWG.Add(1)
	go func() {
		defer func() { <-p.bg; p.bgWG.Done() }()
		e := getExecutor()
		e.runq = append(e.runq, runq...)
		e.run(p)
		e.release()
	}()
}

// Wait waits for the cascades handed to background goroutines to finish
// (or ctx): after the phones supervisor stopped, nothing may still write a
// call record.
func (p *Phones) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.bgWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("phones: background cascades still running: %w", ctx.Err())
	}
}

// Stop asks the controller to stop normally (sup.Proc).
func (c *Controller) Stop() { c.control(message{kind: msgStop}) }

// Crash makes the controller panic, to test supervision.
func (c *Controller) Crash() { c.control(message{kind: msgCrash}) }

func (c *Controller) control(m message) {
	e := getExecutor()
	defer e.release()
	if ok, _ := c.post(e, m, false); ok {
		e.run(c.phones)
	} else {
		m.ack.handled()
	}
}

// stopAndWait stops the controller, a following the stop's effects, and
// waits until it is gone.
func (c *Controller) stopAndWait(ctx context.Context, a *ack) error {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return ErrUnavailable
	}
	if c.done == nil {
		c.done = make(chan struct{})
	}
	done := c.done
	c.mu.Unlock()
	c.control(message{kind: msgStop, ack: a})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
