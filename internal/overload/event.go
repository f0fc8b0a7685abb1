package overload

import "time"

// Kind is the kind of an overload event, as in the book's freq_overload.
type Kind int

const (
	SetAlarm   Kind = iota // set_alarm{id, source}
	ClearAlarm             // clear_alarm{id}
	Notice                 // event{name, source}
)

func (k Kind) String() string {
	return [...]string{"set_alarm", "clear_alarm", "event"}[k]
}

// Event is one message to the overload manager. ID is the alarm id for
// SetAlarm/ClearAlarm and the event name for Notice.
type Event struct {
	Kind   Kind
	ID     string
	Source string
	At     time.Time
}

// Key is the counter key of an event, e.g. "set_alarm:no_frequency".
func (e Event) Key() string { return e.Kind.String() + ":" + e.ID }

// Notifier is what event sources (the allocator, supervisors, load
// regulation) hold: Notify never blocks the sender.
type Notifier interface {
	Notify(Event)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(Event)

// Notify calls f.
func (f NotifierFunc) Notify(e Event) { f(e) }
