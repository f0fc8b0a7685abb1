package sup

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// DefaultLogSize is how many handled events a process remembers, like the
// book's sys:log default of 10.
const DefaultLogSize = 10

// Info is what a process tells about itself: the book's sys:get_status and
// sys:statistics in one answer.
type Info struct {
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"started_at"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	State       string    `json:"state"`
	Log         []Event   `json:"log"`
	Trace       bool      `json:"trace"`
}

// Event is one handled message in a process's log.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// Inspector is implemented by processes that answer introspection.
type Inspector interface {
	Inspect() Info
}

// Tracer is implemented by processes whose tracing can be switched at run
// time (the book's sys:trace).
type Tracer interface {
	SetTrace(on bool)
}

// Stats is the bookkeeping a process embeds to answer Inspect and SetTrace:
// message counters, the last DefaultLogSize handled events, a trace switch.
// It is safe for concurrent use; the hot path is two atomics and a short
// critical section.
type Stats struct {
	name    string
	started time.Time
	log     zerolog.Logger

	in, out atomic.Uint64
	trace   atomic.Bool

	mu     sync.Mutex
	ring   [DefaultLogSize]Event
	next   int
	filled bool
}

// NewStats starts the bookkeeping of a process called name.
func NewStats(name string, log zerolog.Logger) *Stats {
	return &Stats{name: name, started: time.Now(), log: log}
}

// Name is the process name.
func (s *Stats) Name() string { return s.name }

// StartedAt is when the process started.
func (s *Stats) StartedAt() time.Time { return s.started }

// Handled counts one incoming message and records it in the event log; with
// tracing on it is also logged.
func (s *Stats) Handled(kind, detail string) {
	s.in.Add(1)
	ev := Event{At: time.Now(), Kind: kind, Detail: detail}
	s.mu.Lock()
	s.ring[s.next] = ev
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.filled = true
	}
	s.mu.Unlock()
	if s.trace.Load() {
		s.log.Info().Str("process", s.name).Str("event", kind).Str("detail", detail).Msg("trace in")
	}
}

// Sent counts one outgoing message (a reply or an event to another process).
func (s *Stats) Sent(kind, detail string) {
	s.out.Add(1)
	if s.trace.Load() {
		s.log.Info().Str("process", s.name).Str("event", kind).Str("detail", detail).Msg("trace out")
	}
}

// SetTrace switches tracing on or off.
func (s *Stats) SetTrace(on bool) { s.trace.Store(on) }

// Info returns the process status with the given state description.
func (s *Stats) Info(state string) Info {
	s.mu.Lock()
	var events []Event
	if s.filled {
		events = append(events, s.ring[s.next:]...)
	}
	events = append(events, s.ring[:s.next]...)
	s.mu.Unlock()
	if events == nil {
		events = []Event{}
	}
	return Info{
		Name:        s.name,
		Status:      "running",
		StartedAt:   s.started,
		MessagesIn:  s.in.Load(),
		MessagesOut: s.out.Load(),
		State:       state,
		Log:         events,
		Trace:       s.trace.Load(),
	}
}
