package sup

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// A simple_one_for_one supervisor keeps its children in a sharded map and
// starts and stops them on the caller's goroutine: the supervisor goroutine
// only sees exits that call for a restart. That is what keeps it from being
// the bottleneck with a million children (the book's phone supervisor
// serialises every start_child through one process).

const dynShards = 64

type dynamic struct {
	s      *Supervisor
	shards [dynShards]dynShard
	nextID atomic.Uint64
	// live counts children started and not yet exited (or abandoned).
	live     atomic.Int64
	stopping atomic.Bool
	allDone  chan struct{} // made before stopping is set; closed when live reaches 0
	doneOnce sync.Once
}

type dynShard struct {
	mu sync.Mutex
	m  map[uint64]*dynChild
	_  [48]byte // keep shards on separate cache lines
}

// dynChild is one incarnation of a dynamic child; a restart makes a new one
// with the same id.
type dynChild struct {
	id        uint64
	start     StartFunc
	proc      Proc // nil while starting
	startedAt int64
	restarts  int32
	exited    bool
	noRestart bool          // TerminateChild asked for this stop
	waiter    chan struct{} // made by TerminateChild, closed on exit
}

func newDynamic(s *Supervisor) *dynamic {
	d := &dynamic{s: s}
	for i := range d.shards {
		d.shards[i].m = make(map[uint64]*dynChild)
	}
	return d
}

func (d *dynamic) shard(id uint64) *dynShard { return &d.shards[id%dynShards] }

func (d *dynamic) count() int { return int(d.live.Load()) }

// StartChild starts a dynamic child of a simple_one_for_one supervisor on
// the caller's goroutine and returns its id. On a restart the supervisor
// calls start again, under the same id.
func (s *Supervisor) StartChild(ctx context.Context, start StartFunc) (uint64, error) {
	if s.dyn == nil {
		return 0, ErrNotDynamic
	}
	id := s.dyn.nextID.Add(1)
	return id, s.dyn.start(ctx, &dynChild{id: id, start: start})
}

func (d *dynamic) start(ctx context.Context, c *dynChild) error {
	d.live.Add(1)
	if d.stopping.Load() {
		d.dec()
		return ErrNotRunning
	}
	c.startedAt = time.Now().UnixNano()
	sh := d.shard(c.id)
	sh.mu.Lock()
	sh.m[c.id] = c
	sh.mu.Unlock()

	var proc Proc
	err := Protect(func() (err error) {
		proc, err = c.start(ctx, func(reason error) { d.exit(c, reason) })
		return err
	})
	if err != nil {
		sh.mu.Lock()
		if sh.m[c.id] == c {
			delete(sh.m, c.id)
		}
		sh.mu.Unlock()
		d.dec()
		return err
	}
	sh.mu.Lock()
	c.proc = proc
	sh.mu.Unlock()
	d.s.rep.ChildStarted(d.s.spec.Name, d.s.spec.Template.Name, true)
	if d.stopping.Load() { // raced with stopAll's snapshot
		proc.Stop()
	}
	return nil
}

func (d *dynamic) exit(c *dynChild, reason error) {
	sh := d.shard(c.id)
	sh.mu.Lock()
	if c.exited {
		sh.mu.Unlock()
		return
	}
	c.exited = true
	if sh.m[c.id] == c {
		delete(sh.m, c.id)
	}
	w, noRestart := c.waiter, c.noRestart
	sh.mu.Unlock()
	d.s.rep.ChildExited(d.s.spec.Name, d.s.spec.Template.Name, true, reason)
	// Counted out before its restart is asked for (or the count would hold
	// the child and its next incarnation a moment) and before
	// TerminateChild's waiter is told: who waited sees the child gone from
	// the count too.
	d.dec()
	if !noRestart && !d.stopping.Load() && d.s.spec.Template.Restart.restarts(reason) {
		d.s.post(event{d: c, reason: reason})
	}
	if w != nil {
		close(w)
	}
}

func (d *dynamic) dec() {
	if d.live.Add(-1) == 0 && d.stopping.Load() {
		d.doneOnce.Do(func() { close(d.allDone) })
	}
}

// handleExit restarts a dynamic child, on the supervisor goroutine.
func (d *dynamic) handleExit(c *dynChild, reason error) error {
	name := d.s.spec.Template.Name
	for {
		if d.stopping.Load() {
			return nil
		}
		if err := d.s.allowRestart(name, reason); err != nil {
			return err
		}
		err := d.start(d.s.ctx, &dynChild{id: c.id, start: c.start, restarts: c.restarts + 1})
		if err == nil {
			d.s.mu.Lock()
			d.s.restarts++
			n := d.s.in.inWindow(time.Now())
			d.s.mu.Unlock()
			d.s.rep.ChildRestarted(d.s.spec.Name, name, n, d.s.spec.MaxRestarts)
			return nil
		}
		if errors.Is(err, ErrNotRunning) {
			return nil
		}
		reason = err
		d.s.rep.ChildExited(d.s.spec.Name, name, true, err)
	}
}

// TerminateChild stops a dynamic child normally and waits for it, up to the
// template's shutdown time (then it is abandoned). It is not restarted.
func (s *Supervisor) TerminateChild(ctx context.Context, id uint64) error {
	if s.dyn == nil {
		return ErrNotDynamic
	}
	d := s.dyn
	sh := d.shard(id)
	sh.mu.Lock()
	c := sh.m[id]
	if c == nil || c.proc == nil {
		sh.mu.Unlock()
		return ErrNoChild
	}
	c.noRestart = true
	if c.waiter == nil {
		c.waiter = make(chan struct{})
	}
	w, proc := c.waiter, c.proc
	sh.mu.Unlock()

	proc.Stop()
	shutdown := s.spec.Template.shutdown()
	t := time.NewTimer(shutdown)
	defer t.Stop()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		sh.mu.Lock()
		abandon := !c.exited
		if abandon {
			c.exited = true
			delete(sh.m, id)
		}
		sh.mu.Unlock()
		if abandon {
			d.dec()
			s.rep.Abandoned(s.spec.Name, s.spec.Template.Name, 1, shutdown)
		}
		return nil
	}
}

// CountChildren is the number of running dynamic children.
func (s *Supervisor) CountChildren() int {
	if s.dyn == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for _, c := range s.children {
			if c.cur != nil {
				n++
			}
		}
		return n
	}
	return s.dyn.count()
}

// ChildInfo describes a dynamic child.
type ChildInfo struct {
	ID        uint64
	StartedAt time.Time
	Restarts  int
}

// EachChild calls fn for each running dynamic child, shard by shard, until
// fn returns false. Children started or stopped meanwhile may or may not be
// seen.
func (s *Supervisor) EachChild(fn func(ChildInfo) bool) {
	if s.dyn == nil {
		return
	}
	for i := range s.dyn.shards {
		sh := &s.dyn.shards[i]
		sh.mu.Lock()
		infos := make([]ChildInfo, 0, len(sh.m))
		for _, c := range sh.m {
			if c.proc != nil {
				infos = append(infos, ChildInfo{ID: c.id, StartedAt: time.Unix(0, c.startedAt), Restarts: int(c.restarts)})
			}
		}
		sh.mu.Unlock()
		for _, in := range infos {
			if !fn(in) {
				return
			}
		}
	}
}

// stopAll asks every dynamic child to stop at once and waits for them all,
// up to the template's shutdown time; the rest are abandoned.
func (d *dynamic) stopAll() {
	d.allDone = make(chan struct{})
	d.stopping.Store(true)
	if d.live.Load() == 0 {
		return
	}
	var procs []Proc
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for _, c := range sh.m {
			if c.proc != nil {
				procs = append(procs, c.proc)
			}
		}
		sh.mu.Unlock()
	}
	for _, p := range procs {
		p.Stop()
	}
	shutdown := d.s.spec.Template.shutdown()
	t := time.NewTimer(shutdown)
	defer t.Stop()
	select {
	case <-d.allDone:
	case <-t.C:
		if n := d.live.Load(); n > 0 {
			d.s.rep.Abandoned(d.s.spec.Name, d.s.spec.Template.Name, int(n), shutdown)
		}
	}
}
