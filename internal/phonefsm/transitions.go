package phonefsm

import (
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

// handle is the transition table of domain.md §3. It runs on the goroutine
// that owns c; it never blocks and never touches another controller except
// through send.
func (c *Controller) handle(e *executor, m message) error {
	c.now = time.Now().UnixNano()
	c.note(m)
	switch m.kind {
	case msgAction:
		return c.action(e, m)
	case msgStop:
		c.stop(e)
		return nil
	case msgCrash:
		panic("injected crash")
	}
	c.event(e, m)
	return nil
}

func (c *Controller) action(e *executor, m message) error {
	switch {
	case m.action == ActCall && c.state != Idle:
		return ErrBusy
	case m.action == ActCall:
		callee, ok := c.phones.reg.Lookup(m.to)
		if !ok {
			c.deliver(hw.Invalid, nil)
			return ErrInvalidNumber
		}
		// The call's record will find room in the writer's queue; when it
		// cannot (full, or the database failing) the call is shed.
		if err := c.phones.records.Reserve(); err != nil {
			c.phones.metrics.shed()
			return err
		}
		c.call = &call{callee: m.to, setupAt: c.now}
		c.setState(Calling, callee)
		c.send(e, callee, evInbound, false)
	case m.action == ActAccept && c.state == Receiving:
		c.send(e, c.peer, evAccept, false)
		c.setState(Connected, c.peer)
	case (m.action == ActReject || m.action == ActHangup) && c.state == Receiving:
		c.send(e, c.peer, evReject, false)
		c.setState(Idle, nil)
	case m.action == ActHangup && c.state == Calling:
		c.send(e, c.peer, evHangup, false)
		c.endCall(calls.Cancelled, "caller")
		c.setState(Idle, nil)
	case m.action == ActHangup && c.state == Connected:
		c.send(e, c.peer, evHangup, false)
		c.endCall(calls.Answered, c.role())
		c.setState(Idle, nil)
	default:
		return ErrInvalidState
	}
	return nil
}

func (c *Controller) event(e *executor, m message) {
	if m.kind == evInbound {
		if c.state == Idle {
			c.deliver(hw.Inbound, m.from)
			c.setState(Receiving, m.from)
		} else {
			c.send(e, m.from, evBusy, false)
		}
		return
	}
	if m.from != c.peer || c.state == Idle {
		c.phones.metrics.stale()
		return
	}
	switch {
	case m.kind == evAccept && c.state == Calling:
		c.call.owner = c.owner()
		f, err := c.phones.freq.Allocate(c.call.owner)
		if err != nil {
			c.send(e, c.peer, evReject, false)
			c.deliver(hw.NoFrequency, nil)
			c.endCall(calls.NoFrequency, "system")
			c.setState(Idle, nil)
			return
		}
		c.setFreq(f)
		c.call.answeredAt = c.now
		c.phones.metrics.setup(c.call)
		c.deliver(hw.Accepted, nil)
		c.setState(Connected, c.peer)
	case m.kind == evBusy && c.state == Calling:
		c.deliver(hw.Busy, nil)
		c.endCall(calls.Busy, "callee")
		c.setState(Idle, nil)
	case m.kind == evReject && c.state == Calling:
		c.deliver(hw.Rejected, nil)
		c.endCall(outcome(calls.Rejected, m.dropped), "callee")
		c.setState(Idle, nil)
	case m.kind == evReject && c.state == Connected && c.call == nil:
		// We accepted, and the caller found no frequency.
		c.deliver(hw.NoFrequency, nil)
		c.setState(Idle, nil)
	case m.kind == evHangup:
		c.deliver(hw.Hangup, nil)
		if c.state == Connected {
			c.endCall(outcome(calls.Answered, m.dropped), c.peerRole())
		} else {
			c.endCall(outcome(calls.Cancelled, m.dropped), c.peerRole())
		}
		c.setState(Idle, nil)
	default:
		c.phones.metrics.stale()
	}
}

func outcome(o calls.Outcome, dropped bool) calls.Outcome {
	if dropped {
		return calls.Dropped
	}
	return o
}

// role is who we are in the current call; the caller keeps the call.
func (c *Controller) role() string {
	if c.call != nil {
		return "caller"
	}
	return "callee"
}

func (c *Controller) peerRole() string {
	if c.call != nil {
		return "callee"
	}
	return "caller"
}

// owner names this phone's frequency allocations.
func (c *Controller) owner() string { return "msisdn:" + c.msisdn.String() }

func (c *Controller) deliver(t hw.ReplyType, from *Controller) {
	c.out++
	var who string
	if from != nil {
		who = from.msisdn.String()
	}
	c.dev.DeliverAt(t, who, c.now)
}

// endCall writes the record of the call we started (callers only) and
// releases its frequency.
func (c *Controller) endCall(o calls.Outcome, endedBy string) {
	cl := c.call
	if cl != nil && c.freq != 0 {
		c.phones.freq.Release(cl.owner, int(c.freq))
	}
	if cl == nil {
		return
	}
	now := time.Unix(0, c.now)
	rec := calls.Record{
		Caller: c.msisdn.String(), Callee: cl.callee.String(), Frequency: int(c.freq), Outcome: o,
		EndedBy: endedBy, SetupAt: time.Unix(0, cl.setupAt).UTC(), EndedAt: now.UTC(),
	}
	if cl.answeredAt != 0 {
		rec.AnsweredAt = time.Unix(0, cl.answeredAt).UTC()
	}
	c.call = nil
	c.setFreq(0)
	c.phones.metrics.ended(o, cl, now)
	c.ack.wrote(c.phones.records.Record(rec))
}

// cleanup ends the current call because this controller is going away
// (domain.md §3, "Stop, detach and crash").
func (c *Controller) cleanup(e *executor) {
	switch c.state {
	case Calling:
		c.send(e, c.peer, evHangup, true)
		c.endCall(calls.Dropped, "caller")
	case Receiving:
		c.send(e, c.peer, evReject, true)
	case Connected:
		c.send(e, c.peer, evHangup, true)
		c.endCall(calls.Dropped, c.role())
	}
	c.setState(Idle, nil)
}

// stop is a normal stop: clean up, detach, exit.
func (c *Controller) stop(e *executor) {
	c.cleanup(e)
	c.finish(e, sup.ErrShutdown)
}

// die is a crash: clean up what we can, then exit abnormally so the
// supervisor restarts a fresh controller for the same MSISDN. The HLR
// attachment stays for the restarted controller to take over.
func (c *Controller) die(e *executor, reason error) {
	_ = sup.Protect(func() error { c.cleanup(e); return nil })
	c.finish(e, reason)
}

// finish marks c dead, answers what is left in its mailbox, and reports
// the exit.
func (c *Controller) finish(e *executor, reason error) {
	c.mu.Lock()
	c.dead = true
	pending := c.queue
	c.queue = nil // not pooled: pending is read below
	done := c.done
	c.mu.Unlock()
	for _, m := range pending {
		if m.done != nil {
			m.done <- ErrUnavailable
		}
		if m.kind == evInbound && m.from != c {
			c.send(e, m.from, evHangup, true)
		}
		m.ack.handled()
	}
	if sup.IsNormal(reason) {
		c.phones.detached(c)
	}
	if done != nil {
		close(done)
	}
	c.exit(reason)
}
