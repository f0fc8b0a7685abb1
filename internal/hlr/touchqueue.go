package hlr

import (
	"sync"
	"time"
)

// touch is an MSISDN's pending times, unix nanoseconds, 0 for none.
type touch struct{ attach, detach int64 }

func (t touch) merge(o touch) touch { return touch{max(t.attach, o.attach), max(t.detach, o.detach)} }

// apply puts t into sub where it is later than what sub has.
func (t touch) apply(sub *Subscriber) {
	sub.LastAttachAt = later(sub.LastAttachAt, t.attach)
	sub.LastDetachAt = later(sub.LastDetachAt, t.detach)
}

// later is the later of stored and pending (unix nanoseconds, 0 for none).
func later(stored time.Time, pending int64) time.Time {
	if pending != 0 && (stored.IsZero() || pending > stored.UnixNano()) {
		return fromNanos(pending)
	}
	return stored
}

// touchQueue is the coalescing queue between Touch and the writer.
type touchQueue struct {
	mu       sync.Mutex
	limit    int
	pending  map[MSISDN]touch
	order    []MSISDN // pending's keys, oldest first, a ring starting at head
	head     int
	inflight map[MSISDN]touch // taken by the writer and not yet written
	dropped  uint64
	closed   bool
	wake     chan struct{} // the writer's signal that pending is not empty
}

func (q *touchQueue) init(limit int) {
	q.limit = limit
	q.pending = make(map[MSISDN]touch)
	q.order = make([]MSISDN, limit)
	q.wake = make(chan struct{}, 1)
}

func (q *touchQueue) put(m MSISDN, t touch) {
	q.mu.Lock()
	if q.closed {
		q.dropped++
		q.mu.Unlock()
		return
	}
	first := len(q.pending) == 0
	old, ok := q.pending[m]
	if !ok {
		if len(q.pending) == q.limit {
			delete(q.pending, q.order[q.head])
			q.head = (q.head + 1) % q.limit
			q.dropped++
		}
		q.order[(q.head+len(q.pending))%q.limit] = m
	}
	q.pending[m] = old.merge(t)
	q.mu.Unlock()
	// Only the first update after a take needs to wake the writer: it takes
	// everything gathered by then.
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// take hands the pending updates to the writer, which gives an empty map in
// exchange, and keeps them visible to overlay until written is called.
func (q *touchQueue) take(empty map[MSISDN]touch) map[MSISDN]touch {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.pending
	q.pending, q.inflight, q.head = empty, batch, 0
	return batch
}

// written ends the batch take returned; lost of its updates were not
// written.
func (q *touchQueue) written(lost int) {
	q.mu.Lock()
	q.inflight = nil
	q.dropped += uint64(lost)
	q.mu.Unlock()
}

func (q *touchQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

func (q *touchQueue) stats() (pending int, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) + len(q.inflight), q.dropped
}

// peek is m's times not written yet.
func (q *touchQueue) peek(m MSISDN) touch {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending[m].merge(q.inflight[m])
}

// overlay puts into subs the times not written yet.
func (q *touchQueue) overlay(subs []Subscriber) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range subs {
		q.pending[subs[i].MSISDN].merge(q.inflight[subs[i].MSISDN]).apply(&subs[i])
	}
}
