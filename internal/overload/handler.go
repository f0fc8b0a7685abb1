package overload

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

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

// stdout is the logger target that writes to the process's standard output.
const stdout = "stdout"

// logger writes each event as a JSON line numbered from 1; its state is the
// number of the next record, so a swap to another target goes on counting.
type logger struct {
	target string
	w      io.Writer
	file   *os.File // nil for stdout, which is not ours to close
	next   uint64
}

type logRecord struct {
	ID    uint64    `json:"id"`
	Time  time.Time `json:"time"`
	Event logEvent  `json:"event"`
}

type logEvent struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Source string `json:"source,omitempty"`
}

// openLogger opens target ("" or "stdout", or a file appended to).
func openLogger(target string) (*logger, error) {
	if target == "" || target == stdout {
		return &logger{target: stdout, w: os.Stdout, next: 1}, nil
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTarget, err)
	}
	return &logger{target: target, w: f, file: f, next: 1}, nil
}

func (l *logger) Name() string { return HandlerLogger }

func (l *logger) Target() string { return l.target }

func (l *logger) Handle(e Event) error {
	line, err := json.Marshal(logRecord{
		ID:    l.next,
		Time:  e.At,
		Event: logEvent{Kind: e.Kind.String(), ID: e.ID, Source: e.Source},
	})
	if err != nil {
		return err
	}
	l.next++
	// One write per record, so a concurrent reader of the file never sees
	// half a line.
	if _, err := l.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", l.target, err)
	}
	return nil
}

func (l *logger) Terminate() any {
	if l.file != nil {
		l.file.Close()
	}
	return l.next
}

func (l *logger) resume(state any) {
	if n, ok := state.(uint64); ok {
		l.next = n
	}
}
