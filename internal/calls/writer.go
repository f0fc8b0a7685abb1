package calls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/sup"
)

// Defaults of WriterConfig.
const (
	DefaultQueueSize = 65536
	DefaultMaxBatch  = 4096
	DefaultRetries   = 5
	DefaultBackoff   = 100 * time.Millisecond

	maxBackoff = time.Minute // however many retries are configured
)

// WriterConfig configures a Writer; a zero field takes its default.
type WriterConfig struct {
	// QueueSize bounds the records waiting, the batch being written
	// included; beyond it Append sheds. The queue is allocated up front,
	// about 150 bytes a record.
	QueueSize int
	// MaxBatch is the most records written in one transaction.
	MaxBatch int
	// Retries is how many times a failed batch is tried again, waiting
	// Backoff, then twice as long each time, before it is dropped
	// (negative: never).
	Retries int
	Backoff time.Duration
	Metrics *Metrics
	Log     zerolog.Logger
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.MaxBatch = min(c.MaxBatch, c.QueueSize)
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	return c
}

// Writer is the single writer of call records. Append queues a record and
// never blocks; one goroutine takes the oldest queued records, up to
// MaxBatch, and commits them in one transaction, so under load the
// batches grow and the cost of a commit is shared by thousands of records.
// A record is acknowledged when Flush returns nil after it was appended:
// it is committed, and a commit survives a crash of the process (the
// store's WAL mode).
//
// The goroutine starts with NewWriter; whoever made the Writer owns it and
// must Close it, which writes everything queued first.
type Writer struct {
	cfg WriterConfig
	ins inserter // the writer goroutine's own

	mu        sync.Mutex
	ring      []Record // the queue: records head to tail-1, modulo its length
	idle      bool     // the writer waits on wake
	closing   bool
	lost      uint64        // records given up on
	firstLost uint64        // the sequence number of the first of them
	progress  chan struct{} // closed, and replaced, each time head moves

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

// NewWriter starts a writer of records into db, which must have the calls
// table (store.Open migrates it).
func NewWriter(db *sql.DB, cfg WriterConfig) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg: cfg, ins: inserter{db: db},
		ring:     make([]Record, cfg.QueueSize),
		progress: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	w.abort, w.doAbort = context.WithCancel(context.Background())
	cfg.Metrics.depth(0)
	go w.run()
	return w
}

// Append queues rec for writing (its ID is ignored) without waiting. A full
// queue sheds it with ErrOverloaded: the caller decides what to do. It
// fails with ErrInvalid for a record the table would refuse, and with
// ErrClosed once Close was called.
func (w *Writer) Append(rec Record) error {
	if err := rec.validate(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return ErrClosed
	}
	tail := w.tail.Load()
	depth := tail - w.head.Load()
	if depth == uint64(len(w.ring)) {
		w.mu.Unlock()
		w.cfg.Metrics.overloaded()
		return ErrOverloaded
	}
	w.ring[tail%uint64(len(w.ring))] = rec
	w.tail.Store(tail + 1)
	// Set under the lock so that gauge updates land in order.
	w.cfg.Metrics.depth(depth + 1)
	wake := w.idle
	w.idle = false
	w.mu.Unlock()
	if wake {
		w.signal()
	}
	return nil
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Flush waits until every record appended before the call is committed. It
// fails with ErrLost if one of them was dropped instead (which also means
// any later Flush fails: the loss stays reported), or with ctx's error.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.tail.Load()
	for w.head.Load() < target {
		progress := w.progress
		w.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		}
		w.mu.Lock()
	}
	return w.lostBefore(target)
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

// Fill is how full the queue is, from 0 to 1.
func (w *Writer) Fill() float64 {
	head := w.head.Load() // first: head only grows, so tail-head cannot wrap
	return min(float64(w.tail.Load()-head)/float64(len(w.ring)), 1)
}

func (w *Writer) run() {
	defer close(w.done)
	defer w.doAbort() // releases the context
	defer w.ins.close()
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
func (w *Writer) next() (start uint64, n int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.abort.Err() == nil {
		head, tail := w.head.Load(), w.tail.Load()
		if tail > head {
			return head, int(min(tail-head, uint64(w.cfg.MaxBatch))), true
		}
		if w.closing {
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

// write commits records start to start+n-1, retrying with backoff; when
// the retries are spent the records are dropped, so that one bad batch or
// a broken disk never stops the writer or blocks Append.
func (w *Writer) write(start uint64, n int) {
	segs := w.slots(start, n)
	backoff := w.cfg.Backoff
	for attempt := 0; ; attempt++ {
		began := time.Now()
		err := w.ins.write(segs)
		if err == nil {
			w.cfg.Metrics.committed(n, time.Since(began))
			w.release(start, n, false)
			return
		}
		w.cfg.Metrics.writeError()
		if attempt < w.cfg.Retries {
			if attempt == 0 {
				w.cfg.Log.Warn().Err(err).Int("records", n).Msg("writing call records failed; retrying")
			}
			if w.sleep(backoff) {
				backoff = min(2*backoff, maxBackoff)
				continue
			}
		}
		w.cfg.Log.Error().Err(err).Int("records", n).Int("attempts", attempt+1).Msg("call records dropped: writing them failed")
		w.cfg.Metrics.lost(n)
		w.release(start, n, true)
		return
	}
}

// slots are the ring slots of records start to start+n-1: one run, or two
// when they wrap around the end.
func (w *Writer) slots(start uint64, n int) [][]Record {
	i := int(start % uint64(len(w.ring)))
	if i+n <= len(w.ring) {
		return [][]Record{w.ring[i : i+n]}
	}
	return [][]Record{w.ring[i:], w.ring[:i+n-len(w.ring)]}
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
// they are committed or lost, and wakes the Flush calls waiting.
func (w *Writer) release(start uint64, n int, lost bool) {
	for _, s := range w.slots(start, n) {
		clear(s) // let the strings go; the slots are still the writer's
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(start, uint64(n), lost)
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
