package sup

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// A light process is the second kind of process, beside the goroutine
// (Go): a state machine with a bounded mailbox and no goroutine of its
// own. Whichever goroutine finds it idle with a message runs it: a caller
// that acts on it runs it inline (so "answered after the process handled
// it" costs no hand-off), and the messages its handler sends to other
// light processes of the same Runtime run right after, on the same
// goroutine, up to a budget; the rest is handed to a bounded set of
// background goroutines. Processes never call into each other and never
// wait on each other. A million idle light processes cost a million small
// structs, not a million stacks: the book's phone controllers run on it.

// Errors of light processes.
var (
	// ErrDead: the process has ended; what was sent to it is lost, as a
	// message to a dead Erlang process is.
	ErrDead = errcode.New(errcode.Unavailable, "the process is not running")
	// ErrMailboxFull: the process's mailbox is at its bound.
	ErrMailboxFull = errcode.New(errcode.Overloaded, "the process's mailbox is full")
)

// LightProc is what a light process does with its messages.
type LightProc[M any] interface {
	// Handle handles m on the goroutine that runs the process. It must
	// not block; it sends to other processes through x.
	Handle(x *Exec[M], m M) error
	// Crashed is told, on that goroutine, that Handle panicked: the
	// process cleans up what it can and ends (Light.Die).
	Crashed(x *Exec[M], reason *PanicError)
}

// RuntimeConfig sizes a Runtime; zero fields take the defaults.
type RuntimeConfig struct {
	// Mailbox bounds the messages waiting for one process that a sender
	// may be refused (Post and Call with shed); others are always taken.
	Mailbox int
	// Budget is how many processes one goroutine runs in a cascade before
	// it hands the rest to the background.
	Budget int
	// Background bounds the goroutines finishing cascades; past it the
	// goroutine that found the work finishes it itself.
	Background int
	// OnDepth, if set, is told the depth of a mailbox a message was put
	// in (for a peak-depth metric); it must be cheap.
	OnDepth func(int)
}

// Defaults of RuntimeConfig.
const (
	DefaultMailbox    = 32
	DefaultBudget     = 64
	DefaultBackground = 64
)

// Runtime is what the light processes that message one another share: the
// executors, the background goroutines, and pooled mailboxes (a mailbox is
// empty nearly all the time, so an idle process keeps none).
type Runtime[M any] struct {
	cfg    RuntimeConfig
	queues sync.Pool // *[]envelope[M]
	execs  sync.Pool // *Exec[M]
	bg     chan struct{}
	bgWG   sync.WaitGroup
}

// NewRuntime makes a Runtime.
func NewRuntime[M any](cfg RuntimeConfig) *Runtime[M] {
	if cfg.Mailbox <= 0 {
		cfg.Mailbox = DefaultMailbox
	}
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.Background <= 0 {
		cfg.Background = DefaultBackground
	}
	if cfg.OnDepth == nil {
		cfg.OnDepth = func(int) {}
	}
	rt := &Runtime[M]{cfg: cfg, bg: make(chan struct{}, cfg.Background)}
	rt.queues.New = func() any { q := make([]envelope[M], 0, 4); return &q }
	rt.execs.New = func() any { return &Exec[M]{rt: rt, runq: make([]*Light[M], 0, 8)} }
	return rt
}

// envelope is a mailbox entry: the message, and who waits for its result
// when the sender does not run the process itself.
type envelope[M any] struct {
	m    M
	done chan error
}

// Exec is one goroutine's turn at running light processes: the processes
// it will run next. A handler sends through the Exec it was given.
type Exec[M any] struct {
	rt   *Runtime[M]
	runq []*Light[M]
}

func (rt *Runtime[M]) exec() *Exec[M] { return rt.execs.Get().(*Exec[M]) }

func (x *Exec[M]) release() {
	clear(x.runq)
	x.runq = x.runq[:0]
	x.rt.execs.Put(x)
}

// run runs the processes queued on x, then hands the excess over the
// budget to the background.
func (x *Exec[M]) run() {
	for i := 0; len(x.runq) > 0; i++ {
		if i == x.rt.cfg.Budget {
			rest := append([]*Light[M](nil), x.runq...)
			clear(x.runq)
			x.runq = x.runq[:0]
			x.rt.background(rest)
			return
		}
		l := x.runq[0]
		copy(x.runq, x.runq[1:])
		x.runq[len(x.runq)-1] = nil
		x.runq = x.runq[:len(x.runq)-1]
		l.drain(x)
	}
}

// background finishes a run queue on another goroutine, or on this one
// when the background goroutines are all busy.
func (rt *Runtime[M]) background(runq []*Light[M]) {
	finish := func() {
		x := rt.exec()
		x.runq = append(x.runq, runq...)
		x.run()
		x.release()
	}
	select {
	case rt.bg <- struct{}{}:
	default:
		finish()
		return
	}
	rt.bgWG.Add(1)
	go func() {
		defer func() { <-rt.bg; rt.bgWG.Done() }()
		finish()
	}()
}

// Wait waits for the cascades handed to background goroutines (or ctx):
// once the processes are stopped, nothing of theirs may still run.
func (rt *Runtime[M]) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		rt.bgWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("light processes: background cascades still running: %w", ctx.Err())
	}
}

// Light is one light process's runtime state; embed it, and Init it with
// the Runtime and the process before any message.
type Light[M any] struct {
	rt   *Runtime[M]
	proc LightProc[M]

	mu      sync.Mutex
	queue   []envelope[M]
	running bool // a goroutine owns the process and drains its mailbox
	dead    bool
}

// Init ties l to its runtime and process.
func (l *Light[M]) Init(rt *Runtime[M], proc LightProc[M]) { l.rt, l.proc = rt, proc }

// Lock and Unlock are l's lock, which the process may share to guard the
// fields other goroutines read (its status): one lock per process, held
// briefly, never while handling a message.
func (l *Light[M]) Lock() { l.mu.Lock() }

// Unlock releases Lock.
func (l *Light[M]) Unlock() { l.mu.Unlock() }

// Post puts m in l's mailbox and, if l was idle, schedules it on x, from
// a handler running on x. With shed, a full mailbox refuses m
// (overloaded). ok is false when l is dead: m is lost, and the sender
// compensates.
func (l *Light[M]) Post(x *Exec[M], m M, shed bool) (ok, overloaded bool) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false, false
	}
	if shed && len(l.queue) >= l.rt.cfg.Mailbox {
		l.mu.Unlock()
		return false, true
	}
	depth := l.enqueue(envelope[M]{m: m})
	schedule := !l.running
	l.running = true
	l.mu.Unlock()
	l.rt.cfg.OnDepth(depth)
	if schedule {
		x.runq = append(x.runq, l)
	}
	return true, false
}

// Send is Post from outside any handler: it runs l, and what follows, on
// the calling goroutine if l was idle. It tells whether l took m.
func (l *Light[M]) Send(m M) (ok bool) {
	l.rt.Do(func(x *Exec[M]) { ok, _ = l.Post(x, m, false) })
	return ok
}

// Do gives f an executor, for code outside any handler that posts to
// light processes (a message from the network, say), then runs what f
// scheduled on the calling goroutine.
func (rt *Runtime[M]) Do(f func(x *Exec[M])) {
	x := rt.exec()
	defer x.release()
	f(x)
	x.run()
}

// Call has l handle m and returns Handle's result once it did: inline when
// l is idle (then what it sent runs next, on this goroutine), else through
// its mailbox. It fails with ErrDead when l has ended, and with shed, with
// ErrMailboxFull when its mailbox is full.
func (l *Light[M]) Call(ctx context.Context, m M, shed bool) error {
	l.mu.Lock()
	switch {
	case l.dead:
		l.mu.Unlock()
		return ErrDead
	case shed && len(l.queue) >= l.rt.cfg.Mailbox:
		l.mu.Unlock()
		return ErrMailboxFull
	case !l.running:
		// Idle, so its mailbox is empty: m is next.
		l.running = true
		l.mu.Unlock()
		x := l.rt.exec()
		defer x.release()
		err := l.handle(x, m)
		l.drain(x)
		x.run()
		return err
	}
	done := make(chan error, 1)
	l.enqueue(envelope[M]{m: m, done: done})
	l.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain handles l's mailbox until it is empty; the caller owns l (it set
// running).
func (l *Light[M]) drain(x *Exec[M]) {
	for {
		l.mu.Lock()
		if l.dead {
			l.mu.Unlock()
			return
		}
		if len(l.queue) == 0 {
			l.running = false
			l.releaseQueue()
			l.mu.Unlock()
			return
		}
		env := l.queue[0]
		n := copy(l.queue, l.queue[1:]) // shift, keeping the pooled array whole
		l.queue[n] = envelope[M]{}
		l.queue = l.queue[:n]
		l.mu.Unlock()
		err := l.handle(x, env.m)
		if env.done != nil {
			env.done <- err
		}
	}
}

// handle runs Handle; a panic is the process's crash.
func (l *Light[M]) handle(x *Exec[M], m M) (err error) {
	defer func() {
		if v := recover(); v != nil {
			l.proc.Crashed(x, &PanicError{Value: v, Stack: debug.Stack()})
			err = ErrDead
		}
	}()
	return l.proc.Handle(x, m)
}

// Die ends l: nothing more is handled. It returns the messages its
// mailbox still held, whose senders waiting in Call get ErrDead, for the
// process to compensate (they are lost otherwise).
func (l *Light[M]) Die() []M {
	l.mu.Lock()
	l.dead = true
	pending := l.queue
	l.queue = nil // not pooled: read below
	l.mu.Unlock()
	out := make([]M, 0, len(pending))
	for _, env := range pending {
		if env.done != nil {
			env.done <- ErrDead
		}
		out = append(out, env.m)
	}
	return out
}

// Dead tells whether l has ended.
func (l *Light[M]) Dead() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dead
}

// enqueue appends env, borrowing a pooled mailbox if l has none, and
// returns the depth; l.mu is held.
func (l *Light[M]) enqueue(env envelope[M]) int {
	if l.queue == nil {
		l.queue = *(l.rt.queues.Get().(*[]envelope[M]))
	}
	l.queue = append(l.queue, env)
	return len(l.queue)
}

// releaseQueue returns an empty mailbox to the pool; l.mu is held.
func (l *Light[M]) releaseQueue() {
	if l.queue == nil {
		return
	}
	q := l.queue[:0:cap(l.queue)]
	l.queue = nil
	if cap(q) <= 64 {
		l.rt.queues.Put(&q)
	}
}
