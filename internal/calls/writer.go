package calls

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/store"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Defaults of WriterConfig.
const (
	DefaultQueueSize   = 65536
	DefaultMaxBatch    = 4096
	DefaultBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultWaitTimeout = 5 * time.Second
)

// WriterConfig configures a Writer; a zero field takes its default.
type WriterConfig struct {
	// QueueSize bounds the records waiting, the batch being written
	// included, and the places reserved for records to come; beyond it
	// Reserve sheds. The queue is allocated up front, 80 bytes a record
	// (a store.CallRow) besides its two numbers' strings.
	QueueSize int
	// MaxBatch is the most records written in one transaction.
	MaxBatch int
	// A failed batch is tried again after Backoff, then after twice as
	// long each time, up to MaxBackoff, until it commits: a write failure
	// never drops a record. Only Close, when its context ends, gives up.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// WaitTimeout bounds Wait: a record not committed by then is not
	// acknowledged (ErrNotCommitted); it stays queued.
	WaitTimeout time.Duration
	// OnHealth is told, on the writer's goroutine, when writing starts to
	// fail (the error) and when it works again (nil). It must not block.
	OnHealth func(error)
	Metrics  *Metrics
	Log      zerolog.Logger
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.MaxBatch = min(c.MaxBatch, c.QueueSize)
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.Backoff)
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.OnHealth == nil {
		c.OnHealth = func(error) {}
	}
	return c
}

// Ticket names one appended record, for Wait. The zero Ticket is no record.
type Ticket uint64

// Writer is the single writer of call records, with group commit. Append
// queues a record and never blocks; one goroutine takes the oldest queued
// records, up to MaxBatch, and commits them in one transaction, so under
// load the batches grow and the cost of a commit is shared by thousands of
// records. Whoever must answer only once a record is durable waits for its
// batch with Wait: a committed record survives a crash of the process (the
// store's WAL mode).
//
// A call reserves its record's place (Reserve) when it starts, so that
// the record of a call that ends always finds room in the bounded queue:
// the queue is full for new calls, never for records. While the database
// cannot be written, the writer keeps the records and retries, Reserve and
// Wait fail with store.ErrStorage, and OnHealth says so.
//
// The goroutine starts with NewWriter; whoever made the Writer owns it and
// must Close it, which writes everything queued first.
type Writer struct {
	cfg WriterConfig
	ins *store.CallInserter // the writer goroutine's own

	mu sync.Mutex
	// ring is the queue: records head to tail-1, modulo its length, kept
	// as stored, so that a batch goes to the inserter as it lies here.
	ring      []store.CallRow
	reserved  uint64 // places promised by Reserve, not yet taken by Append
	idle      bool   // the writer waits on wake
	closing   bool
	failing   error         // the last write failed with this; nil when writing works
	lost      uint64        // records given up on (only by an aborted Close)
	firstLost uint64        // the sequence number of the first of them
	progress  chan struct{} // closed, and replaced, when head moves or failing changes

	// Sequence numbers, written under mu, read without it: tail counts the
	// records accepted, head those done with (committed or lost). Records
	// between them stay in their slots until done, so the writer reads them
	// without the lock and Append never overwrites one being written.
	head, tail atomic.Uint64
	committed  atomic.Uint64

	wake    chan struct{} // capacity 1: records arrived, or Close
	abort   context.Context
	doAbort context.CancelFunc // Close's context ended: stop retrying
	done    chan struct{}      // the writer goroutine has ended
}

// NewWriter starts a writer of records into st.
func NewWriter(st *store.Store, cfg WriterConfig) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg: cfg, ins: st.NewCallInserter(),
		ring:     make([]store.CallRow, cfg.QueueSize),
		progress: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	w.abort, w.doAbort = context.WithCancel(context.Background())
	cfg.Metrics.depth(0)
	go w.run()
	return w
}

// Reserve promises room in the queue for one record to come, the record
// of a call about to start; Append takes the place. It fails, and the call
// should be shed, with ErrOverloaded when the queue and the promises fill
// it, with store.ErrStorage while the database cannot be written, and with
// ErrClosed once Close was called.
func (w *Writer) Reserve() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closing:
		return ErrClosed
	case w.failing != nil:
		return fmt.Errorf("%w: %v", store.ErrStorage, w.failing)
	case w.tail.Load()-w.head.Load()+w.reserved >= uint64(len(w.ring)):
		w.cfg.Metrics.overloaded()
		return ErrOverloaded
	}
	w.reserved++
	return nil
}

// Append queues rec for writing (its ID is ignored) without waiting, in a
// place Reserve promised if there is one, and returns its ticket for Wait.
// Without a promise, a full queue refuses it with ErrOverloaded. It fails
// with ErrInvalid for a record the table would refuse, and with ErrClosed
// once Close was called.
func (w *Writer) Append(rec Record) (Ticket, error) {
	if err := rec.validate(); err != nil {
		return 0, err
	}
	row := rec.row()
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return 0, ErrClosed
	}
	tail := w.tail.Load()
	depth := tail - w.head.Load()
	switch {
	case w.reserved > 0:
		w.reserved-- // depth+reserved <= len, so there is room
	case depth == uint64(len(w.ring)):
		w.mu.Unlock()
		w.cfg.Metrics.overloaded()
		return 0, ErrOverloaded
	}
	w.ring[tail%uint64(len(w.ring))] = row
	w.tail.Store(tail + 1)
	// Set under the lock so that gauge updates land in order.
	w.cfg.Metrics.depth(depth + 1)
	wake := w.idle
	w.idle = false
	w.mu.Unlock()
	if wake {
		w.signal()
	}
	return Ticket(tail + 1), nil
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Wait waits until the record of ticket t is committed: the group commit
// of whoever answers only once a record is durable. It fails at once with
// ErrStorage while writing fails (the record stays queued and is written
// once the database works again), with ErrLost if the record was given up
// on, with ErrNotCommitted after WaitTimeout (a stalled disk: the record
// stays queued), or with ctx's error.
func (w *Writer) Wait(ctx context.Context, t Ticket) error {
	if t == 0 {
		return nil
	}
	return w.waitFor(ctx, uint64(t), true, w.cfg.WaitTimeout)
}

// Flush waits until every record appended before the call is committed,
// through write failures. It fails with ErrLost if one of them was given
// up on, or with ctx's error.
func (w *Writer) Flush(ctx context.Context) error {
	return w.waitFor(ctx, w.tail.Load(), false, 0)
}

// waitFor waits until head reaches seq; failFast returns store.ErrStorage while
// writing fails instead of waiting for the retries. A timeout (0: none)
// ends the wait with ErrNotCommitted. Its timer is made only if the wait
// blocks, and not through a context: Wait is on every ending action's
// path, and a context.WithTimeout per call cost a quarter of the durable
// call cycles' rate at 100 pairs (BENCHMARKS.md).
func (w *Writer) waitFor(ctx context.Context, seq uint64, failFast bool, timeout time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var expired <-chan time.Time
	for w.head.Load() < seq {
		if failFast && w.failing != nil {
			return fmt.Errorf("%w: %v", store.ErrStorage, w.failing)
		}
		if timeout > 0 && expired == nil {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		progress := w.progress
		w.mu.Unlock()
		timedOut := false
		select {
		case <-progress:
		case <-expired:
			timedOut = true
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		}
		w.mu.Lock()
		if timedOut && w.head.Load() < seq { // unless committed as the timer fired
			return fmt.Errorf("%w after %v", ErrNotCommitted, timeout)
		}
	}
	return w.lostBefore(seq)
}

// lostBefore is ErrLost if a record numbered below seq was lost; under mu.
func (w *Writer) lostBefore(seq uint64) error {
	if w.lost > 0 && w.firstLost < seq {
		return fmt.Errorf("%w: %d since the writer started", ErrLost, w.lost)
	}
	return nil
}

// Close refuses new records, writes those queued and stops the writer. If
// ctx ends first, the writer stops retrying and starts no new batch; what
// is left is lost and Close returns once the write in progress, if any,
// ends (at worst the database's busy timeout later). The error is nil if
// every record appended since the start was committed, else ErrLost,
// joined with ctx's error if that is why. Calling Close again waits for
// the same end.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.signal()
	var ctxErr error
	select {
	case <-w.done:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		w.doAbort()
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.lostBefore(w.tail.Load()); err != nil {
		return errors.Join(err, ctxErr)
	}
	return nil
}

// Committed is how many records have been committed since the start.
func (w *Writer) Committed() uint64 { return w.committed.Load() }

func (w *Writer) run() {
	defer close(w.done)
	defer w.doAbort() // releases the context
	defer w.ins.Close()
	err := sup.Protect(func() error {
		for {
			start, n, ok := w.next()
			if !ok {
				return nil
			}
			w.write(start, n)
		}
	})
	if err != nil {
		w.cfg.Log.Error().Err(err).Msg("call record writer crashed")
	}
	w.finish()
}

// next waits for records and returns the oldest ones, at most MaxBatch,
// as the sequence number of the first and a count; ok is false when the
// writer must stop: closing with nothing left, or aborted.
//
// Before it takes a batch short of MaxBatch, it yields the processor once.
// The writer is woken by the first record to arrive; the goroutines
// runnable at that moment are often the handlers of other calls ending,
// about to append theirs, and letting them run first puts their records in
// this batch instead of a commit each. A yield never waits when nothing
// else is runnable. Under the wrk cycle (BENCHMARKS.md, issue 10) it took
// the batches from 1.3 records to 5.4, and the server's rate up by a
// sixth: a commit costs about the same for one record as for five.
func (w *Writer) next() (start uint64, n int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	yielded := false
	for w.abort.Err() == nil {
		head, tail := w.head.Load(), w.tail.Load()
		switch {
		case tail > head && !yielded && tail-head < uint64(w.cfg.MaxBatch):
			yielded = true
			w.mu.Unlock()
			runtime.Gosched()
			w.mu.Lock()
			continue
		case tail > head:
			return head, int(min(tail-head, uint64(w.cfg.MaxBatch))), true
		case w.closing:
			return 0, 0, false
		}
		w.idle = true
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.abort.Done():
		}
		w.mu.Lock()
	}
	return 0, 0, false
}

// write commits records start to start+n-1, retrying with back-off until
// it works: a broken disk keeps the records queued, never drops them. Only
// an aborted Close stops the retries; run then counts what is left as lost.
func (w *Writer) write(start uint64, n int) {
	segs := w.slots(start, n)
	backoff := w.cfg.Backoff
	for {
		began := time.Now()
		err := w.ins.Insert(segs)
		if err == nil {
			w.cfg.Metrics.committed(n, time.Since(began))
			w.release(start, n)
			return
		}
		w.cfg.Metrics.writeError()
		w.setFailing(err, n)
		if !w.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

// setFailing notes a failed write and, when writing just started to
// fail, wakes the waiters (Wait fails fast while it does) and tells
// OnHealth.
func (w *Writer) setFailing(err error, records int) {
	w.mu.Lock()
	first := w.failing == nil
	w.failing = err
	if first {
		w.wakeWaiters()
	}
	w.mu.Unlock()
	if first {
		w.cfg.Log.Error().Err(err).Int("records", records).Msg("writing call records fails; keeping them queued and retrying")
		w.cfg.OnHealth(err)
	}
}

// slots are the ring slots of records start to start+n-1: one run, or two
// when they wrap around the end.
func (w *Writer) slots(start uint64, n int) [][]store.CallRow {
	i := int(start % uint64(len(w.ring)))
	if i+n <= len(w.ring) {
		return [][]store.CallRow{w.ring[i : i+n]}
	}
	return [][]store.CallRow{w.ring[i:], w.ring[:i+n-len(w.ring)]}
}

// sleep waits d unless aborted first; it tells whether to go on.
func (w *Writer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.abort.Done():
		return false
	}
}

// release frees the slots of records start to start+n-1, the oldest, once
// they are committed, and wakes the waiters. After a failure it says that
// writing works again.
func (w *Writer) release(start uint64, n int) {
	for _, s := range w.slots(start, n) {
		clear(s) // let the strings go; the slots are still the writer's
	}
	w.mu.Lock()
	recovered := w.failing != nil
	w.failing = nil
	w.advance(start, uint64(n), false)
	w.mu.Unlock()
	if recovered {
		w.cfg.Log.Info().Int("records", n).Msg("writing call records works again")
		w.cfg.OnHealth(nil)
	}
}

// advance moves head past n records; under mu.
func (w *Writer) advance(head, n uint64, lost bool) {
	if lost {
		if w.lost == 0 {
			w.firstLost = head
		}
		w.lost += n
	} else {
		w.committed.Add(n)
	}
	w.head.Store(head + n)
	w.cfg.Metrics.depth(w.tail.Load() - head - n)
	w.wakeWaiters()
}

// wakeWaiters wakes every Wait and Flush to look again; under mu.
func (w *Writer) wakeWaiters() {
	close(w.progress)
	w.progress = make(chan struct{})
}

// finish counts what is still queued as lost once the goroutine stops, so
// that no Flush waits for it, and refuses new records.
func (w *Writer) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closing = true
	head, tail := w.head.Load(), w.tail.Load()
	if n := tail - head; n > 0 {
		for _, s := range w.slots(head, int(n)) {
			clear(s)
		}
		w.cfg.Metrics.lost(int(n))
		w.advance(head, n, true)
		w.cfg.Log.Error().Uint64("records", n).Msg("call records dropped: the writer stopped before writing them")
	}
	w.cfg.Log.Info().Uint64("committed", w.committed.Load()).Uint64("lost", w.lost).Msg("call record writer stopped")
}
