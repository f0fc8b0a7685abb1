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
// routes a feature declares with server.neverShed. POST
// /api/v1/phones/{msisdn}/actions is meant to be one of those: a hangup
// releases a call, so actions are regulated per action in the phone layer
// (bounded controller mailboxes), which sheds only those taking resources.
type limiter struct {
	slots  chan struct{}
	onShed func()
	exempt map[string]bool // "METHOD pattern"
}

func newLimiter(max int, onShed func()) *limiter {
	if max <= 0 {
		max = DefaultMaxInflight
	}
	return &limiter{slots: make(chan struct{}, max), onShed: onShed, exempt: map[string]bool{}}
}

func (l *limiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete || l.exempt[r.Method+" "+routePattern(r)] {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case l.slots <- struct{}{}:
			defer func() { <-l.slots }()
			next.ServeHTTP(w, r)
		default:
			if l.onShed != nil {
				l.onShed()
			}
			WriteError(w, r, errOverloaded)
		}
	})
}
