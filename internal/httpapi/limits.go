package httpapi

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"time"
)

// DefaultBodyLimit bounds request bodies (api.md: over 1 MiB is 413 too_large).
const DefaultBodyLimit = 1 << 20

// DefaultMaxInflight is the bound on requests worked on at once when none
// is configured: 16 per CPU the process may use. More only lengthens the
// queue for the CPU that every request, health checks included, then
// waits in (see gate.go; BENCHMARKS.md has the figures).
func DefaultMaxInflight() int { return 16 * runtime.GOMAXPROCS(0) }

// DefaultQueueWait is how long a request may wait for an in-flight slot
// when Deps.QueueWait is 0: long enough to ride out a burst, short enough
// that what is served under overload stays fast.
const DefaultQueueWait = 20 * time.Millisecond

type originalBodyKey struct{}

// limitBody caps every body at DefaultBodyLimit; Decode turns the overflow
// into 413 too_large. The unlimited body is kept so BodyLimit can set
// another cap on a route.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), originalBodyKey{}, r.Body))
		r.Body = http.MaxBytesReader(w, r.Body, DefaultBodyLimit)
		next.ServeHTTP(w, r)
	})
}

// BodyLimit replaces the default body cap on one route, for the few that
// take more than 1 MiB (POST /api/v1/subscribers:bulk):
//
//	r.With(BodyLimit(32<<20)).Post("/api/v1/subscribers:bulk", s.bulk)
func BodyLimit(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, ok := r.Context().Value(originalBodyKey{}).(io.ReadCloser)
			if !ok {
				body = r.Body
			}
			r.Body = http.MaxBytesReader(w, body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// limiter is the HTTP part of load regulation: at most cap(slots) requests
// are served at once; the others wait for a slot, first come first served,
// at most wait, and are then shed with 503 overloaded and Retry-After. It
// runs after routing, so it sees the route pattern.
//
// The wait is the regulation. Under overload every connection has a
// request ready: without a bound on what runs at once they all compete for
// the CPU, and every request, health checks included, waits its turn
// behind all of them. With it, the waiting requests are parked, the CPU
// serves a few at a time and the health checks at once, and a request
// that would wait too long is told to come back later (a client honouring
// Retry-After backs off, which is what sheds the load).
//
// Never shed: health checks and /metrics (mounted outside the limiter),
// DELETE (releases resources: detach, deallocate, uninstall), and the
// routes a feature declares with server.neverShed. A route declared with
// server.admitByBody is admitted by its handler, once the body says what
// the request would do: POST /api/v1/phones/{msisdn}/actions admits a
// call or an accept (they take resources) and never sheds a hangup or a
// reject (they release them).
type limiter struct {
	slots  chan struct{}
	wait   time.Duration
	onShed func()
	exempt map[string]bool // "METHOD pattern": never shed
	byBody map[string]bool // "METHOD pattern": the handler calls admit
}

func newLimiter(max int, wait time.Duration, onShed func()) *limiter {
	if max <= 0 {
		max = DefaultMaxInflight()
	}
	if wait <= 0 {
		wait = DefaultQueueWait
	}
	return &limiter{slots: make(chan struct{}, max), wait: wait, onShed: onShed, exempt: map[string]bool{}, byBody: map[string]bool{}}
}

// admission is a request's hold on a slot, for routes admitted by body.
type admission struct {
	l    *limiter
	held bool
}

type admissionKey struct{}

func (l *limiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := gateOf(r); c != nil {
			defer func() { // the request is answered: the token goes back
				c.shed.Store(false)
				c.done()
			}()
		}
		key := r.Method + " " + routePattern(r)
		switch {
		case r.Method == http.MethodDelete || l.exempt[key]:
			next.ServeHTTP(w, r)
		case l.byBody[key]:
			a := &admission{l: l}
			defer a.release()
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), admissionKey{}, a)))
		case l.admit(r):
			defer l.release()
			next.ServeHTTP(w, r)
		default:
			WriteError(w, r, errOverloaded)
		}
	})
}

// admit decides for a request that takes resources. Through the gate, the
// decision was taken when its connection read it: held a token, or waited
// too long. Otherwise the limiter's own slots decide.
func (l *limiter) admit(r *http.Request) bool {
	if c := gateOf(r); c != nil && c.shed.Load() {
		if l.onShed != nil {
			l.onShed()
		}
		return false
	}
	return l.acquire(r.Context())
}

// acquire takes a slot, waiting at most l.wait (or until ctx ends), or
// sheds: false, and the overloaded alarm told.
func (l *limiter) acquire(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	if l.onShed != nil {
		l.onShed()
	}
	return false
}

func (l *limiter) release() { <-l.slots }

// admit takes a slot for a request of a route admitted by body, once its
// handler found that it takes resources; errOverloaded when none is free.
// On other routes it does nothing: the middleware admitted the request.
func admit(r *http.Request) error {
	a, ok := r.Context().Value(admissionKey{}).(*admission)
	if !ok || a.held {
		return nil
	}
	if !a.l.admit(r) {
		return errOverloaded
	}
	a.held = true
	return nil
}

func (a *admission) release() {
	if a.held {
		a.l.release()
	}
}
