package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/hw"
)

// TestHeadMirrorsGet: every GET route answers HEAD with the status and
// headers of the GET, through a real HTTP server, and no body.
func TestHeadMirrorsGet(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123").Deliver(hw.Busy, "")
	s := newServer(Deps{Hub: hub}, nil) // most routes: 503, no dependency
	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)
	params := strings.NewReplacer("{msisdn}", "123", "{frequency}", "1", "{name}", "overload", "{id}", "1",
		"{file}", "app.js")
	fetch := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	for _, rt := range s.servedRoutes() {
		if rt.method != http.MethodGet {
			continue
		}
		path := params.Replace(rt.pattern)
		t.Run(path, func(t *testing.T) {
			get, body := fetch(http.MethodGet, path)
			head, none := fetch(http.MethodHead, path)
			if head.StatusCode != get.StatusCode || none != "" {
				t.Errorf("HEAD: %d with %d bytes of body; GET: %d", head.StatusCode, len(none), get.StatusCode)
			}
			for _, h := range []string{"Content-Type", "Content-Encoding"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("HEAD %s %q, GET %q", h, head.Header.Get(h), get.Header.Get(h))
				}
			}
			if (head.Header.Get("Retry-After") == "") != (get.Header.Get("Retry-After") == "") { // its value is drawn
				t.Errorf("HEAD Retry-After %q, GET %q", head.Header.Get("Retry-After"), get.Header.Get("Retry-After"))
			}
			// A small body is counted for Content-Length, as for the GET.
			if len(body) < 2048 && rt.pattern != "/metrics" && head.ContentLength != int64(len(body)) {
				t.Errorf("HEAD Content-Length %d, GET body %d bytes", head.ContentLength, len(body))
			}
		})
	}
}

// TestHeadOfAStreamEndsAtOnce: a HEAD of an event route answers what the
// GET would start with and ends, holding no stream slot; a HEAD of a long
// poll does not wait.
func TestHeadOfAStreamEndsAtOnce(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123")
	srv := httptest.NewServer(New(Deps{Hub: hub, MaxStreams: 1}))
	t.Cleanup(func() {
		// A stream a HEAD left open ends only with the server's Shutdown:
		// its writes are dropped, so it never sees the client go.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Config.Shutdown(ctx)
		srv.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name, path, accept, lastEventID string
		status                          int
		contentType                     string
	}{
		{"phone stream", "/api/v1/phones/123/events", "text/event-stream", "", 200, "text/event-stream"},
		{"global stream", "/api/v1/events", "text/event-stream", "", 200, "text/event-stream"},
		{"resumed global stream", "/api/v1/events", "text/event-stream", hub.Run() + "-0", 200, "text/event-stream"},
		{"long poll", "/api/v1/phones/123/events?wait=30", "", "", 200, "application/json"},
		{"detached phone", "/api/v1/phones/124/events", "text/event-stream", "", 404, "application/problem+json"},
		{"global as JSON", "/api/v1/events", "", "", 406, "application/problem+json"},
		{"position not reached", "/api/v1/events", "text/event-stream", hub.Run() + "-9", 400, "application/problem+json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second would be shed if the first kept the only slot
				req, _ := http.NewRequestWithContext(ctx, http.MethodHead, srv.URL+tt.path, nil)
				if tt.accept != "" {
					req.Header.Set("Accept", tt.accept)
				}
				if tt.lastEventID != "" {
					req.Header.Set("Last-Event-ID", tt.lastEventID)
				}
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err) // the deadline: the HEAD hung
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || len(body) != 0 || res.StatusCode != tt.status || res.Header.Get("Content-Type") != tt.contentType {
					t.Fatalf("HEAD %s: %d %s, %d bytes (%v); want %d %s and no body", tt.path, res.StatusCode,
						res.Header.Get("Content-Type"), len(body), err, tt.status, tt.contentType)
				}
			}
		})
	}
}
