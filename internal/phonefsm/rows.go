package phonefsm

import (
	"time"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

// The effects of the table's rows (table.go), in its order. Each comment
// is the spec's line: state | input | effect | next.

// calleeAbsent is the guard of the first row: the callee is not attached.
func (c *Controller) calleeAbsent(s step) bool {
	_, ok := c.phones.resolve(s.m.to)
	return !ok
}

// idle | action call(to), `to` not attached | device gets `invalid`;
// action fails `invalid_number` | idle
func (c *Controller) callAbsent(s step) error {
	c.deliver(s, hw.Invalid, Ref{})
	return ErrInvalidNumber
}

// idle | action call(to), `to` attached (itself included) | send `inbound`
// to `to` | calling(peer=to)
//
// The call's record is promised room first: a call that could not be
// recorded is refused (shed) before it leaves idle.
func (c *Controller) callAttached(s step) error {
	callee, ok := c.phones.resolve(s.m.to)
	if !ok {
		return c.callAbsent(s) // detached since the guard looked
	}
	if err := c.phones.records.Reserve(); err != nil {
		c.phones.metrics.shed()
		return err
	}
	c.call = &call{callee: s.m.to, setupAt: s.now}
	s.m.ack.wrote(c.phones.records.Open(c.msisdn, s.m.to, time.Unix(0, s.now)))
	c.setState(s, Calling, Caller, callee)
	c.send(s, callee, evInbound, false)
	return nil
}

// idle | event inbound(from) | device gets `inbound{from}` |
// receiving(peer=from)
func (c *Controller) ring(s step) error {
	if c.phones.closed.Load() {
		// The cell is closing (handed to another node): it takes no new
		// call, and the caller finds this phone busy.
		c.send(s, s.m.from, evBusy, false)
		return nil
	}
	c.deliver(s, hw.Inbound, s.m.from)
	c.setState(s, Receiving, Callee, s.m.from)
	return nil
}

// calling | event accept(peer) | allocate a frequency (owner = caller). Got
// one: device gets `accepted` → connected. None: send `reject` to peer,
// device gets `no_frequency` → idle | connected / idle
func (c *Controller) answered(s step) error {
	c.call.owner = c.owner()
	f, err := c.phones.freq.Allocate(c.call.owner)
	if err != nil {
		c.send(s, c.peer, evReject, false)
		c.deliver(s, hw.NoFrequency, Ref{})
		c.endCall(s, calls.NoFrequency, calls.EndedBySystem)
		return nil
	}
	c.setFreq(f)
	c.call.answeredAt = s.now
	c.phones.metrics.setup(c.call)
	c.deliver(s, hw.Accepted, Ref{})
	c.setState(s, Connected, Caller, c.peer)
	return nil
}

// calling | event busy(peer) | device gets `busy` | idle
// (also: calling | the callee's mailbox is full: it is busy)
func (c *Controller) busy(s step) error {
	c.deliver(s, hw.Busy, Ref{})
	c.endCall(s, calls.Busy, calls.EndedByCallee)
	return nil
}

// calling | event reject(peer) | device gets `rejected` | idle
func (c *Controller) rejected(s step) error {
	c.deliver(s, hw.Rejected, Ref{})
	c.endCall(s, outcome(calls.Rejected, s.m.dropped), calls.EndedByCallee)
	return nil
}

// calling | event hangup(peer) | device gets `hangup` | idle
//
// The callee ended the call before an answer: it did not take it, so the
// record says rejected (cancelled is the caller hanging up).
func (c *Controller) hungUpRinging(s step) error {
	c.deliver(s, hw.Hangup, Ref{})
	c.endCall(s, outcome(calls.Rejected, s.m.dropped), calls.EndedByCallee)
	return nil
}

// calling | action hangup | send `hangup` to peer | idle
func (c *Controller) cancel(s step) error {
	c.send(s, c.peer, evHangup, false)
	c.endCall(s, calls.Cancelled, calls.EndedByCaller)
	return nil
}

// receiving | action accept | send `accept` to peer | connected
func (c *Controller) accept(s step) error {
	c.send(s, c.peer, evAccept, false)
	c.setState(s, Connected, Callee, c.peer)
	return nil
}

// receiving | action reject | send `reject` to peer | idle
// receiving | action hangup | same as reject | idle
func (c *Controller) reject(s step) error {
	c.send(s, c.peer, evReject, false)
	c.setState(s, Idle, NoRole, Ref{})
	return nil
}

// receiving | event hangup(peer) | device gets `hangup` | idle
func (c *Controller) callerGone(s step) error {
	c.deliver(s, hw.Hangup, Ref{})
	c.setState(s, Idle, NoRole, Ref{})
	return nil
}

// connected | action hangup | send `hangup` to peer; release the frequency
// if we own it | idle
func (c *Controller) hangUp(s step) error {
	c.send(s, c.peer, evHangup, false)
	c.endCall(s, calls.Answered, endedBy(c.role))
	return nil
}

// connected | event hangup(peer) | device gets `hangup`; release the
// frequency if we own it | idle
func (c *Controller) hungUp(s step) error {
	c.deliver(s, hw.Hangup, Ref{})
	c.endCall(s, outcome(calls.Answered, s.m.dropped), endedBy(c.role.other()))
	return nil
}

// connected (callee) | event reject(peer) | the caller found no frequency:
// device gets `no_frequency` | idle
func (c *Controller) noFrequency(s step) error {
	c.deliver(s, hw.NoFrequency, Ref{})
	c.setState(s, Idle, NoRole, Ref{})
	return nil
}

// calling, receiving, connected | event inbound(other) | send `busy` to
// `other` | unchanged
func (c *Controller) busyToOther(s step) error {
	c.send(s, s.m.from, evBusy, false)
	return nil
}

// any but idle | action call | action fails `busy` | unchanged
func (c *Controller) alreadyInCall(step) error { return ErrBusy }

// any | action not listed for the state | action fails `invalid_state`;
// nothing changes | unchanged
func (c *Controller) invalidState(step) error { return ErrInvalidState }

// any | event not listed for the state, or from a non-peer | ignored
// (counted) | unchanged
func (c *Controller) ignore(step) error {
	c.phones.metrics.stale()
	return nil
}

// Stop, detach and crash: "When a controller stops for any reason it first
// cleans up by state: calling → send hangup to the peer; receiving → send
// reject; connected → send hangup and release its frequency. Then it is
// detached from the HLR."

// idle | stop | — | ended
func (c *Controller) stopIdle(s step) error {
	c.end(s, sup.ErrShutdown)
	return nil
}

// calling | stop | send `hangup` to the peer; the call is dropped | ended
func (c *Controller) stopCalling(s step) error {
	c.cleanup(s)
	c.end(s, sup.ErrShutdown)
	return nil
}

// receiving | stop | send `reject` to the peer (the call is dropped) | ended
func (c *Controller) stopReceiving(s step) error {
	c.cleanup(s)
	c.end(s, sup.ErrShutdown)
	return nil
}

// connected | stop | send `hangup` to the peer and release the frequency;
// the call is dropped | ended
func (c *Controller) stopConnected(s step) error {
	c.cleanup(s)
	c.end(s, sup.ErrShutdown)
	return nil
}

// any | crash | the controller panics; it cleans up as a stop does and is
// restarted by its supervisor, idle, for the same MSISDN | restarted idle
func (c *Controller) crash(step) error { panic("injected crash") }

// calling | the callee has ended (a call to it is lost) | device gets
// `hangup`; the call is dropped | idle
// calling, receiving, connected | the peer cannot be reached (its node is
// gone) | device gets `hangup`; the call is dropped | idle
func (c *Controller) peerLost(s step) error {
	c.deliver(s, hw.Hangup, Ref{})
	if c.role == Caller {
		c.endCall(s, calls.Dropped, calls.EndedByCallee)
		return nil
	}
	c.setState(s, Idle, NoRole, Ref{})
	return nil
}

// cleanup ends the current call because this controller is going away.
func (c *Controller) cleanup(s step) {
	switch c.state {
	case Calling:
		c.send(s, c.peer, evHangup, true)
		c.endCall(s, calls.Dropped, calls.EndedByCaller)
	case Receiving:
		c.send(s, c.peer, evReject, true)
		c.setState(s, Idle, NoRole, Ref{})
	case Connected:
		c.send(s, c.peer, evHangup, true)
		c.endCall(s, calls.Dropped, endedBy(c.role))
	}
}

func outcome(o calls.Outcome, dropped bool) calls.Outcome {
	if dropped {
		return calls.Dropped
	}
	return o
}

// endedBy is who ended the call as the record says it.
func endedBy(r Role) string {
	if r == Callee {
		return calls.EndedByCallee
	}
	return calls.EndedByCaller
}

func (r Role) other() Role {
	switch r {
	case Caller:
		return Callee
	case Callee:
		return Caller
	}
	return NoRole
}

// owner names this phone's frequency allocations.
func (c *Controller) owner() string { return "msisdn:" + c.msisdn.String() }

// deliver gives the phone's device a reply; from names the caller of an
// inbound.
func (c *Controller) deliver(s step, t hw.ReplyType, from Ref) {
	c.noteOut()
	var who string
	if from.MSISDN != 0 {
		who = from.MSISDN.String()
	}
	c.dev.DeliverAt(t, who, s.now)
}

// endCall ends the call for this side and goes idle: the caller writes the
// call's record (the action that ended it waits for it, see ack.go) and
// releases its frequency.
func (c *Controller) endCall(s step, o calls.Outcome, endedBy string) {
	cl := c.call
	if cl != nil {
		if c.freq != 0 {
			c.phones.freq.Release(cl.owner, int(c.freq))
		}
		now := time.Unix(0, s.now)
		rec := calls.Record{
			Caller: c.msisdn, Callee: cl.callee, Frequency: int(c.freq), Outcome: o,
			EndedBy: endedBy, SetupAt: time.Unix(0, cl.setupAt).UTC(), EndedAt: now.UTC(),
		}
		if cl.answeredAt != 0 {
			rec.AnsweredAt = time.Unix(0, cl.answeredAt).UTC()
		}
		c.call = nil
		c.setFreq(0)
		c.phones.metrics.ended(o, cl, now)
		s.m.ack.wrote(c.phones.records.Record(rec))
	}
	c.setState(s, Idle, NoRole, Ref{})
}

// send is how a handler sends an event to another controller: through the
// seam (Phones.deliver), the event carrying on the ack of the message
// being handled. When the peer cannot take it, the sender handles what
// that means (a synthesized input) right after.
func (c *Controller) send(s step, to Ref, k input, dropped bool) {
	c.noteOut()
	switch c.phones.deliver(s.x, to, message{kind: k, from: c.Ref(), dropped: dropped, ack: s.m.ack}, k == evInbound) {
	case delivered:
	case peerFull:
		c.self(s, evPeerFull, to)
	case peerGone:
		// A call to a controller that has ended is lost; other events were
		// for a call its own cleanup already ended for us.
		if k == evInbound {
			c.self(s, evPeerGone, to)
		}
	case peerUnreachable:
		c.self(s, evPeerUnreachable, to)
	}
}

// self queues a synthesized input about peer for this controller.
func (c *Controller) self(s step, k input, peer Ref) {
	s.m.ack.hold()
	if ok, _ := c.Post(s.x, message{kind: k, from: peer, ack: s.m.ack}, false); !ok {
		s.m.ack.handled()
	}
}
