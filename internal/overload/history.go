package overload

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/store"
)

// HistoryStore keeps the alarm history; *store.Store is the durable one.
type HistoryStore interface {
	// AppendAlarms stores recs in order, as one batch.
	AppendAlarms(ctx context.Context, recs []store.AlarmRecord) error
	// AlarmHistory returns the page q selects, oldest first.
	AlarmHistory(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error)
}

// memHistorySize bounds the history kept when there is no HistoryStore.
const memHistorySize = 1000

// memHistory is the alarm history when no HistoryStore is configured: the
// last size records, numbered like the database would, lost with the
// Manager. Readers come from other goroutines (the HTTP API), hence the lock.
type memHistory struct {
	mu   sync.Mutex
	size int
	recs []store.AlarmRecord // oldest first
	last int64
}

func newMemHistory(size int) *memHistory { return &memHistory{size: size} }

func (h *memHistory) AppendAlarms(_ context.Context, recs []store.AlarmRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rec := range recs {
		h.last++
		rec.ID = h.last
		if len(h.recs) == h.size {
			copy(h.recs, h.recs[1:])
			h.recs = h.recs[:h.size-1]
		}
		h.recs = append(h.recs, rec)
	}
	return nil
}

func (h *memHistory) AlarmHistory(_ context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	recs := h.recs // in seq order
	if q.ByTime {
		recs = slices.Clone(recs)
		slices.SortStableFunc(recs, func(a, b store.AlarmRecord) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
		})
	}
	out := []store.AlarmRecord{}
	for _, r := range recs {
		if len(out) == store.PageLimit(q.Limit) {
			break
		}
		if selects(q, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// selects tells whether r is of q's cell and after q's start.
func selects(q store.AlarmQuery, r store.AlarmRecord) bool {
	if q.Cell != nil && (r.Cell == nil || *r.Cell != *q.Cell) {
		return false
	}
	if q.ByTime && !r.At.Equal(q.AfterAt) {
		return r.At.After(q.AfterAt)
	}
	return r.ID > q.AfterID
}

const (
	// historyQueue bounds the records waiting for the history writer.
	historyQueue = 1024
	// historyTimeout bounds one batch write, and how long History waits
	// for the writer to catch up before serving what is stored.
	historyTimeout = 2 * time.Second
	// historyFlushTimeout bounds the last writes when the manager ends,
	// well within the 2 s its supervisor gives it to stop.
	historyFlushTimeout = time.Second
	// lossLogPeriod: losses (dropped events, dropped or failed history
	// records) come in floods; one line per period and kind says so.
	lossLogPeriod = 10 * time.Second
	// A failed history write is retried after historyRetry, doubling up
	// to historyRetryMax, the records kept in the queue meanwhile.
	historyRetry    = 100 * time.Millisecond
	historyRetryMax = 5 * time.Second
)

// historyWriter writes the alarm history behind the manager's loop, so a
// slow database delays the history, never the events. It is the Manager's:
// started by Start, flushed and stopped when the manager ends. Records are
// written in the order they were added, in batches of whatever queued up
// during the previous write; a batch that fails (the database cannot be
// written) goes back to the queue and is retried with back-off; when
// historyQueue records wait, the oldest is dropped, counted and logged.
type historyWriter struct {
	store   HistoryStore
	cell    *int // the cell and node every record is stamped with
	node    string
	metrics *CellMetrics
	dropLog zerolog.Logger // sampled
	failLog zerolog.Logger // sampled

	ctx    context.Context // cancelled when the flush time is up
	cancel context.CancelFunc
	wake   chan struct{} // holds a token while records are queued
	stop   chan struct{}
	done   chan struct{} // closed when run returns

	mu       sync.Mutex
	queue    []store.AlarmRecord
	added    uint64        // records ever added
	settled  uint64        // records written, failed or dropped
	dropped  uint64        // records dropped from the full queue
	progress chan struct{} // closed and replaced when settled grows
}

func newHistoryWriter(st HistoryStore, cell *int, node string, metrics *CellMetrics, log zerolog.Logger) *historyWriter {
	ctx, cancel := context.WithCancel(context.Background())
	return &historyWriter{
		store: st, cell: cell, node: node, metrics: metrics, dropLog: lossLog(log), failLog: lossLog(log),
		ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		progress: make(chan struct{}),
	}
}

// add queues rec, stamped with the writer's cell and node, without
// blocking.
func (w *historyWriter) add(rec store.AlarmRecord) {
	rec.Cell, rec.Node = w.cell, w.node
	w.mu.Lock()
	w.queue = append(w.queue, rec)
	w.added++
	w.bound()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // the writer is already due to look
	}
}

// bound drops the oldest records beyond historyQueue; w.mu is held.
func (w *historyWriter) bound() {
	over := len(w.queue) - historyQueue
	if over <= 0 {
		return
	}
	oldest := w.queue[0]
	w.queue = w.queue[over:]
	w.dropped += uint64(over)
	w.settle(over)
	w.metrics.historyDropped(over)
	w.dropLog.Warn().Str("alarm", oldest.Alarm).Str("action", oldest.Action).Time("at", oldest.At).
		Uint64("dropped_total", w.dropped).Int("queue", historyQueue).
		Msg("alarm history queue full: oldest records dropped")
}

// settle counts n records as done with; w.mu is held.
func (w *historyWriter) settle(n int) {
	w.settled += uint64(n)
	close(w.progress)
	w.progress = make(chan struct{})
}

func (w *historyWriter) run() {
	defer close(w.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	failing, backoff := false, historyRetry
	for {
		select {
		case <-w.wake:
			if failing {
				continue // the retry comes with the timer
			}
		case <-retry.C:
		case <-w.stop:
			// Nothing is added once stop is closed: a last try, and what
			// it cannot write is lost.
			if !w.write() {
				w.lose()
			}
			return
		}
		if failing = !w.write(); failing {
			retry.Reset(backoff)
			backoff = min(2*backoff, historyRetryMax)
		} else {
			backoff = historyRetry
		}
	}
}

// write writes everything queued as one batch and tells whether it did.
// A failed batch goes back to the head of the queue: the database's
// fault, not the alarms', which carry on.
func (w *historyWriter) write() bool {
	w.mu.Lock()
	batch := w.queue
	w.queue = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(w.ctx, historyTimeout)
	err := w.store.AppendAlarms(ctx, batch)
	cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failLog.Error().Err(err).Int("records", len(batch)).Msg("alarm history write failed; retrying")
		w.queue = append(batch, w.queue...)
		w.bound()
		return false
	}
	w.settle(len(batch))
	return true
}

// lose counts what is still queued as lost, when the writer stops.
func (w *historyWriter) lose() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.queue); n > 0 {
		w.metrics.historyDropped(n)
		w.failLog.Error().Int("records", n).Msg("alarm history records lost: the manager stopped before they could be written")
		w.queue = nil
		w.settle(n)
	}
}

// close writes what is queued and stops the writer; a write still going
// after historyFlushTimeout is abandoned and its records counted as lost.
func (w *historyWriter) close() {
	close(w.stop)
	flushTime := time.AfterFunc(historyFlushTimeout, w.cancel)
	<-w.done
	flushTime.Stop()
	w.cancel()
}

// caughtUp returns once every record added before the call is written (or
// lost), or with ctx's error.
func (w *historyWriter) caughtUp(ctx context.Context) error {
	w.mu.Lock()
	target := w.added
	for w.settled < target {
		progress := w.progress
		w.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// lossLog is log, limited to one line per lossLogPeriod.
func lossLog(log zerolog.Logger) zerolog.Logger {
	return log.Sample(&zerolog.BurstSampler{Burst: 1, Period: lossLogPeriod})
}
