package sup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

var (
	// ErrNotRunning: the supervisor has stopped or is stopping.
	ErrNotRunning = errcode.New(errcode.Unavailable, "supervisor is not running")
	// ErrNoChild: no dynamic child with that id.
	ErrNoChild = errcode.New(errcode.NotFound, "no such child")
	// ErrNotDynamic: dynamic child calls on a static supervisor.
	ErrNotDynamic = errors.New("not a simple_one_for_one supervisor")
	// ErrKilled is the exit reason of a supervisor ended by Crash, an
	// abnormal exit (OTP's killed).
	ErrKilled = errors.New("killed")
)

// IntensityError is the exit reason of a supervisor that gave up.
type IntensityError struct {
	Supervisor  string
	Child       string
	MaxRestarts int
	MaxSeconds  int
	LastExit    error
}

func (e *IntensityError) Error() string {
	return fmt.Sprintf("supervisor %s reached its restart intensity (more than %d restarts in %d s); last exit of %s: %v",
		e.Supervisor, e.MaxRestarts, e.MaxSeconds, e.Child, e.LastExit)
}

func (e *IntensityError) Unwrap() error { return e.LastExit }

// Spec describes a supervisor.
type Spec struct {
	Name        string
	Strategy    Strategy
	MaxRestarts int // OTP's MaxR
	MaxSeconds  int // OTP's MaxT
	// Children are the static children, started in this order.
	Children []ChildSpec
	// Template describes the dynamic children of a simple_one_for_one
	// supervisor: its Name (used in reports), Restart, Kind and Shutdown.
	// Each child brings its own StartFunc to StartChild.
	Template ChildSpec
	Reporter Reporter // nil: no reports
}

// Supervisor is a running supervisor. It is itself a Proc, so it can be the
// child of another supervisor (see Supervise).
type Supervisor struct {
	spec    Spec
	rep     Reporter
	exit    ExitFunc
	started time.Time
	// ctx bounds the starts the supervisor makes on its own (restarts); it
	// is cancelled when the supervisor ends.
	ctx    context.Context
	cancel context.CancelFunc

	wake      chan struct{} // capacity 1: "the queue has events"
	stopCh    chan struct{}
	stopOnce  sync.Once
	crashCh   chan struct{}
	crashOnce sync.Once
	done      chan struct{}

	mu         sync.Mutex
	children   []*child
	queue      []event // bounded by the number of children: each run exits once
	in         intensity
	restarts   int
	storming   bool
	stormTimer *time.Timer
	state      string
	err        error

	dyn *dynamic
}

// child is a static child; cur is its current run, nil when not running.
type child struct {
	spec      ChildSpec
	cur       *run
	startedAt time.Time
	restarts  int
}

// run is one incarnation of a static child.
type run struct {
	proc   Proc
	done   chan struct{} // closed when this run exited
	reason error         // valid once done is closed
}

// event is something for the supervisor goroutine to handle.
type event struct {
	c      *child // a static child's run ended
	r      *run
	d      *dynChild // a dynamic child ended
	reason error
	storm  bool   // re-check the restart storm
	call   func() // AddChild, DeleteChild: run on the supervisor goroutine
}

// Supervise makes a StartFunc that starts a supervisor for spec, so that it
// can be a child of another supervisor. onStart, if not nil, is told of each
// new incarnation (for the service to find, say, the current phones
// supervisor after a restart).
func Supervise(spec Spec, onStart func(*Supervisor)) StartFunc {
	return func(ctx context.Context, exit ExitFunc) (Proc, error) {
		s, err := Start(ctx, spec, exit)
		if err != nil {
			return nil, err
		}
		if onStart != nil {
			onStart(s)
		}
		return s, nil
	}
}

// Start starts a supervisor and its static children, in order, before it
// returns. A child that fails to start stops the ones started before it (in
// reverse order) and fails Start. exit, if not nil, is called once when the
// supervisor ends: ErrShutdown after Stop, an *IntensityError if it gave up.
func Start(ctx context.Context, spec Spec, exit ExitFunc) (*Supervisor, error) {
	if err := validate(spec); err != nil {
		return nil, err
	}
	if exit == nil {
		exit = func(error) {}
	}
	rep := spec.Reporter
	if rep == nil {
		rep = nopReporter{}
	}
	s := &Supervisor{
		spec: spec, rep: rep, exit: exit, started: time.Now(),
		wake: make(chan struct{}, 1), stopCh: make(chan struct{}), crashCh: make(chan struct{}), done: make(chan struct{}),
		in:    intensity{max: spec.MaxRestarts, period: time.Duration(spec.MaxSeconds) * time.Second},
		state: "starting",
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if spec.Strategy == SimpleOneForOne {
		s.dyn = newDynamic(s)
	}
	for _, cs := range spec.Children {
		c := &child{spec: cs}
		s.children = append(s.children, c)
		if err := s.startChild(ctx, c); err != nil {
			s.terminateAll()
			s.cancel()
			return nil, fmt.Errorf("supervisor %s: %w", spec.Name, err)
		}
	}
	s.setState("running")
	go s.loop()
	return s, nil
}

func validate(spec Spec) error {
	if spec.Name == "" {
		return errors.New("supervisor needs a name")
	}
	if spec.MaxRestarts < 0 || spec.MaxSeconds <= 0 {
		return fmt.Errorf("supervisor %s: intensity needs MaxRestarts >= 0 and MaxSeconds > 0", spec.Name)
	}
	if spec.Strategy == SimpleOneForOne {
		if len(spec.Children) > 0 {
			return fmt.Errorf("supervisor %s: simple_one_for_one takes a Template, not Children", spec.Name)
		}
		return nil
	}
	seen := map[string]bool{}
	for _, c := range spec.Children {
		if c.Name == "" || c.Start == nil || seen[c.Name] {
			return fmt.Errorf("supervisor %s: child %q needs a unique name and a Start", spec.Name, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Run starts a supervisor and blocks until ctx is done (then stops it and
// returns nil) or the supervisor gives up (then returns why).
func Run(ctx context.Context, spec Spec) error {
	s, err := Start(ctx, spec, nil)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		s.Stop()
		<-s.done
		return nil
	case <-s.done:
		return s.Err()
	}
}

// Name is the supervisor's name.
func (s *Supervisor) Name() string { return s.spec.Name }

// Stop asks the supervisor to stop its children in reverse order and end.
// It does not block; Done tells when it has ended.
func (s *Supervisor) Stop() { s.stopOnce.Do(func() { close(s.stopCh) }) }

// Crash ends the supervisor abnormally, with ErrKilled, after stopping its
// children as Stop does (OTP's exit(Sup, kill), for fault injection): its
// parent restarts it as it would any crashed child.
func (s *Supervisor) Crash() { s.crashOnce.Do(func() { close(s.crashCh) }) }

// AddChild starts a new static child after the others and keeps it (OTP's
// supervisor:start_child on a supervisor that is not simple_one_for_one),
// on the supervisor's goroutine, so that it never races a restart.
func (s *Supervisor) AddChild(ctx context.Context, spec ChildSpec) error {
	if s.dyn != nil {
		return errors.New("AddChild on a simple_one_for_one supervisor: use StartChild")
	}
	if spec.Name == "" || spec.Start == nil {
		return fmt.Errorf("supervisor %s: child %q needs a name and a Start", s.spec.Name, spec.Name)
	}
	return s.callLoop(ctx, func() error {
		s.mu.Lock()
		for _, c := range s.children {
			if c.spec.Name == spec.Name {
				s.mu.Unlock()
				return fmt.Errorf("supervisor %s: child %q exists", s.spec.Name, spec.Name)
			}
		}
		c := &child{spec: spec}
		s.children = append(s.children, c)
		s.mu.Unlock()
		if err := s.startChild(ctx, c); err != nil {
			s.removeChild(c)
			return err
		}
		return nil
	})
}

// DeleteChild stops the static child name and forgets it (OTP's
// terminate_child then delete_child).
func (s *Supervisor) DeleteChild(ctx context.Context, name string) error {
	return s.callLoop(ctx, func() error {
		s.mu.Lock()
		var found *child
		for _, c := range s.children {
			if c.spec.Name == name {
				found = c
			}
		}
		s.mu.Unlock()
		if found == nil {
			return fmt.Errorf("%w: %s", ErrNoChild, name)
		}
		s.terminate(found)
		s.removeChild(found)
		return nil
	})
}

// callLoop runs fn on the supervisor goroutine and returns its error.
func (s *Supervisor) callLoop(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	s.post(event{call: func() { res <- fn() }})
	select {
	case err := <-res:
		return err
	case <-s.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the supervisor has ended.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Err is why the supervisor ended: nil after Stop, an *IntensityError if it
// gave up. Valid once Done is closed.
func (s *Supervisor) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Supervisor) setState(st string) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// post queues an event for the supervisor goroutine; it never blocks.
func (s *Supervisor) post(ev event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Supervisor) loop() {
	for {
		select {
		case <-s.stopCh:
			s.finish(ErrShutdown)
			return
		case <-s.crashCh:
			s.finish(ErrKilled)
			return
		case <-s.wake:
			s.mu.Lock()
			evs := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, ev := range evs {
				if err := s.handle(ev); err != nil {
					s.rep.GaveUp(s.spec.Name, err)
					s.finish(err)
					return
				}
			}
		}
	}
}

// finish stops every child and ends the supervisor with reason.
func (s *Supervisor) finish(reason error) {
	s.setState("stopping")
	if s.dyn != nil {
		s.dyn.stopAll()
	}
	s.terminateAll()
	s.cancel()
	s.mu.Lock()
	if s.stormTimer != nil {
		s.stormTimer.Stop()
	}
	stormEnds := s.storming
	s.storming = false
	s.state = "stopped"
	if !IsNormal(reason) {
		s.state = "failed"
		s.err = reason
	}
	s.mu.Unlock()
	// Reports first: whoever waits on done must see the storm over.
	if stormEnds {
		s.rep.RestartStorm(s.spec.Name, false)
	}
	close(s.done)
	s.exit(reason)
}

func (s *Supervisor) handle(ev event) error {
	switch {
	case ev.call != nil:
		ev.call()
		return nil
	case ev.storm:
		s.checkStorm()
		return nil
	case ev.d != nil:
		return s.dyn.handleExit(ev.d, ev.reason)
	}
	c := ev.c
	s.mu.Lock()
	if c.cur != ev.r { // a run we stopped on purpose, or an old one
		s.mu.Unlock()
		return nil
	}
	c.cur = nil
	s.mu.Unlock()
	s.rep.ChildExited(s.spec.Name, c.spec.Name, false, ev.reason)
	if !c.spec.Restart.restarts(ev.reason) {
		if c.spec.Restart == Temporary {
			s.removeChild(c)
		}
		return nil
	}
	return s.restart(c, ev.reason)
}

// startChild starts one run of a static child.
func (s *Supervisor) startChild(ctx context.Context, c *child) error {
	r := &run{done: make(chan struct{})}
	var once sync.Once
	exit := func(reason error) {
		once.Do(func() {
			r.reason = reason
			close(r.done)
			s.post(event{c: c, r: r, reason: reason})
		})
	}
	var proc Proc
	err := Protect(func() (err error) {
		proc, err = c.spec.Start(ctx, exit)
		return err
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", c.spec.Name, err)
	}
	r.proc = proc
	s.mu.Lock()
	c.cur = r
	c.startedAt = time.Now()
	s.mu.Unlock()
	s.rep.ChildStarted(s.spec.Name, c.spec.Name, false)
	return nil
}

// terminate stops a static child and waits up to its shutdown time.
func (s *Supervisor) terminate(c *child) {
	s.mu.Lock()
	r := c.cur
	c.cur = nil
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.proc.Stop()
	t := time.NewTimer(c.spec.shutdown())
	defer t.Stop()
	select {
	case <-r.done:
		s.rep.ChildExited(s.spec.Name, c.spec.Name, false, r.reason)
	case <-t.C:
		s.rep.Abandoned(s.spec.Name, c.spec.Name, 1, c.spec.shutdown())
	}
}

// terminateAll stops the static children in reverse start order.
func (s *Supervisor) terminateAll() { s.terminateFrom(0) }

// terminateFrom stops children[i:] in reverse order; temporary children
// stopped this way are removed, as OTP does.
func (s *Supervisor) terminateFrom(i int) {
	s.mu.Lock()
	tail := append([]*child(nil), s.children[i:]...)
	s.mu.Unlock()
	for j := len(tail) - 1; j >= 0; j-- {
		s.terminate(tail[j])
		if tail[j].spec.Restart == Temporary {
			s.removeChild(tail[j])
		}
	}
}

// startFrom starts the children from index i that are not running, in
// order; on a failure it stops those it started and returns the error.
func (s *Supervisor) startFrom(i int) ([]*child, error) {
	s.mu.Lock()
	tail := append([]*child(nil), s.children[i:]...)
	s.mu.Unlock()
	var started []*child
	for _, c := range tail {
		if c.cur != nil {
			continue
		}
		if err := s.startChild(s.ctx, c); err != nil {
			for j := len(started) - 1; j >= 0; j-- {
				s.terminate(started[j])
			}
			return nil, err
		}
		started = append(started, c)
	}
	return started, nil
}

func (s *Supervisor) removeChild(c *child) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.children {
		if x == c {
			s.children = append(s.children[:i:i], s.children[i+1:]...)
			return
		}
	}
}

func (s *Supervisor) indexOf(c *child) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.children {
		if x == c {
			return i
		}
	}
	return -1
}

// restart applies the strategy after c exited abnormally (or permanently).
// A restart whose start fails counts as another restart and is tried again,
// until it works or the intensity is exceeded.
func (s *Supervisor) restart(c *child, reason error) error {
	for {
		if err := s.allowRestart(c.spec.Name, reason); err != nil {
			return err
		}
		var started []*child
		var err error
		switch s.spec.Strategy {
		case OneForOne:
			if err = s.startChild(s.ctx, c); err == nil {
				started = []*child{c}
			}
		case OneForAll:
			s.terminateFrom(0)
			started, err = s.startFrom(0)
		case RestForOne:
			i := s.indexOf(c)
			s.terminateFrom(i + 1)
			started, err = s.startFrom(i)
		}
		if err == nil {
			s.mu.Lock()
			s.restarts++
			for _, x := range started {
				x.restarts++
			}
			n := s.in.inWindow(time.Now())
			s.mu.Unlock()
			for _, x := range started {
				s.rep.ChildRestarted(s.spec.Name, x.spec.Name, n, s.spec.MaxRestarts)
			}
			return nil
		}
		reason = err
		s.rep.ChildExited(s.spec.Name, c.spec.Name, false, err)
	}
}

// allowRestart counts a restart against the intensity; past it, the
// supervisor gives up with an *IntensityError.
func (s *Supervisor) allowRestart(childName string, reason error) error {
	now := time.Now()
	s.mu.Lock()
	ok := s.in.add(now)
	stormStarts := ok && !s.storming && s.in.storm(now)
	if stormStarts {
		s.storming = true
		s.scheduleStormCheck()
	}
	s.mu.Unlock()
	if stormStarts {
		s.rep.RestartStorm(s.spec.Name, true)
	}
	if !ok {
		return &IntensityError{Supervisor: s.spec.Name, Child: childName,
			MaxRestarts: s.spec.MaxRestarts, MaxSeconds: s.spec.MaxSeconds, LastExit: reason}
	}
	return nil
}

// scheduleStormCheck arranges for the storm to be re-checked when the
// oldest restart leaves the window. Called with s.mu held.
func (s *Supervisor) scheduleStormCheck() {
	at, ok := s.in.nextExpiry()
	if !ok {
		return
	}
	if s.stormTimer != nil {
		s.stormTimer.Stop()
	}
	s.stormTimer = time.AfterFunc(time.Until(at), func() { s.post(event{storm: true}) })
}

func (s *Supervisor) checkStorm() {
	s.mu.Lock()
	ended := s.storming && !s.in.storm(time.Now())
	if ended {
		s.storming = false
	} else if s.storming {
		s.scheduleStormCheck()
	}
	s.mu.Unlock()
	if ended {
		s.rep.RestartStorm(s.spec.Name, false)
	}
}

// Tree shows the supervisor and its children.
func (s *Supervisor) Tree() Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := s.started
	n := Node{
		Name: s.spec.Name, Kind: SupervisorKind.String(), Strategy: s.spec.Strategy.String(),
		MaxRestarts: s.spec.MaxRestarts, MaxSeconds: s.spec.MaxSeconds,
		State: s.state, Restarts: s.restarts, StartedAt: &started,
	}
	for _, c := range s.children {
		n.Children = append(n.Children, c.node())
	}
	if s.dyn != nil {
		count := s.dyn.count()
		n.Count = &count
		n.Restarts = s.restarts
	}
	return n
}

func (c *child) node() Node {
	n := Node{Name: c.spec.Name, Kind: c.spec.Kind.String(), State: "stopped"}
	if c.cur != nil {
		if t, ok := c.cur.proc.(Treer); ok {
			n = t.Tree()
			n.Name = c.spec.Name
		}
		n.State = "running"
		at := c.startedAt
		n.StartedAt = &at
	}
	n.Restart = c.spec.Restart.String()
	n.Restarts = c.restarts
	return n
}
