package phonefsm

import (
	"context"
	"sync/atomic"

	"github.com/bsc-sim/bsc/internal/calls"
)

// An action that may end a call is answered only once the call's record is
// committed (operations.md: acknowledged means durable). The record is not
// always written by the phone acted on: the caller keeps the call, so when
// the callee hangs up or rejects, it is the caller's controller, handling
// the event the callee sent, that writes it, later and maybe on another
// goroutine. An ack follows the action through the events it causes: the
// controller handling a message carries its ack, every event it sends
// carries it on, every record it writes notes its ticket, and the ack is
// done once every message carrying it has been handled (or dropped). The
// action then waits for the newest ticket to be committed.
//
// An event sent to another node carries the ack's id instead (exchange.go):
// the receiving node handles it under an ack of its own whose end it
// reports back, with whether the records written under it were committed.
type ack struct {
	pending atomic.Int32  // messages carrying the ack not yet handled
	ticket  atomic.Uint64 // the newest record written on the action's behalf
	done    chan struct{} // closed when pending reaches 0
	failed  atomic.Pointer[error]
	onDone  func(*ack) // set before the ack is shared; nil: none
}

// newAck is the ack of one action message, pending until it is handled.
func newAck() *ack {
	a := &ack{done: make(chan struct{})}
	a.pending.Store(1)
	return a
}

// hold counts one more message carrying a; nil-safe.
func (a *ack) hold() {
	if a != nil {
		a.pending.Add(1)
	}
}

// handled counts one message carrying a as handled or dropped; nil-safe.
func (a *ack) handled() {
	if a != nil && a.pending.Add(-1) == 0 {
		close(a.done)
		if a.onDone != nil {
			a.onDone(a)
		}
	}
}

// wrote notes the ticket of a record written on a's behalf; nil-safe.
func (a *ack) wrote(t calls.Ticket) {
	if a == nil {
		return
	}
	for {
		old := a.ticket.Load()
		if uint64(t) <= old || a.ticket.CompareAndSwap(old, uint64(t)) {
			return
		}
	}
}

// fail notes why records written on a's behalf elsewhere are not known to
// be committed; the first reason stays.
func (a *ack) fail(err error) { a.failed.CompareAndSwap(nil, &err) }

// wait waits until every message carrying a was handled (the peer's
// controller runs right after ours, nearly always on our goroutine, so
// this is done before it is asked) and the newest record written on its
// behalf is committed (which the recorder bounds).
func (a *ack) wait(ctx context.Context, records Recorder) error {
	select {
	case <-a.done:
	default:
		select {
		case <-a.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := a.failed.Load(); err != nil {
		return *err
	}
	return records.Wait(ctx, calls.Ticket(a.ticket.Load()))
}
