package overload

import (
	"fmt"
	"time"
)

// Kind is the kind of an overload event, as in the book's freq_overload.
type Kind int

const (
	SetAlarm   Kind = iota // set_alarm{id, source}
	ClearAlarm             // clear_alarm{id}; with a source, only that source's
	Notice                 // event{name, source}
)

var kindNames = [...]string{"set_alarm", "clear_alarm", "event"}

// String never panics: a bad Kind must still print in the log line that
// reports it.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Event is one message to the overload manager. ID is the alarm id for
// SetAlarm/ClearAlarm and the event name for Notice.
type Event struct {
	Kind   Kind
	ID     string
	Source string
	At     time.Time
}

// valid tells whether the manager can handle e: a known kind and an id.
func (e Event) valid() bool {
	return e.Kind >= SetAlarm && e.Kind <= Notice && e.ID != ""
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
