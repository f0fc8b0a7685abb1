package phonefsm

import (
	"context"
	"runtime/debug"
	"sync"

	"github.com/bsc-sim/bsc/internal/sup"
)

// Execution: a controller is run by whichever goroutine finds it idle with
// a message to handle. An API action runs its phone's controller on the
// request's own goroutine, so "answered after the phone's own controller
// handled it" costs no handoff. Events for other controllers are queued in
// their mailboxes and, if those were idle, run next by the same executor
// after the current handler returns: controllers never call into each
// other and never wait on each other.

// mailboxLimit bounds a controller's mailbox for user actions; past it an
// action is shed with ErrOverloaded. Events from peers are few per call and
// always taken; an inbound call to a full mailbox is answered busy.
const mailboxLimit = 32

// runBudget is how many controllers one executor runs before handing the
// rest to a background goroutine, so a request never pays for a long
// cascade.
const runBudget = 64

type executor struct {
	runq []*Controller
}

var executors = sync.Pool{New: func() any { return &executor{runq: make([]*Controller, 0, 8)} }}

func getExecutor() *executor { return executors.Get().(*executor) }

func (e *executor) release() {
	clear(e.runq)
	e.runq = e.runq[:0]
	executors.Put(e)
}

// run runs the queued controllers, then hands any excess to the phones'
// background goroutines.
func (e *executor) run(p *Phones) {
	for i := 0; len(e.runq) > 0; i++ {
		if i == runBudget {
			rest := append([]*Controller(nil), e.runq...)
			clear(e.runq)
			e.runq = e.runq[:0]
			p.background(rest)
			return
		}
		c := e.runq[0]
		copy(e.runq, e.runq[1:])
		e.runq[len(e.runq)-1] = nil
		e.runq = e.runq[:len(e.runq)-1]
		c.drain(e)
	}
}

// post queues a message for c and schedules c on e if it was idle. It
// reports false if c is dead (the message is lost, as a message to a dead
// Erlang process is, and the caller compensates).
func (c *Controller) post(e *executor, m message, shed bool) (ok bool, overloaded bool) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false, false
	}
	if shed && len(c.queue) >= mailboxLimit {
		c.mu.Unlock()
		return false, true
	}
	c.enqueue(m)
	depth := len(c.queue)
	schedule := !c.running
	c.running = true
	c.mu.Unlock()
	c.phones.metrics.mailbox(depth)
	if schedule {
		e.runq = append(e.runq, c)
	}
	return true, false
}

// send is how a handler sends an event to another controller. The event
// carries on the ack of the message being handled.
func (c *Controller) send(e *executor, to *Controller, k kind, dropped bool) {
	c.out++
	if ok, overloaded := to.postAcked(e, message{kind: k, from: c, dropped: dropped, ack: c.ack}, k == evInbound); ok {
		return
	} else if overloaded {
		// A callee too busy to read its mailbox is busy.
		c.postAcked(e, message{kind: evBusy, from: to, ack: c.ack}, false)
		return
	}
	// The receiver is dead. A call to it ends as if it had hung up; other
	// events were for a call its own cleanup already ended.
	if k == evInbound {
		c.postAcked(e, message{kind: evHangup, from: to, dropped: true, ack: c.ack}, false)
	}
}

// postAcked is post for a message that may carry an ack: the ack waits
// for it if it is queued.
func (c *Controller) postAcked(e *executor, m message, shed bool) (ok, overloaded bool) {
	m.ack.hold()
	ok, overloaded = c.post(e, m, shed)
	if !ok {
		m.ack.handled()
	}
	return ok, overloaded
}

// drain handles c's mailbox until it is empty; the caller owns c (it set
// running).
func (c *Controller) drain(e *executor) {
	for {
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			c.running = false
			c.releaseQueue()
			c.mu.Unlock()
			return
		}
		m := c.queue[0]
		n := copy(c.queue, c.queue[1:]) // shift, keeping the pooled array whole
		c.queue[n] = message{}
		c.queue = c.queue[:n]
		c.mu.Unlock()
		err := c.handleSafely(e, m)
		m.ack.handled()
		if m.done != nil {
			m.done <- err
		}
	}
}

// handleSafely handles one message; a panic kills the controller (cleanup,
// then an abnormal exit for the supervisor to restart it).
// While it runs, c.ack is m's ack, which the events it sends carry on.
func (c *Controller) handleSafely(e *executor, m message) (err error) {
	c.ack = m.ack
	defer func() {
		if v := recover(); v != nil {
			c.die(e, &sup.PanicError{Value: v, Stack: debug.Stack()})
			err = ErrUnavailable
		}
		c.ack = nil
	}()
	return c.handle(e, m)
}

// act runs a user action and returns its result once this controller has
// handled it.
func (c *Controller) act(ctx context.Context, m message) error {
	e := getExecutor()
	defer e.release()
	c.mu.Lock()
	switch {
	case c.dead:
		c.mu.Unlock()
		return ErrUnavailable
	case m.action != ActHangup && m.kind == msgAction && len(c.queue) >= mailboxLimit:
		c.mu.Unlock()
		c.phones.metrics.shed()
		return ErrOverloaded
	case !c.running:
		// Idle: run it here, our message first (an idle controller has an
		// empty mailbox).
		c.running = true
		c.mu.Unlock()
		err := c.handleSafely(e, m)
		m.ack.handled()
		c.drain(e)
		e.run(c.phones)
		return err
	}
	m.done = make(chan error, 1)
	c.enqueue(m)
	c.mu.Unlock()
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mailboxes are empty nearly all the time, so an idle controller keeps no
// queue: it borrows one from this pool while it has messages.
var queues = sync.Pool{New: func() any { q := make([]message, 0, 4); return &q }}

// enqueue appends m to the mailbox; called with c.mu held.
func (c *Controller) enqueue(m message) {
	if c.queue == nil {
		c.queue = *(queues.Get().(*[]message))
	}
	c.queue = append(c.queue, m)
}

// releaseQueue returns an empty mailbox to the pool; called with c.mu held.
func (c *Controller) releaseQueue() {
	if c.queue == nil {
		return
	}
	q := c.queue[:0:cap(c.queue)]
	c.queue = nil
	if cap(q) <= 64 {
		queues.Put(&q)
	}
}
