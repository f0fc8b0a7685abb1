package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// TestDrainWaitsForRequestsInFlight: Drain returns once the requests in
// flight are answered, not before; a stream route is not waited for.
func TestDrainWaitsForRequestsInFlight(t *testing.T) {
	entered, release := make(chan string, 2), make(chan struct{})
	block := func(name string) http.HandlerFunc {
		return func(http.ResponseWriter, *http.Request) {
			entered <- name
			<-release
		}
	}
	s := newServer(Deps{}, func(s *server, r chi.Router) {
		r.Post("/test/block", block("request"))
		r.Get("/test/stream", block("stream"))
		s.streaming[http.MethodGet+" /test/stream"] = true
	})
	done := make(chan struct{}, 2)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/test/block", nil),
		httptest.NewRequest(http.MethodGet, "/test/stream", nil),
	} {
		go func() {
			s.router.ServeHTTP(httptest.NewRecorder(), req)
			done <- struct{}{}
		}()
	}
	<-entered
	<-entered
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := (&API{s}).Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a request in flight = %v, want the deadline", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- (&API{s}).Drain(context.Background()) }()
	close(release)
	<-done
	<-done
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if err := (&API{s}).Drain(context.Background()); err != nil {
		t.Fatalf("Drain with nothing in flight = %v", err)
	}
}

// TestDrainingRefusesNewWork: once draining, mutating requests get 503
// unavailable with Retry-After; reads and probes are still answered.
func TestDrainingRefusesNewWork(t *testing.T) {
	var draining atomic.Bool
	s := newServer(Deps{Draining: draining.Load, Ready: func() error {
		if draining.Load() {
			return errors.New("stopping")
		}
		return nil
	}}, func(_ *server, r chi.Router) {
		r.Post("/test/work", func(http.ResponseWriter, *http.Request) {})
		r.Get("/test/read", func(http.ResponseWriter, *http.Request) {})
	})
	serve := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	if w := serve(http.MethodPost, "/test/work"); w.Code != http.StatusOK {
		t.Fatalf("before draining: %d", w.Code)
	}
	draining.Store(true)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/test/work", http.StatusServiceUnavailable},
		{http.MethodGet, "/test/read", http.StatusOK},
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusServiceUnavailable},
	} {
		w := serve(c.method, c.path)
		if w.Code != c.want {
			t.Errorf("%s %s while draining: %d, want %d", c.method, c.path, w.Code, c.want)
		}
		if w.Code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}
}
