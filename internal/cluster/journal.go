package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// Journal publishes messages to JetStream in order without waiting (a
// phone controller hands it a call's record and goes on), and tells whoever
// must answer only once a message is stored on a quorum when it is: the
// cluster's group commit. A publish that fails is tried again, with the
// same message id (JetStream drops the duplicate if the first one was
// stored after all), until it is stored: nothing handed to the journal is
// dropped while the node runs. Tickets complete in order.
type Journal struct {
	js  jetstream.JetStream
	log zerolog.Logger
	// thenLog says a follow-up was left out; sampled: a full journal
	// leaves out many at once.
	thenLog zerolog.Logger
	max     int

	mu       sync.Mutex
	reserved int
	pending  int
	next     uint64
	failing  error
	closed   bool
	progress chan struct{} // closed, and replaced, when done or failing change

	done     atomic.Uint64
	lost     uint64        // the first ticket given up at Close, 0: none; under mu
	queue    chan *entry   // handed over, not yet published
	inflight chan *entry   // published, waiting for their acks in order
	quit     chan struct{} // closed by Close: stop retrying after ctx
	ended    chan struct{}
}

type entry struct {
	ticket uint64
	msg    *nats.Msg
	then   *nats.Msg              // handed to the journal once msg is stored; nil: none
	ack    jetstream.PubAckFuture // nil: publish again
}

// Errors of the journal.
var (
	ErrJournalFull   = errcode.New(errcode.Overloaded, "the cluster's write queue is full")
	ErrNotReplicated = errcode.New(errcode.Unavailable, "not yet stored on a quorum")
	ErrJournalClosed = errcode.New(errcode.Unavailable, "the cluster's write queue is closed")
)

// JournalSize is the messages a node's journal holds at most, those
// promised to calls in progress included (as calls.Writer's queue).
const JournalSize = 65536

// journalWindow is the most messages published and not yet acknowledged.
const journalWindow = 1024

// journalRetry bounds the wait between two tries of a failed publish.
const journalRetry = time.Second

// journalAckWait bounds the wait for a message's ack: a message the
// leader took but did not store before it stepped down or died is never
// acked, and the journal, which stores in order, would wait for it
// forever. Past it the message is published again, under its message id.
const journalAckWait = 3 * time.Second

// NewJournal starts a journal of at most max messages in flight.
func NewJournal(e *Engine, max int, log zerolog.Logger) *Journal {
	j := &Journal{js: e.JS, log: log, max: max, progress: make(chan struct{}),
		thenLog: log.Sample(&zerolog.BurstSampler{Burst: 1, Period: 10 * time.Second}),
		queue:   make(chan *entry, max), inflight: make(chan *entry, journalWindow),
		quit: make(chan struct{}), ended: make(chan struct{})}
	go j.publish()
	go j.run()
	return j
}

// Reserve promises room for n messages to come (a call's note and
// record, when the call starts); it fails with ErrJournalFull when the
// journal has not that much room.
func (j *Journal) Reserve(n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrJournalClosed
	}
	if j.reserved+j.pending+n > j.max {
		return ErrJournalFull
	}
	j.reserved += n
	return nil
}

// Publish hands msg to the journal without waiting and returns its ticket.
// reserved takes a place Reserve promised; without one, a full journal
// refuses the message.
func (j *Journal) Publish(msg *nats.Msg, reserved bool) (uint64, error) {
	return j.PublishThen(msg, nil, reserved)
}

// PublishThen is Publish, then is handed to the journal once msg is
// stored, not before, whatever tries msg took: messages to two streams
// are stored in the order their tries succeed, and a call's note must
// not be removed before its record is stored (the node dying between the
// two, the call would have no record). then takes no reserved place: a
// full or closed journal leaves it out.
func (j *Journal) PublishThen(msg, then *nats.Msg, reserved bool) (uint64, error) {
	j.mu.Lock()
	switch {
	case j.closed:
		j.mu.Unlock()
		return 0, ErrJournalClosed
	case reserved && j.reserved > 0:
		j.reserved--
	case j.reserved+j.pending >= j.max:
		j.mu.Unlock()
		return 0, ErrJournalFull
	}
	j.pending++
	j.next++
	e := &entry{ticket: j.next, msg: msg, then: then}
	j.queue <- e // never blocks: pending bounds it; under the lock, in ticket order
	j.mu.Unlock()
	return e.ticket, nil
}

// publish publishes the queued messages, at most journalWindow awaiting
// their acks (the publish blocks past JetStream's own bound, on this
// goroutine).
func (j *Journal) publish() {
	defer close(j.inflight)
	for e := range j.queue {
		select {
		case <-j.quit: // Close gave up: what is left is not published
		default:
			e.ack, _ = j.js.PublishMsgAsync(e.msg)
		}
		j.inflight <- e
	}
}

// Wait returns once the message of ticket t is stored, or fails at once
// with ErrNotReplicated while publishing fails or once Close gave it up,
// or with ctx's error.
func (j *Journal) Wait(ctx context.Context, t uint64) error { return j.wait(ctx, t, true) }

// Flush waits until every message handed to the journal so far is
// stored, and what they handed over once stored (PublishThen), through
// failed tries, until ctx ends.
func (j *Journal) Flush(ctx context.Context) error {
	for range 2 {
		j.mu.Lock()
		t := j.next
		j.mu.Unlock()
		if err := j.wait(ctx, t, false); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for ticket t; failFast: fail while publishing fails.
func (j *Journal) wait(ctx context.Context, t uint64, failFast bool) error {
	for {
		j.mu.Lock() // done and lost change together, under mu
		failing, progress, lost, done := j.failing, j.progress, j.lost, j.done.Load()
		j.mu.Unlock()
		switch {
		case lost != 0 && t >= lost:
			return fmt.Errorf("%w: given up at stop", ErrNotReplicated)
		case done >= t:
			return nil
		case failFast && failing != nil:
			return fmt.Errorf("%w: %v", ErrNotReplicated, failing)
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run waits for each message's ack in order, publishing again what failed.
func (j *Journal) run() {
	defer close(j.ended)
	for e := range j.inflight {
		stored := j.store(e)
		if stored && e.then != nil {
			// Before e is done: a Flush waiting for e sees it. Refused (the
			// journal full or closed), it is left out: said, not retried.
			if _, err := j.Publish(e.then, false); err != nil {
				j.thenLog.Warn().Err(err).Str("subject", e.then.Subject).Msg("a follow-up write left out (sampled: one line per 10 s)")
			}
		}
		j.mu.Lock()
		j.pending--
		if !stored && j.lost == 0 {
			j.lost = e.ticket
		}
		j.done.Store(e.ticket)
		j.changed(nil)
		j.mu.Unlock()
	}
}

// store waits until e is stored, trying again while it is not; false if
// Close gave up on it. A message not acked in time is published again at
// once, its waiters still waiting (the leader that took it may have
// stepped down: the next try reaches the new one); one refused is tried
// again after a pause, its waiters failed meanwhile.
func (j *Journal) store(e *entry) bool {
	wait := 50 * time.Millisecond
	for {
		err := errors.New("not published")
		if e.ack != nil {
			select {
			case <-e.ack.Ok():
				return true
			case err = <-e.ack.Err():
			case <-j.quit: // not known to be stored
				return false
			}
		}
		switch {
		case superseded(e.msg, err):
			return true
		case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
			j.log.Warn().Str("subject", e.msg.Subject).Msg("a replicated write not acknowledged in time; publishing it again")
			e.ack, _ = j.js.PublishMsgAsync(e.msg)
			continue
		}
		j.mu.Lock()
		j.changed(err)
		j.mu.Unlock()
		j.log.Warn().Err(err).Str("subject", e.msg.Subject).Msg("a replicated write failed; trying again")
		select {
		case <-j.quit:
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, journalRetry)
		e.ack, _ = j.js.PublishMsgAsync(e.msg)
	}
}

// FirstOnSubject marks msg as one that may only be the first message on
// its subject (a call's note, whose key is the call's own). Published
// again after an ack was lost, it may find the subject taken: by itself,
// stored after all, or by a later message (its removal) stored before
// the new try. Either way it is done with, and must not come back.
func FirstOnSubject(msg *nats.Msg) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
}

// superseded tells whether err refused a FirstOnSubject message because
// its subject was taken.
func superseded(msg *nats.Msg, err error) bool {
	var api *jetstream.APIError
	return msg.Header.Get(jetstream.ExpectedLastSubjSeqHeader) == "0" && errors.As(err, &api) &&
		(api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// changed notes a change of state for the waiters; under mu.
func (j *Journal) changed(failing error) {
	j.failing = failing
	close(j.progress)
	j.progress = make(chan struct{})
}

// Close refuses new messages and waits, within ctx, until those in the
// journal are stored; past ctx it stops trying (what is left is lost).
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	if !j.closed {
		j.closed = true
		close(j.queue)
	}
	j.mu.Unlock()
	select {
	case <-j.ended:
		return nil
	case <-ctx.Done():
		close(j.quit)
		<-j.ended
		return fmt.Errorf("replicated writes not stored at stop: %w", ctx.Err())
	}
}
