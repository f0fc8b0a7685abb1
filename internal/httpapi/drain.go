package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// errStopping answers what comes in while a graceful stop drains.
var errStopping = fmt.Errorf("%w: the service is stopping", errUnavailable)

func (s *server) draining() bool { return s.Draining != nil && s.Draining() }

// refuseWhileDraining refuses new mutating requests once a graceful stop
// began; reads are still answered until the listener closes.
func (s *server) refuseWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && s.draining() {
			WriteError(w, r, errStopping)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// inflight counts the requests being served, for Drain: an atomic on the
// hot path, the lock only while a drain waits.
type inflight struct {
	n    atomic.Int64
	mu   sync.Mutex
	zero chan struct{} // closed when n drops to 0; nil while nobody waits
}

// trackInflight counts the requests in flight, except those of the routes
// that stream (event streams and long polls end when the server shuts
// down, not on their own).
func (s *server) trackInflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.streaming[r.Method+" "+routePattern(r)] {
			next.ServeHTTP(w, r)
			return
		}
		f := &s.inflight
		f.n.Add(1)
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			f.done()
		}()
		next.ServeHTTP(w, r)
	})
}

func (f *inflight) done() {
	if f.n.Add(-1) == 0 {
		f.wake()
	}
}

// wake closes zero if a drain waits and nothing is in flight.
func (f *inflight) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.zero != nil && f.n.Load() == 0 {
		close(f.zero)
		f.zero = nil
	}
}

// wait returns once no request is in flight, or with ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	zero := f.zero
	f.mu.Unlock()
	f.wake() // in case the last request ended before zero was made
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
