package load

import "sync"

// group tracks the driver's goroutines so that stopping can wait for every
// one of them. Unlike a bare WaitGroup it refuses new members once closed,
// so a late timer or reply cannot start work after the wait began.
type group struct {
	mu     sync.Mutex
	n      int
	closed bool
	done   chan struct{} // closed when closed and n reaches 0
}

func newGroup() *group { return &group{done: make(chan struct{})} }

// enter counts the calling goroutine in; false means the group is closed
// and the caller must return at once without working.
func (g *group) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *group) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 {
		close(g.done)
	}
}

// Go runs f in a new member goroutine, unless the group is closed.
func (g *group) Go(f func()) bool {
	if !g.enter() {
		return false
	}
	go func() {
		defer g.leave()
		f()
	}()
	return true
}

// close refuses new members; Done is closed once the last one left.
func (g *group) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		if g.n == 0 {
			close(g.done)
		}
	}
}

// Done is closed when the group is closed and empty.
func (g *group) Done() <-chan struct{} { return g.done }
