package hlr

import (
	"context"
	"fmt"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
)

const (
	// provisionQueueLen bounds the auto-provisions waiting for the writer;
	// when it is full, EnsureProvisioned waits, as long as its ctx allows.
	provisionQueueLen = 1024
	// provisionBatchMax bounds one transaction, and so how long it holds
	// SQLite's write lock, which the call records' writer shares.
	provisionBatchMax = 512
	// provisionLogTimeout bounds a batch's write through the cluster's log.
	provisionLogTimeout = 5 * time.Second
)

type provisionReq struct {
	m    MSISDN
	done chan error // buffered: the writer never waits for the caller
}

// EnsureProvisioned is the attach-time check. A provisioned m costs a map
// read and no SQL (in cluster mode, a catch-up with the log first). Otherwise, with auto it creates the subscriber and
// returns once the row is committed; without, it is ErrUnknownSubscriber.
//
// Concurrent auto-provisions are committed together in one transaction by
// the provisioner goroutine, so an attach storm of new numbers costs one
// commit per batch rather than per number. If ctx ends first the caller
// gets its error, but the subscriber may still be created.
func (s *Subscribers) EnsureProvisioned(ctx context.Context, m MSISDN, auto bool) error {
	// In cluster mode, provisioned or deleted on another node a moment
	// ago, maybe: the check is against every write answered before.
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	if s.provisioned.has(m) {
		return nil
	}
	if !auto {
		return fmt.Errorf("%w: %s", ErrUnknownSubscriber, m)
	}
	if err := checkMSISDN(m); err != nil {
		return err
	}
	req := provisionReq{m: m, done: make(chan error, 1)}
	select {
	case s.provq <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.provDone:
		// Stopped: the request was either answered before, or never taken.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// provisionLoop is the provisioner goroutine: it takes whatever requests
// are waiting, up to a batch, commits them in one transaction and answers
// each. Requests left in the queue at Close are answered by their callers
// seeing provDone closed.
func (s *Subscribers) provisionLoop() {
	defer close(s.provDone)
	batch := make([]provisionReq, 0, provisionBatchMax)
	fresh := make([]MSISDN, 0, provisionBatchMax)
	for {
		select {
		case req := <-s.provq:
			batch = append(batch[:0], req)
		case <-s.quit:
			return
		}
	gather:
		for len(batch) < provisionBatchMax {
			select {
			case req := <-s.provq:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		err := s.fault(s.insertProvisioned(batch, fresh))
		for _, req := range batch {
			req.done <- err
		}
	}
}

// insertProvisioned commits the batch's MSISDNs not yet provisioned, with
// no IMSI, then adds them to the set; fresh is the buffer for those
// MSISDNs. Background work has no caller's context: SQLite's busy timeout
// bounds the wait for the write lock.
func (s *Subscribers) insertProvisioned(batch []provisionReq, fresh []MSISDN) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, req := range batch {
		// Created meanwhile by Create, a bulk or an earlier batch; the set
		// changes only under wmu, held until the set is updated.
		if !s.provisioned.has(req.m) {
			fresh = append(fresh, req.m)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	now := now()
	if s.repl != nil {
		// Creates that leave an MSISDN already there as it is need no
		// check: whatever the log holds, they apply the same.
		w := logWrite{Op: opCreate, Rows: make([]logRow, len(fresh))}
		for i, m := range fresh {
			w.Rows[i] = logRow{MSISDN: m.String(), CreatedAt: now}
		}
		ctx, cancel := context.WithTimeout(context.Background(), provisionLogTimeout)
		defer cancel()
		return s.logged(ctx, w, nil)
	}
	_, err := s.st.InsertSubscribers(context.Background(), len(fresh), func(i int) store.SubscriberRow {
		return store.SubscriberRow{MSISDN: fresh[i].String(), CreatedAt: now}
	})
	if err != nil {
		return fmt.Errorf("hlr: auto-provision: %w", err)
	}
	for _, req := range batch {
		s.provisioned.add(req.m)
	}
	return nil
}
