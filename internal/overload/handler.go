package overload

// Handler is a pluggable event handler, the book's gen_event callback
// module. The manager calls it from its own goroutine only, one event at a
// time, so a handler needs no locking.
type Handler interface {
	// Name identifies the handler; names are unique within a manager.
	Name() string
	// Handle processes one event. A panic or an error removes the handler.
	Handle(Event) error
	// Terminate is called once, when the handler leaves the manager
	// (deleted, swapped out, failed, or the manager ended). It releases what
	// the handler holds and returns the state a successor installed by a
	// swap continues from.
	Terminate() any
}

// HandlerInfo describes an installed handler.
type HandlerInfo struct {
	Name   string `json:"name"`
	Target string `json:"target,omitempty"`
}

// The built-in handlers, installed in this order at start.
const (
	HandlerCounters = "counters"
	HandlerLogger   = "logger"
	HandlerAlarms   = "alarms"
)

var builtinNames = []string{HandlerCounters, HandlerLogger, HandlerAlarms}

// builtin is a handler the manager can build by name and swap: the
// successor is built first (so a bad target leaves the old one in place),
// then resumes from the predecessor's Terminate.
type builtin interface {
	Handler
	resume(state any)
}

// targeted is a handler that writes somewhere (the logger).
type targeted interface {
	Target() string
}

// counters counts events by Key; its state is the count map.
type counters struct {
	n map[string]uint64
}

func newCounters() *counters { return &counters{n: map[string]uint64{}} }

func (c *counters) Name() string { return HandlerCounters }

func (c *counters) Handle(e Event) error {
	c.n[e.Key()]++
	return nil
}

func (c *counters) Terminate() any { return c.n }

func (c *counters) resume(state any) {
	if n, ok := state.(map[string]uint64); ok {
		c.n = n
	}
}

func (c *counters) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
