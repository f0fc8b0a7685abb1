// Package overload is the overload event manager, the book's freq_overload:
// an event manager with pluggable handlers (Erlang's gen_event), which the
// sources of trouble notify. Its behaviour is docs/domain.md §4; the alarms
// the service raises through it are in docs/operations.md.
//
// Events are set_alarm{id, source}, clear_alarm{id} and event{name, source}
// (a notice). A source holds a Notifier, whose Notify never blocks it. The
// Manager is one supervised process: a goroutine owning a bounded mailbox
// and an ordered list of Handlers, which runs each event through them one
// at a time, in order. A handler that panics or fails is removed and
// reported; the others carry on. Handlers are listed, added, deleted and
// swapped at run time, a swap handing the old handler's state to the new one
// between two events. The built-in handlers are counters (events by kind),
// logger (numbered zerolog JSON records, to stdout or a file) and alarms
// (the active alarms, their gauge and counters, and their durable history,
// written by a goroutine of the manager's own so that a slow database never
// holds the events up; its log lines are rate-limited per alarm).
//
// Nothing is unbounded, and no alarm change is lost: a notice that finds the
// mailbox full is dropped and counted, but an alarm event cannot be (a
// source raises or clears an alarm once, when its state changes), so it
// waits in an overflow by alarm id, where a waiting set and the clear after
// it cancel out. A restart is a new Manager: handlers and counters start
// afresh, while the metrics and the durable history outlive it.
//
// To read it: Event and Notifier; the Manager (start, its loop, Notify and
// the overflow, the calls it runs inside its loop); the Handler interface
// and the three built-ins; then the history writer and the alarm log limit.
package overload
