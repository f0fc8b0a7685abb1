package phonefsm

import (
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Controller is one attached phone's state machine (the book's
// phone_fsm). It owns no goroutine: messages go to a bounded mailbox and
// whoever finds the controller idle runs it (see exec.go), so a million
// idle phones cost a million small structs, not a million stacks.
type Controller struct {
	phones *Phones
	msisdn hlr.MSISDN
	dev    hw.Device
	exit   sup.ExitFunc

	// mu guards the mailbox and the fields read from outside. It is held
	// only briefly and never while taking another controller's lock: the
	// handler itself runs without it, made exclusive by running.
	mu      sync.Mutex
	queue   []message
	running bool // a goroutine owns the controller and drains the queue
	dead    bool // stopped or crashed: nothing more is handled
	done    chan struct{}

	state   State
	peer    *Controller
	freq    int32 // the call's frequency, when we are the caller and own one
	call    *call // the call we started, while it lasts
	since   int64 // unix nanos of the last state change
	started int64
	// now is the clock read once per handled message (unix nanos): every
	// timestamp of that message's effects uses it.
	now int64

	// ack is the ack of the message being handled (see ack.go); only the
	// goroutine running the controller touches it.
	ack *ack

	in, out uint32
	trace   bool
	log     *eventLog // the last events handled, made on the first
}

// call is what the caller keeps to write the call's record.
type call struct {
	owner      string // our name as a frequency owner, made when answered
	callee     hlr.MSISDN
	setupAt    int64
	answeredAt int64
}

func newController(p *Phones, m hlr.MSISDN, dev hw.Device, exit sup.ExitFunc) *Controller {
	now := time.Now().UnixNano()
	return &Controller{phones: p, msisdn: m, dev: dev, exit: exit, since: now, started: now}
}

// MSISDN is the phone's number (the book's lookup_ms).
func (c *Controller) MSISDN() hlr.MSISDN { return c.msisdn }

// Status is a phone as the API shows it.
type Status struct {
	MSISDN    hlr.MSISDN  `json:"msisdn"`
	State     string      `json:"state"`
	Peer      *hlr.MSISDN `json:"peer,omitempty"`
	Frequency int         `json:"frequency,omitempty"`
	Since     time.Time   `json:"since"`
}

// Status reads the controller's state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{MSISDN: c.msisdn, State: c.state.String(), Frequency: int(c.freq), Since: time.Unix(0, c.since).UTC()}
	if c.peer != nil {
		p := c.peer.msisdn
		st.Peer = &p
	}
	return st
}

// setState changes state and peer; the handler calls it, under mu so that
// Status readers see a consistent pair.
func (c *Controller) setState(s State, peer *Controller) {
	c.mu.Lock()
	old := c.state
	c.state, c.peer = s, peer
	c.since = c.now
	c.mu.Unlock()
	if old != s {
		c.phones.metrics.transition(old, s)
	}
}

func (c *Controller) setFreq(f int) {
	c.mu.Lock()
	c.freq = int32(f)
	c.mu.Unlock()
}

// Inspect answers the book's sys:get_status for phone:MSISDN.
func (c *Controller) Inspect() sup.Info {
	st := c.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	state := st.State
	if st.Peer != nil {
		state += " peer=" + st.Peer.String()
	}
	return sup.Info{
		Name: "phone:" + c.msisdn.String(), Status: "running", StartedAt: time.Unix(0, c.started).UTC(),
		MessagesIn: uint64(c.in), MessagesOut: uint64(c.out), State: state,
		Log: c.log.events(), Trace: c.trace,
	}
}

// SetTrace switches tracing of this controller's messages.
func (c *Controller) SetTrace(on bool) {
	c.mu.Lock()
	c.trace = on
	c.mu.Unlock()
}

// eventLog is a ring of the last sup.DefaultLogSize events handled.
type eventLog struct {
	ring [sup.DefaultLogSize]loggedEvent
	next int
	full bool
}

type loggedEvent struct {
	at   int64
	kind kind
	act  Action
	peer hlr.MSISDN
}

func (l *eventLog) add(e loggedEvent) {
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
}

func (l *eventLog) events() []sup.Event {
	out := []sup.Event{}
	if l == nil {
		return out
	}
	add := func(es []loggedEvent) {
		for _, e := range es {
			name := e.kind.String()
			if e.kind == msgAction {
				name = e.act.String()
			}
			detail := ""
			if e.peer != 0 {
				detail = e.peer.String()
			}
			out = append(out, sup.Event{At: time.Unix(0, e.at).UTC(), Kind: name, Detail: detail})
		}
	}
	if l.full {
		add(l.ring[l.next:])
	}
	add(l.ring[:l.next])
	return out
}

// note records a handled message in the counters, the event log, and the
// trace when it is on.
func (c *Controller) note(m message) {
	e := loggedEvent{at: c.now, kind: m.kind, act: m.action, peer: m.to}
	if m.from != nil {
		e.peer = m.from.msisdn
	}
	c.mu.Lock()
	c.in++
	if c.log == nil {
		c.log = &eventLog{}
	}
	c.log.add(e)
	trace := c.trace
	c.mu.Unlock()
	if trace {
		c.phones.log.Info().Str("process", "phone:"+c.msisdn.String()).Str("event", m.kind.String()).
			Str("action", m.action.String()).Str("state", c.state.String()).Msg("trace in")
	}
}
