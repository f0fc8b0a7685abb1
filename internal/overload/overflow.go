package overload

import (
	"slices"
	"sync"
	"sync/atomic"
)

// maxOverflowIDs bounds the overflow by the number of distinct alarm ids
// waiting in it. The service raises four alarms; hundreds at once means a
// source makes ids up, and what does not fit is dropped like a notice.
const maxOverflowIDs = 256

// overflow keeps the alarm events that found the mailbox full. They cannot
// be dropped like notices: a source raises or clears an alarm once, when
// its state changes, and never says it again, so a lost event would leave
// the alarm wrong until the next change. They wait here by alarm id, in
// order, until the loop moves them to the mailbox (see refill).
//
// For one alarm (an id and a source) only the alternation of sets and
// clears matters, which bounds what waits: a waiting set followed by a
// clear cancel out, and neither reaches the handlers (both uncounted, so
// the counters' sets and clears of the alarm stay balanced; the alarm was
// never seen up, so it has no history either); an event of the same kind
// as the one of its source waiting before it would change nothing and is
// dropped. A clear of every source undoes the sources' sets waiting after
// the last such clear. So at most a clear then a set wait per source of an
// id, around one clear of every source. The events of an id wait in one
// line, whatever their source, so that a clear without a source keeps its
// place among them.
type overflow struct {
	mu      sync.Mutex
	pending map[string][]Event // by alarm id, oldest first
	order   []string           // the ids, in the order they started waiting
	waiting atomic.Bool        // len(order) > 0, for readers without the lock
}

// outcome is what became of an event offered to the overflow.
type outcome int

const (
	queued    outcome = iota
	cancelled         // it and the waiting set(s) it undoes are gone
	duplicate         // same kind as the event waiting before it: dropped
	full              // a new id with maxOverflowIDs already waiting: dropped
)

// lastClearOfAll is the index in evs of the last clear of every source,
// -1 if none waits.
func lastClearOfAll(evs []Event) int {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == ClearAlarm && evs[i].Source == "" {
			return i
		}
	}
	return -1
}

// againstSource weighs e, an event of one source, against the last
// waiting event that speaks for that source; o.mu is held. done: e is
// dropped (a repeat) or cancelled with a set waiting; else it waits.
func (o *overflow) againstSource(e Event, evs []Event) (outcome, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		// A waiting clear without a source clears every source's alarm:
		// it is the last word for e's source too.
		if evs[i].Source != e.Source && (evs[i].Source != "" || evs[i].Kind != ClearAlarm) {
			continue
		}
		switch last := evs[i].Kind; {
		case last == e.Kind:
			return duplicate, true
		case last == SetAlarm:
			if len(evs) == 1 {
				o.forget(e.ID)
			} else {
				o.pending[e.ID] = slices.Delete(evs, i, i+1)
			}
			return cancelled, true
		}
		break
	}
	return queued, false
}

// has tells whether events of alarm id wait; o.mu is held. While they do,
// later events of id must wait behind them, even if the mailbox has room.
func (o *overflow) has(id string) bool {
	_, ok := o.pending[id]
	return ok
}

// add puts alarm event e behind those waiting for its id; o.mu is held.
func (o *overflow) add(e Event) outcome {
	evs, ok := o.pending[e.ID]
	if e.Kind == ClearAlarm && e.Source == "" {
		if j := lastClearOfAll(evs); j >= 0 {
			if j == len(evs)-1 {
				return duplicate
			}
			// Only sources' sets wait after it (a source's clear there
			// is a repeat): e clears them again, so they and e go, and
			// the clear waiting says the rest. Without this, a source
			// flapping behind a clear of every source queued without
			// bound.
			o.pending[e.ID] = evs[:j+1]
			return cancelled
		}
	} else if outcome, done := o.againstSource(e, evs); done {
		return outcome
	}
	if !ok {
		if len(o.order) == maxOverflowIDs {
			return full
		}
		if o.pending == nil {
			o.pending = map[string][]Event{}
		}
		o.order = append(o.order, e.ID)
		o.waiting.Store(true)
	}
	o.pending[e.ID] = append(evs, e)
	return queued
}

// forget removes id, nothing waiting for it any more; o.mu is held.
func (o *overflow) forget(id string) {
	delete(o.pending, id)
	o.order = slices.DeleteFunc(o.order, func(x string) bool { return x == id })
	o.waiting.Store(len(o.order) > 0)
}

// refill moves waiting alarm events to the mailbox while it has room,
// oldest id first. The loop calls it after each message, which made room;
// the events go behind everything that was in the mailbox when they had to
// wait, so each alarm's events are handled in the order they were sent.
// (Events of different alarms may overtake each other.)
func (m *Manager) refill() {
	o := &m.overflow
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.order) > 0 {
		id := o.order[0]
		evs := o.pending[id]
		for len(evs) > 0 {
			if m.mailbox.TryPost(message{event: evs[0]}) != nil {
				// Full again: the next message makes room.
				o.pending[id] = evs
				return
			}
			evs = evs[1:]
		}
		o.forget(id)
	}
}
