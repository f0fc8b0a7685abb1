// Package sup is a small OTP-style supervisor library: one_for_one,
// one_for_all, rest_for_one and simple_one_for_one strategies, permanent,
// transient and temporary children, restart intensity, ordered synchronous
// start, reverse-order stop with a per-child shutdown time, reports, and
// introspection (the book's sys module, see sys.go).
//
// A supervised process is anything that can be asked to stop and reports its
// own end exactly once through the ExitFunc it was started with. A process
// may be a goroutine (see Go) or something lighter, such as a state machine
// that only borrows a goroutine while it has messages: the supervisor never
// assumes one goroutine per child, which is what lets a simple_one_for_one
// supervisor hold a million idle children.
package sup

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// ErrShutdown is the exit reason of a process that stopped because it was
// asked to. Like nil, it is a normal exit.
var ErrShutdown = errors.New("shutdown")

// PanicError is the exit reason of a process that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// IsNormal tells whether an exit reason is a normal exit: nil or ErrShutdown.
// Anything else (an error, a panic) is abnormal.
func IsNormal(reason error) bool { return reason == nil || errors.Is(reason, ErrShutdown) }

// Proc is a running process as its supervisor sees it.
type Proc interface {
	// Stop asks the process to end. It must not block; the process reports
	// its end through its ExitFunc, normally with ErrShutdown.
	Stop()
}

// ExitFunc is how a process reports its end; it is called exactly once.
// A nil or ErrShutdown reason is a normal exit.
type ExitFunc func(reason error)

// StartFunc starts a process synchronously. When it returns without error
// the process is running and will call exit exactly once; when it returns an
// error, nothing runs and exit is never called. ctx bounds the start only.
type StartFunc func(ctx context.Context, exit ExitFunc) (Proc, error)

// Protect runs fn and turns a panic into a *PanicError.
func Protect(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// Go makes a StartFunc for a process that is one goroutine running fn.
//
// Start returns once fn calls ready (the book's init returning {ok, State}),
// or fails with fn's error if fn returns before calling ready. After ready,
// fn's return value is the exit reason; a panic is an abnormal exit. ctx
// passed to fn is cancelled when the supervisor asks the process to stop;
// fn should then return nil or ctx.Err() (both count as a normal exit).
func Go(fn func(ctx context.Context, ready func()) error) StartFunc {
	return func(startCtx context.Context, exit ExitFunc) (Proc, error) {
		ctx, cancel := context.WithCancel(context.WithoutCancel(startCtx))
		p := &goProc{cancel: cancel, readyCh: make(chan struct{}), failed: make(chan error, 1)}
		go p.run(ctx, fn, exit)
		select {
		case <-p.readyCh:
			return p, nil
		case err := <-p.failed:
			if err == nil {
				err = errors.New("process returned before it was ready")
			}
			return nil, err
		case <-startCtx.Done():
			p.mu.Lock()
			abandoned := p.phase == phaseStarting
			if abandoned {
				p.phase = phaseAbandoned
			}
			p.mu.Unlock()
			if abandoned {
				cancel()
				return nil, fmt.Errorf("start: %w", startCtx.Err())
			}
			return p, nil // became ready at the same moment
		}
	}
}

const (
	phaseStarting = iota
	phaseRunning
	phaseAbandoned
)

type goProc struct {
	cancel  context.CancelFunc
	readyCh chan struct{}
	failed  chan error

	mu    sync.Mutex
	phase int
}

func (p *goProc) Stop() { p.cancel() }

func (p *goProc) ready() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase == phaseStarting {
		p.phase = phaseRunning
		close(p.readyCh)
	}
}

func (p *goProc) run(ctx context.Context, fn func(context.Context, func()) error, exit ExitFunc) {
	err := Protect(func() error { return fn(ctx, p.ready) })
	stopped := ctx.Err() != nil
	p.cancel()
	p.mu.Lock()
	phase := p.phase
	if phase == phaseStarting {
		p.phase = phaseAbandoned
	}
	p.mu.Unlock()
	switch phase {
	case phaseStarting:
		p.failed <- err
	case phaseRunning:
		if stopped && (err == nil || errors.Is(err, context.Canceled)) {
			err = ErrShutdown
		}
		exit(err)
	}
}

// Kind says whether a child is a worker or a supervisor.
type Kind int

const (
	Worker Kind = iota
	SupervisorKind
)

func (k Kind) String() string {
	if k == SupervisorKind {
		return "supervisor"
	}
	return "worker"
}

// Restart says when a child that exited is restarted.
type Restart int

const (
	Permanent Restart = iota // always
	Transient                // only after an abnormal exit
	Temporary                // never
)

func (r Restart) String() string {
	return [...]string{"permanent", "transient", "temporary"}[r]
}

func (r Restart) restarts(reason error) bool {
	switch r {
	case Permanent:
		return true
	case Transient:
		return !IsNormal(reason)
	}
	return false
}

// Strategy is how a supervisor reacts to a child's exit.
type Strategy int

const (
	OneForOne Strategy = iota
	OneForAll
	RestForOne
	SimpleOneForOne
)

func (s Strategy) String() string {
	return [...]string{"one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"}[s]
}

// DefaultShutdown is a child's shutdown time when its spec gives none.
const DefaultShutdown = 2 * time.Second

// ChildSpec describes one child.
type ChildSpec struct {
	Name     string
	Start    StartFunc
	Restart  Restart
	Kind     Kind
	Shutdown time.Duration // 0 means DefaultShutdown
}

func (c ChildSpec) shutdown() time.Duration {
	if c.Shutdown <= 0 {
		return DefaultShutdown
	}
	return c.Shutdown
}

// Node is one process in the supervision tree, as the API shows it.
type Node struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Strategy    string     `json:"strategy,omitempty"`
	MaxRestarts int        `json:"max_restarts,omitempty"`
	MaxSeconds  int        `json:"max_seconds,omitempty"`
	Restart     string     `json:"restart,omitempty"`
	State       string     `json:"state"`
	Restarts    int        `json:"restarts"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	Children    []Node     `json:"children,omitempty"`
	Count       *int       `json:"count,omitempty"`
}

// Treer is implemented by processes that show a subtree (supervisors).
type Treer interface {
	Tree() Node
}
