package hlr

import (
	"context"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
)

// The last attach and detach times are informational: nothing depends on
// them, so recording them must never slow an attach or wait for SQLite.
// Touch puts them in a bounded queue, coalesced per MSISDN (the latest of
// each kind wins), and one writer goroutine writes what has gathered in
// batched transactions. When the queue is full the oldest MSISDN's update
// is dropped and counted (Stats.TouchDropped), and so are updates a failed
// write lost and those arriving after Close: a lost timestamp is only a
// stale column, never a lost subscriber.
const (
	// touchQueueLimit is the most MSISDNs waiting, a few MiB: about what
	// 300 000 attaches a second gather while the writer stores the previous
	// batch at some 3 µs a row.
	touchQueueLimit = 1 << 16
	// touchTxRows bounds one transaction, and so how long the writer holds
	// SQLite's write lock, which the call records' writer shares.
	touchTxRows = 4096
	// touchDropLogEvery spaces the log lines about dropped updates.
	touchDropLogEvery = 10 * time.Second
	// touchRate bounds the attach/detach times written per second. Each
	// is a random B-tree update (about 3.5 µs here), so an attach storm
	// would otherwise spend a whole core on informational timestamps
	// instead of on calls; what the paced writer cannot keep up with stays
	// coalesced in the bounded queue, and the oldest is dropped, counted.
	touchRate = 50_000
)

// Touch records that m attached (attached) or detached at at. It never
// blocks on the database; see above for what may be lost.
func (s *Subscribers) Touch(m MSISDN, attached bool, at time.Time) {
	t := touch{detach: at.UnixNano()}
	if attached {
		t = touch{attach: at.UnixNano()}
	}
	s.touches.put(m, t)
}

// touchLoop is the writer goroutine. At Close (the queue closed first, so
// nothing more arrives) it writes what is left and ends.
func (s *Subscribers) touchLoop() {
	defer close(s.touchDone)
	spare := make(map[MSISDN]touch)
	rows := make([]store.SubscriberTouch, 0, touchTxRows)
	var reported uint64
	var reportedAt time.Time
	for {
		stop := false
		select {
		case <-s.touches.wake:
		case <-s.quit:
			stop = true
		}
		batch := s.touches.take(spare)
		written, err := s.writeTouches(batch, rows)
		err = s.fault(err)
		s.touches.written(len(batch) - written)
		if err != nil {
			s.log.Warn().Err(err).Int("lost", len(batch)-written).Msg("attach/detach times not written")
		}
		if _, dropped := s.touches.stats(); dropped > reported && time.Since(reportedAt) >= touchDropLogEvery {
			s.log.Warn().Uint64("dropped", dropped-reported).Uint64("dropped_total", dropped).
				Msg("attach/detach time updates dropped")
			reported, reportedAt = dropped, time.Now()
		}
		clear(batch)
		spare = batch
		if stop {
			s.closeErr = err
			return
		}
	}
}

// writeTouches writes batch in transactions of touchTxRows, using rows as
// the buffer, and returns how many updates were committed. Background work
// has no caller's context: SQLite's busy timeout bounds the wait for the
// write lock.
func (s *Subscribers) writeTouches(batch map[MSISDN]touch, rows []store.SubscriberTouch) (int, error) {
	written := 0
	for m, t := range batch {
		rows = append(rows, store.SubscriberTouch{MSISDN: m.String(), Attach: t.attach, Detach: t.detach})
		if len(rows) == touchTxRows {
			s.pace(len(rows))
			if err := s.st.TouchSubscribers(context.Background(), rows); err != nil {
				return written, err
			}
			written += len(rows)
			rows = rows[:0]
		}
	}
	if len(rows) > 0 {
		s.pace(len(rows))
		if err := s.st.TouchSubscribers(context.Background(), rows); err != nil {
			return written, err
		}
		written += len(rows)
	}
	return written, nil
}

// pace waits until n more rows may be written, except while closing, when
// everything queued is flushed at once.
func (s *Subscribers) pace(n int) {
	_ = s.touchLimit.WaitN(s.closing, n)
}
