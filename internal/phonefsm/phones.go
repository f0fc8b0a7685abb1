package phonefsm

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

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
	// Open notes a call just set up (caller, callee, setup time), so that
	// in cluster mode it gets its record even if this node dies before it
	// ends; the call action waits for its ticket. A single node needs no
	// note: it returns 0.
	Open(caller, callee hlr.MSISDN, setupAt time.Time) calls.Ticket
	// Record takes a finished call's record without blocking and returns
	// the ticket Wait takes.
	Record(calls.Record) calls.Ticket
	// Wait returns once the record of the ticket is committed, or fails
	// (within a bound of its own) when it is not.
	Wait(ctx context.Context, t calls.Ticket) error
}

// NoNotes is the Open of a single node's recorder, to embed: a single
// node notes nothing when a call is set up.
type NoNotes struct{}

// Open returns the ticket that is always committed.
func (NoNotes) Open(hlr.MSISDN, hlr.MSISDN, time.Time) calls.Ticket { return 0 }

// Config is what the phones of one phones-supervisor incarnation share.
type Config struct {
	Freq    Frequencies
	Records Recorder
	Metrics *CellMetrics // the cell's, shared by every incarnation; nil: none
	Log     zerolog.Logger
	// OnDetach is told when a phone detached (its controller stopped
	// normally): the service removes its device and notes the time.
	OnDetach func(hlr.MSISDN)
	// Cluster mode: the node's exchange, and the cell these phones are in
	// with the epoch of this node's ownership. nil: a single node.
	Exchange *Exchange
	Cell     int
	Epoch    uint64
}

// Phones is the set of attached phones of one incarnation of the phones
// supervisor, with the attachment registry it owns (the book's ETS
// tables): a phone crash keeps its attachment, a restart of the
// supervisor starts from an empty set.
type Phones struct {
	sup     *sup.Supervisor
	rt      *sup.Runtime[message]
	reg     hlr.Registry[*Controller]
	incs    atomic.Uint32 // the last incarnation number given
	freq    Frequencies
	records Recorder
	metrics *CellMetrics
	log     zerolog.Logger
	onDet   func(hlr.MSISDN)
	ex      *Exchange
	cell    int32
	epoch   uint64
	closed  atomic.Bool // Close: inbound calls find the callee busy
	started time.Time   // when the set was made (its cell taken here)
}

// New makes the phone set of the running phones supervisor s.
func New(s *sup.Supervisor, cfg Config) *Phones {
	if cfg.OnDetach == nil {
		cfg.OnDetach = func(hlr.MSISDN) {}
	}
	p := &Phones{sup: s, freq: cfg.Freq, records: cfg.Records, metrics: cfg.Metrics, log: cfg.Log,
		onDet: cfg.OnDetach, ex: cfg.Exchange, cell: int32(cfg.Cell), epoch: cfg.Epoch, started: time.Now()}
	if p.ex == nil {
		p.rt = sup.NewRuntime[message](sup.RuntimeConfig{OnDepth: cfg.Metrics.mailbox})
	} else {
		// Every cell of the node shares the exchange's runtime, so that a
		// call between two of them runs as within one.
		p.rt = p.ex.rt
		p.ex.add(p)
	}
	return p
}

// delivery is what became of an event sent through the seam.
type delivery uint8

const (
	delivered       delivery = iota
	peerFull                 // an inbound call refused: the callee's mailbox is full
	peerGone                 // the peer has ended: the event is lost
	peerUnreachable          // the peer's node cannot be reached
)

// deliver is the send seam: the one way an event reaches another
// controller. Here, through the Ref's controller, run next on x. A Ref
// with no local controller names one on another node, which the exchange
// reaches (cluster mode).
func (p *Phones) deliver(x *sup.Exec[message], to Ref, m message, shed bool) delivery {
	if to.local == nil {
		if p.ex == nil {
			return peerUnreachable
		}
		return p.ex.send(to, m)
	}
	m.ack.hold()
	ok, full := to.local.Post(x, m, shed)
	if ok {
		return delivered
	}
	m.ack.handled()
	if full || m.kind == evInbound && to.local.phones.closed.Load() {
		return peerFull // full, or stopping with its cell, handed off
	}
	return peerGone
}

// resolve finds the controller serving m now (the book's lookup_id).
func (p *Phones) resolve(m hlr.MSISDN) (Ref, bool) {
	c, ok := p.reg.Lookup(m)
	if !ok {
		if p.ex != nil {
			return p.ex.resolve(m)
		}
		return Ref{}, false
	}
	return c.Ref(), true
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

// Idle tells whether m is attached and idle: an action from it would
// start a new call. It reads the state alone, not the whole Status.
func (p *Phones) Idle(m hlr.MSISDN) bool {
	c, err := p.Lookup(m)
	if err != nil {
		return false
	}
	c.Lock()
	defer c.Unlock()
	return c.state == Idle
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
	msg := message{kind: actionInput(a), to: to}
	if a != ActCall || p.ex != nil {
		// In cluster mode a call waits for its note (Recorder.Open).
		msg.ack = newAck()
	}
	// A hangup or a reject releases a call: never refused for a full
	// mailbox.
	if err := c.Call(ctx, msg, a == ActCall || a == ActAccept); err != nil {
		switch {
		case errors.Is(err, sup.ErrDead):
			err = ErrUnavailable
		case errors.Is(err, sup.ErrMailboxFull):
			p.metrics.shed()
			err = ErrOverloaded
		}
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
	if !c.Send(message{kind: ctlStop, ack: a}) {
		return Commit{}, ErrUnavailable
	}
	// The stop's ack is done once the stop was handled (the controller is
	// gone) and so were the events its cleanup sent.
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

// Close stops the phones taking new calls: an inbound call finds the
// callee busy (the cell is being handed to another node, and its calls
// must end). Calls in progress go on.
func (p *Phones) Close() { p.closed.Store(true) }

// Count is the number of attached phones.
func (p *Phones) Count() int { return p.reg.Len() }

// Busy is the number of attached phones not idle: in a call, or setting
// one up. A cell handed to another node waits for it to reach 0.
func (p *Phones) Busy() int {
	n := 0
	for _, c := range p.reg.Values() {
		c.Lock()
		if c.state != Idle {
			n++
		}
		c.Unlock()
	}
	return n
}

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

// Wait waits for the cascades handed to background goroutines (or ctx):
// after the phones supervisor stopped, nothing may still write a call
// record.
func (p *Phones) Wait(ctx context.Context) error { return p.rt.Wait(ctx) }
