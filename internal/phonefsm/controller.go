package phonefsm

import (
	"time"

	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Controller is one attached phone's state machine (the book's phone_fsm),
// a light process (sup.Light): it owns no goroutine; whoever finds it idle
// with a message runs it, so a million idle phones cost a million small
// structs, not a million stacks.
type Controller struct {
	sup.Light[message]
	phones *Phones
	msisdn hlr.MSISDN
	inc    uint32
	dev    hw.Device
	exit   sup.ExitFunc

	// Written by the goroutine running the controller; the fields others
	// read (Status, Inspect) under the Light's lock.
	state   State
	role    Role
	freq    int32 // the call's frequency, when we are the caller and own one
	peer    Ref
	since   int64 // unix nanos of the last state change
	started int64
	call    *call // the call we started, while it lasts (callers only)
	sys     sup.Sys[note]
}

// call is what the caller keeps to write the call's record.
type call struct {
	owner      string // our name as a frequency owner, made when answered
	callee     hlr.MSISDN
	setupAt    int64
	answeredAt int64
}

// note is a handled message in the controller's log: three words, made
// into a sup.Event only when someone inspects the controller.
type note struct {
	at   int64
	kind input
	peer hlr.MSISDN
}

func newController(p *Phones, m hlr.MSISDN, dev hw.Device, exit sup.ExitFunc) *Controller {
	now := time.Now().UnixNano()
	c := &Controller{phones: p, msisdn: m, inc: p.incs.Add(1), dev: dev, exit: exit, since: now, started: now}
	c.Init(p.rt, c)
	return c
}

// MSISDN is the phone's number (the book's lookup_ms).
func (c *Controller) MSISDN() hlr.MSISDN { return c.msisdn }

// Ref names this controller.
func (c *Controller) Ref() Ref {
	return Ref{MSISDN: c.msisdn, Inc: c.inc, Cell: c.phones.cell, Epoch: c.phones.epoch, Node: c.phones.ex.nodeName(), local: c}
}

// Status is a phone as the API shows it.
type Status struct {
	MSISDN    hlr.MSISDN  `json:"msisdn"`
	State     string      `json:"state"`
	Peer      *hlr.MSISDN `json:"peer,omitempty"`
	Frequency int         `json:"frequency,omitempty"`
	Since     time.Time   `json:"since"`
	// Where the phone is, in cluster mode: its cell and the node that owns
	// it (the service fills them in).
	Cell *int   `json:"cell,omitempty"`
	Node string `json:"node,omitempty"`
}

// Status reads the controller's state.
func (c *Controller) Status() Status {
	c.Lock()
	defer c.Unlock()
	return c.status()
}

func (c *Controller) status() Status {
	st := Status{MSISDN: c.msisdn, State: c.state.String(), Frequency: int(c.freq), Since: time.Unix(0, c.since).UTC()}
	if c.state != Idle {
		p := c.peer.MSISDN
		st.Peer = &p
	}
	return st
}

// setState changes state, role and peer; the handler calls it, under the
// lock so that Status readers see a consistent set, and the state gauges
// with them: a phone read idle is no longer counted connected.
func (c *Controller) setState(s step, st State, role Role, peer Ref) {
	c.Lock()
	old := c.state
	c.state, c.role, c.peer = st, role, peer
	c.since = s.now
	if old != st {
		c.phones.metrics.transition(old, st)
	}
	c.Unlock()
}

func (c *Controller) setFreq(f int) {
	c.Lock()
	c.freq = int32(f)
	c.Unlock()
}

// Inspect answers the book's sys:get_status for phone:MSISDN.
func (c *Controller) Inspect() sup.Info {
	c.Lock()
	defer c.Unlock()
	st := c.status()
	state := st.State
	if st.Peer != nil {
		state += " peer=" + st.Peer.String()
	}
	return c.sys.Info("phone:"+c.msisdn.String(), "running", state, time.Unix(0, c.started).UTC(), renderNote)
}

func renderNote(n note) sup.Event {
	e := sup.Event{At: time.Unix(0, n.at).UTC(), Kind: n.kind.String()}
	if n.peer != 0 {
		e.Detail = n.peer.String()
	}
	return e
}

// SetTrace switches tracing of this controller's messages.
func (c *Controller) SetTrace(on bool) {
	c.Lock()
	c.sys.SetTrace(on)
	c.Unlock()
}

// noteIn records a handled message in the counts and the log, and in the
// trace when it is on.
func (c *Controller) noteIn(s step) {
	n := note{at: s.now, kind: s.m.kind, peer: s.m.to}
	if s.m.kind.event() {
		n.peer = s.m.from.MSISDN
	}
	c.Lock()
	trace := c.sys.Handled(n)
	c.Unlock()
	if trace {
		c.phones.log.Info().Str("process", "phone:"+c.msisdn.String()).Str("event", s.m.kind.String()).
			Str("state", c.state.String()).Msg("trace in")
	}
}

// noteOut counts a message sent (an event or a reply to the device).
func (c *Controller) noteOut() {
	c.Lock()
	c.sys.Sent()
	c.Unlock()
}

// Handle is the controller's side of sup.LightProc: one message through
// the table. It runs on the goroutine that owns the controller, never
// blocks, and reaches other controllers only through send.
func (c *Controller) Handle(x *sup.Exec[message], m message) error {
	defer m.ack.handled()
	s := step{x: x, m: m, now: time.Now().UnixNano()}
	c.noteIn(s)
	return c.transition(s)
}

// Crashed is told that Handle panicked: the controller cleans up what it
// can and exits abnormally, for its supervisor to restart a fresh one for
// the same MSISDN (the HLR attachment stays for it to take over).
func (c *Controller) Crashed(x *sup.Exec[message], reason *sup.PanicError) {
	s := step{x: x, now: time.Now().UnixNano()}
	_ = sup.Protect(func() error { c.cleanup(s); return nil })
	c.end(s, reason)
}

// end marks the controller dead, compensates what its mailbox still held
// (a call to it ends as if it had hung up) and reports its exit; a normal
// end detaches the phone.
func (c *Controller) end(s step, reason error) {
	for _, m := range c.Die() {
		if m.kind == evInbound && !m.from.Is(c.Ref()) {
			c.send(s, m.from, evHangup, true)
		}
		m.ack.handled()
	}
	if sup.IsNormal(reason) {
		c.phones.detached(c)
	}
	c.exit(reason)
}

// Stop asks the controller to stop normally (sup.Proc).
func (c *Controller) Stop() { c.Send(message{kind: ctlStop}) }

// Crash makes the controller panic, to test supervision.
func (c *Controller) Crash() { c.Send(message{kind: ctlCrash}) }
