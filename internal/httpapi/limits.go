package httpapi

import (
	"context"
	"io"
	"net/http"
)

// DefaultBodyLimit bounds request bodies (api.md: over 1 MiB is 413 too_large).
const DefaultBodyLimit = 1 << 20

// DefaultMaxInflight is the concurrency bound used when Deps.MaxInflight is 0.
const DefaultMaxInflight = 1024

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
// are served at once and the excess is shed at once with 503 overloaded,
// never queued. It runs after routing, so it sees the route pattern.
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
	onShed func()
	exempt map[string]bool // "METHOD pattern": never shed
	byBody map[string]bool // "METHOD pattern": the handler calls admit
}

func newLimiter(max int, onShed func()) *limiter {
	if max <= 0 {
		max = DefaultMaxInflight
	}
	return &limiter{slots: make(chan struct{}, max), onShed: onShed, exempt: map[string]bool{}, byBody: map[string]bool{}}
}

// admission is a request's hold on a slot, for routes admitted by body.
type admission struct {
	l    *limiter
	held bool
}

type admissionKey struct{}

func (l *limiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + routePattern(r)
		switch {
		case r.Method == http.MethodDelete || l.exempt[key]:
			next.ServeHTTP(w, r)
		case l.byBody[key]:
			a := &admission{l: l}
			defer a.release()
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), admissionKey{}, a)))
		case l.acquire():
			defer l.release()
			next.ServeHTTP(w, r)
		default:
			WriteError(w, r, errOverloaded)
		}
	})
}

// acquire takes a slot, or sheds: false, and the overloaded alarm told.
func (l *limiter) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		if l.onShed != nil {
			l.onShed()
		}
		return false
	}
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
	if !a.l.acquire() {
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
