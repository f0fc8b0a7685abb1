package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Probe back-off while the database cannot be written.
const (
	probeFirst = 100 * time.Millisecond
	probeMax   = 5 * time.Second
)

// Health follows whether the database can be written, from what its
// writers report (operations.md: alarm storage_failed, /readyz 503 while
// it cannot). A writer that retries on its own (the call records') reports
// each failure and success with Report. A writer whose writes are one-off
// (a subscriber create) reports a fault with Fault: then Health itself
// rewrites the probe row, with back-off, until that works again, so the
// alarm clears even if no one writes.
type Health struct {
	db       *sql.DB
	onChange func(error) // the first fault, or nil when every source is fine
	log      zerolog.Logger

	mu      sync.Mutex
	faults  map[string]error // by source, while it fails
	probed  map[string]bool  // sources the probe clears when it works
	probing bool
	quit    chan struct{}
	wg      sync.WaitGroup
	closed  bool
}

// NewHealth follows the writes to st; onChange, called under Health's lock
// (it must not block), is told when writing starts failing and when it
// works again.
func NewHealth(st *Store, onChange func(error), log zerolog.Logger) *Health {
	return &Health{db: st.db, onChange: onChange, log: log, faults: map[string]error{}, probed: map[string]bool{}, quit: make(chan struct{})}
}

// Report sets (err not nil) or clears (nil) the fault of source.
func (h *Health) Report(source string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set(source, err)
}

// Fault reports err from a one-off write of source if it is a storage
// fault (IsFault), and returns it marked as one (Fault): the probe then
// clears it once the database can be written again.
func (h *Health) Fault(source string, err error) error {
	if !IsFault(err) {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set(source, err)
	h.probed[source] = true
	if !h.probing && !h.closed {
		h.probing = true
		h.wg.Add(1)
		go h.probe()
	}
	return Fault(err)
}

// Err is the fault of some source, nil while every source is fine.
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first()
}

// Close stops the probe.
func (h *Health) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.quit)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// set changes a source's fault and tells onChange when that changes
// whether any source fails; under mu.
func (h *Health) set(source string, err error) {
	before := h.first()
	if err == nil {
		delete(h.faults, source)
	} else {
		h.faults[source] = err
	}
	after := h.first()
	switch {
	case before == nil && after != nil:
		h.log.Error().Err(after).Str("source", source).Msg("the database cannot be written")
		h.onChange(after)
	case before != nil && after == nil:
		h.log.Info().Str("source", source).Msg("the database can be written again")
		h.onChange(nil)
	}
}

func (h *Health) first() error {
	for _, err := range h.faults {
		return err
	}
	return nil
}

// probe rewrites the probe row until it works, then clears the sources
// of one-off writes.
func (h *Health) probe() {
	defer h.wg.Done()
	wait := probeFirst
	for {
		t := time.NewTimer(wait)
		select {
		case <-h.quit:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeMax)
		err := probeWrite(ctx, h.db)
		cancel()
		h.mu.Lock()
		if err == nil {
			h.probing = false
			for source := range h.probed {
				h.set(source, nil)
			}
			clear(h.probed)
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		wait = min(2*wait, probeMax)
	}
}
