package coffee

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

var (
	// ErrUnavailable: the machine's process has ended (stopped, or crashed
	// and not yet restarted).
	ErrUnavailable = errcode.New(errcode.Unavailable, "coffee machine is not running")
	// ErrOverloaded: the machine's mailbox is full.
	ErrOverloaded = errcode.New(errcode.Overloaded, "coffee machine is busy")
)

// DefaultTimeout is how long a machine waits in payment for the next coin.
const DefaultTimeout = 10 * time.Second

// MailboxSize bounds the events waiting for a machine; beyond it Send sheds.
const MailboxSize = 32

// Options configure a machine.
type Options struct {
	Timeout  time.Duration // payment inactivity; 0 means DefaultTimeout
	NewTimer NewTimerFunc  // nil means real timers
	Metrics  *Metrics      // may be nil
	Log      zerolog.Logger
}

// Status is a machine as the API shows it. Drink, Price and Paid are set in
// payment only.
type Status struct {
	ID      string `json:"id"`
	State   State  `json:"state"`
	Drink   string `json:"drink,omitempty"`
	Price   *int   `json:"price,omitempty"`
	Paid    *int   `json:"paid,omitempty"`
	Display string `json:"display"`
}

// Machine is one incarnation of a coffee machine: a goroutine owning the
// state machine, fed through a bounded mailbox (sup.Mailbox). It is a
// sup.Proc, and answers introspection as "coffee:ID" through the embedded
// Stats.
type Machine struct {
	*sup.Stats
	id      string
	timeout time.Duration
	log     zerolog.Logger

	mb     *sup.Mailbox[request]
	proc   sup.Proc
	status atomic.Pointer[Status]

	// Owned by the machine's goroutine.
	fsm      fsm
	newTimer NewTimerFunc
	timer    Timer
	timerC   <-chan time.Time // nil when no timer is armed
}

type request struct {
	ev    Event
	reply chan Status // capacity 1: the machine never waits for the sender
}

// Start starts machine id on dev and returns once it shows its selection
// screen. It is the body of a sup.StartFunc: exit is called once when the
// machine ends, with a *sup.PanicError after a crash.
func Start(ctx context.Context, id string, dev hw.CoffeeHW, opts Options, exit sup.ExitFunc) (*Machine, error) {
	stats := sup.NewStats("coffee:"+id, opts.Log)
	mb := sup.NewMailbox[request](MailboxSize)
	m := &Machine{
		Stats:    stats,
		id:       id,
		timeout:  opts.Timeout,
		log:      opts.Log,
		mb:       mb,
		fsm:      fsm{hw: tracedHW{dev, stats}, metrics: opts.Metrics},
		newTimer: opts.NewTimer,
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.newTimer == nil {
		m.newTimer = newRealTimer
	}
	proc, err := sup.Go(m.run)(ctx, exit)
	if err != nil {
		return nil, err
	}
	m.proc = proc
	return m, nil
}

// Stop asks the machine to end; in payment it returns the money paid first.
func (m *Machine) Stop() { m.proc.Stop() }

// Crash makes the machine's goroutine panic, for fault injection. In payment
// the money paid is returned before the crash is reported.
func (m *Machine) Crash() { m.mb.Crash() }

// Status is the machine as of the last event it handled.
func (m *Machine) Status() Status { return *m.status.Load() }

// Inspect answers introspection (sup.Inspector).
func (m *Machine) Inspect() sup.Info {
	st := m.Status()
	desc := string(st.State)
	if st.State == Payment {
		desc = fmt.Sprintf("payment drink=%s price=%d paid=%d", st.Drink, *st.Price, *st.Paid)
	}
	return m.Info(desc)
}

// Send validates ev and has the machine handle it, returning the machine's
// status after the event. Events that do not apply in the current state are
// ignored and answer the unchanged status. If ctx ends once the event is
// queued, the machine may still handle it.
func (m *Machine) Send(ctx context.Context, ev Event) (Status, error) {
	if err := ev.Validate(); err != nil {
		return Status{}, err
	}
	req := request{ev: ev, reply: make(chan Status, 1)}
	if err := m.mb.TryPost(req); err != nil {
		return Status{}, machineErr(err)
	}
	st, err := sup.Await(ctx, req.reply, m.mb.Done())
	return st, machineErr(err)
}

// machineErr turns the mailbox's refusals into the machine's errors.
func machineErr(err error) error {
	switch {
	case errors.Is(err, sup.ErrDead):
		return ErrUnavailable
	case errors.Is(err, sup.ErrMailboxFull):
		return ErrOverloaded
	}
	return err
}

func (m *Machine) run(ctx context.Context, ready func()) error {
	defer m.mb.Close()
	defer m.disarm()
	// Deferred so that it also runs while a panic unwinds, before sup.Go
	// recovers it and reports the crash: the refund comes first.
	reason := reasonCrash
	defer func() {
		if paid, ok := m.fsm.terminate(reason); ok {
			m.log.Info().Str("machine", m.id).Str("reason", reason).Int("amount", paid).Msg("coffee machine returned the money paid on exit")
		}
	}()

	m.fsm.start()
	m.publish()
	ready()
	for {
		select {
		case <-ctx.Done():
			reason = reasonStop
			return nil
		case req := <-m.mb.Receive():
			m.Handled(req.ev.Kind, req.ev.detail())
			m.apply(m.fsm.handle(req.ev))
			req.reply <- m.publish()
		case <-m.timerC:
			m.Handled("timeout", "")
			m.disarm()
			m.fsm.timeout()
			m.publish()
		case <-m.mb.CrashRequested():
			m.Handled("crash", "")
			panic(fmt.Sprintf("coffee machine %s crashed on request", m.id))
		}
	}
}

func (m *Machine) apply(a timerAction) {
	switch a {
	case armTimer:
		m.disarm()
		m.timer = m.newTimer(m.timeout)
		m.timerC = m.timer.C()
	case stopTimer:
		m.disarm()
	}
}

// disarm stops the payment timer. Forgetting its channel as well means a
// tick already sent can never be mistaken for the next payment's timeout.
func (m *Machine) disarm() {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer, m.timerC = nil, nil
}

func (m *Machine) publish() Status {
	st := m.fsm.status(m.id)
	m.status.Store(&st)
	return st
}
