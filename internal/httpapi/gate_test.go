package httpapi

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// TestGate: through the real listener, a request waits at most the queue
// wait for one of the gate's tokens and is then refused 503 overloaded;
// probes never wait, a release is served without a token, and a token
// comes back when its request is answered.
func TestGate(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := newServer(Deps{Registry: prometheus.NewRegistry()}, func(s *server, r chi.Router) {
		r.Post("/test/block", func(http.ResponseWriter, *http.Request) {
			entered <- struct{}{}
			<-release
		})
		r.Post("/test/work", func(http.ResponseWriter, *http.Request) {})
		r.Delete("/test/free", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitConnections(inner, Limits{MaxActive: 1, QueueWait: 10 * time.Millisecond}, nil, prometheus.NewRegistry())
	srv := &http.Server{Handler: s.router, ConnContext: ConnContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + inner.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}

	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := client.Post(url+"/test/block", "application/json", nil)
		if err == nil {
			res.Body.Close()
		}
	}()
	<-entered // the only token is taken
	do := func(method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(""))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := do(http.MethodPost, "/test/work"); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("work while the token is held: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := do(http.MethodGet, "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz while the token is held: %d", res.StatusCode)
	}
	if res := do(http.MethodDelete, "/test/free"); res.StatusCode != http.StatusNoContent {
		t.Errorf("a release while the token is held: %d", res.StatusCode)
	}
	close(release)
	<-done
	if res := do(http.MethodPost, "/test/work"); res.StatusCode != http.StatusOK {
		t.Errorf("work once the token is back: %d", res.StatusCode)
	}
}
