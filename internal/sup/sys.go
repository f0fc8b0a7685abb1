package sup

import (
	"sync"
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

// Sys is the book's sys bookkeeping, the one implementation every process
// uses, goroutine or light: messages in and out, the last DefaultLogSize
// events handled, and the trace switch. E is how the process notes an
// event: a light process keeps a few compact words per event (a million
// of them are attached) and renders them only when inspected. The log is
// made on the first event, so an idle process pays for none of it. The
// zero value is ready. Sys has no lock of its own: its owner guards it
// (a light process with its Light's lock; Stats with a mutex).
type Sys[E any] struct {
	in, out uint32
	trace   bool
	full    bool
	next    uint8
	ring    *[DefaultLogSize]E
}

// Handled counts an incoming message and logs e; it tells whether tracing
// is on, for the caller to write the trace line it knows how to render.
func (s *Sys[E]) Handled(e E) (trace bool) {
	s.in++
	if s.ring == nil {
		s.ring = new([DefaultLogSize]E)
	}
	s.ring[s.next] = e
	if s.next++; s.next == DefaultLogSize {
		s.next, s.full = 0, true
	}
	return s.trace
}

// Sent counts an outgoing message and tells whether tracing is on.
func (s *Sys[E]) Sent() (trace bool) {
	s.out++
	return s.trace
}

// SetTrace switches tracing on or off.
func (s *Sys[E]) SetTrace(on bool) { s.trace = on }

// Info is the process's introspection: its counts, trace switch and log
// (oldest first, each note rendered by render), with the name, start,
// status and state its caller knows.
func (s *Sys[E]) Info(name, status, state string, started time.Time, render func(E) Event) Info {
	var notes []E
	if s.ring != nil {
		if s.full {
			notes = append(notes, s.ring[s.next:]...)
		}
		notes = append(notes, s.ring[:s.next]...)
	}
	info := Info{Name: name, Status: status, StartedAt: started, MessagesIn: uint64(s.in), MessagesOut: uint64(s.out),
		State: state, Trace: s.trace, Log: make([]Event, 0, len(notes))}
	for _, n := range notes {
		info.Log = append(info.Log, render(n))
	}
	return info
}

// Stats is Sys for a goroutine process whose events are already words:
// it logs the trace lines itself. It is safe for concurrent use.
type Stats struct {
	name    string
	started time.Time
	log     zerolog.Logger
	mu      sync.Mutex
	sys     Sys[Event]
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
	s.mu.Lock()
	trace := s.sys.Handled(Event{At: time.Now(), Kind: kind, Detail: detail})
	s.mu.Unlock()
	if trace {
		s.log.Info().Str("process", s.name).Str("event", kind).Str("detail", detail).Msg("trace in")
	}
}

// Sent counts one outgoing message (a reply or an event to another process).
func (s *Stats) Sent(kind, detail string) {
	s.mu.Lock()
	trace := s.sys.Sent()
	s.mu.Unlock()
	if trace {
		s.log.Info().Str("process", s.name).Str("event", kind).Str("detail", detail).Msg("trace out")
	}
}

// SetTrace switches tracing on or off.
func (s *Stats) SetTrace(on bool) {
	s.mu.Lock()
	s.sys.SetTrace(on)
	s.mu.Unlock()
}

// Info returns the process status with the given state description.
func (s *Stats) Info(state string) Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sys.Info(s.name, "running", state, s.started, func(e Event) Event { return e })
}
