package hlr

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/store"
)

// Log is the cluster's log of subscriber writes (docs/cluster.md): every
// node applies it, in order, to its own table through ApplyLog, and in
// cluster mode every create, bulk and delete goes through it rather than
// to the table. The app provides it over the cluster's engine.
type Log interface {
	// CatchUp returns once this node applied every write logged before
	// the call, with the position it applied up to.
	CatchUp(ctx context.Context) (uint64, error)
	// AppendAt logs data if nothing was logged after position at, and
	// returns once this node applied it; moved (and nothing logged) if
	// something was.
	AppendAt(ctx context.Context, data []byte, at uint64) (moved bool, err error)
}

// UseLog puts the subscriber writes through log (cluster mode), before the
// service starts.
func (s *Subscribers) UseLog(log Log) { s.repl = log }

// ErrLogBusy: a write was checked against the log again and again, and
// each time another node's write came first.
var ErrLogBusy = errcode.New(errcode.Unavailable, "the cluster's subscriber log is busy; try again")

// logTries bounds the checks of one write against a log that keeps
// moving; between two, a writer waits a little, at random, so that writers
// that met do not meet again.
const logTries = 32

// A logWrite is one message of the log. Unknown fields are ignored and an
// unknown op is skipped, so that a node of an older version applies what
// it knows of a newer one's writes.
type logWrite struct {
	V    int      `json:"v"`
	Op   string   `json:"op"` // create (an MSISDN already there is left as it is) or delete
	Rows []logRow `json:"rows"`
}

type logRow struct {
	MSISDN    string `json:"m"`
	IMSI      string `json:"i,omitempty"`
	CreatedAt int64  `json:"c,omitempty"`
}

const (
	opCreate = "create"
	opDelete = "delete"
)

// logged writes w through the log: it catches up, checks w against the
// table as of that position with check, and logs it at that position;
// when another write came first it does it all again. s.wmu is held, so
// that this node's own writes never race each other.
func (s *Subscribers) logged(ctx context.Context, w logWrite, check func(ctx context.Context) error) error {
	w.V = 1
	data, err := json.Marshal(w)
	if err != nil {
		return err
	}
	for range logTries {
		at, err := s.repl.CatchUp(ctx)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx); err != nil {
				return err
			}
		}
		moved, err := s.repl.AppendAt(ctx, data, at)
		if err != nil || !moved {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.IntN(20)+1) * time.Millisecond):
		}
	}
	return ErrLogBusy
}

// createRows is the log write creating items at now.
func createRows(items []Subscriber, now int64) logWrite {
	w := logWrite{Op: opCreate, Rows: make([]logRow, len(items))}
	for i, it := range items {
		w.Rows[i] = logRow{MSISDN: it.MSISDN.String(), IMSI: it.IMSI, CreatedAt: now}
	}
	return w
}

// ApplyLog applies logged writes (their messages, in order) to this
// node's table with the log's position last, in one transaction, then to
// the set of provisioned MSISDNs. stream names the log in the table of
// positions.
func (s *Subscribers) ApplyLog(ctx context.Context, stream string, msgs [][]byte, last uint64) error {
	writes := make([]store.SubscriberWrite, 0, len(msgs))
	for _, data := range msgs {
		var w logWrite
		if err := json.Unmarshal(data, &w); err != nil || (w.Op != opCreate && w.Op != opDelete) {
			s.log.Warn().Err(err).Str("op", w.Op).Msg("subscriber write this version cannot apply; skipped")
			continue
		}
		sw := store.SubscriberWrite{Delete: w.Op == opDelete, Rows: make([]store.SubscriberRow, 0, len(w.Rows))}
		for _, r := range w.Rows {
			if _, err := ParseMSISDN(r.MSISDN); err == nil {
				sw.Rows = append(sw.Rows, store.SubscriberRow{MSISDN: r.MSISDN, IMSI: r.IMSI, CreatedAt: r.CreatedAt})
			}
		}
		writes = append(writes, sw)
	}
	if err := s.st.ApplySubscriberMirror(ctx, stream, writes, last); err != nil {
		return s.fault(fmt.Errorf("hlr: apply the subscriber log: %w", err))
	}
	for _, w := range writes {
		for _, r := range w.Rows {
			m, _ := ParseMSISDN(r.MSISDN)
			if w.Delete {
				s.provisioned.remove(m)
			} else {
				s.provisioned.add(m)
			}
		}
	}
	return nil
}

// ResetLog empties this node's table for a log of identity uid it has not
// applied before (see store.ResetSubscriberMirror), and the set with it.
func (s *Subscribers) ResetLog(ctx context.Context, stream, uid string) error {
	if err := s.st.ResetSubscriberMirror(ctx, stream, uid); err != nil {
		return err
	}
	s.provisioned.clear()
	return nil
}

// now is the creation time of rows written now.
func now() int64 { return time.Now().UnixNano() }
