package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/go-chi/chi/v5"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br", "gzip;q=0.5"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate"}, false},
		{[]string{"gzip;q=0"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"identity"}, false},
		{[]string{"gzip;q=x"}, false},
		{[]string{"gzip;q=2"}, false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("Accept-Encoding %q: %v, want %v", tt.header, got, tt.want)
		}
	}
}

// list is a JSON list of n items, as a list route answers.
func list(n int) map[string][]string {
	items := make([]string, n)
	for i := range items {
		items[i] = "item " + strconv.Itoa(i)
	}
	return map[string][]string{"items": items}
}

// TestGzipLargeBodies: a large JSON body of a GET or HEAD is gzipped for a
// client that asks; a small one, one of another method, or one nobody asked
// to compress is not, and a stream never is.
func TestGzipLargeBodies(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123")
	s := newServer(Deps{Hub: hub}, func(_ *server, r chi.Router) {
		answer := func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			WriteJSON(w, http.StatusOK, list(n))
		}
		r.Get("/test/list", answer)
		r.Post("/test/list", answer)
	})
	tests := []struct {
		name, method, path, acceptEncoding string
		gzipped, vary                      bool
	}{
		{"large, gzip asked", http.MethodGet, "/test/list?n=200", "gzip", true, true},
		{"large, gzip among others", http.MethodGet, "/test/list?n=200", "br;q=1.0, gzip;q=0.8", true, true},
		{"large, any coding", http.MethodGet, "/test/list?n=200", "*", true, true},
		{"large, HEAD", http.MethodHead, "/test/list?n=200", "gzip", true, true},
		{"large, not asked", http.MethodGet, "/test/list?n=200", "", false, true},
		{"large, refused", http.MethodGet, "/test/list?n=200", "gzip;q=0", false, true},
		{"large, POST", http.MethodPost, "/test/list?n=200", "gzip", false, true},
		{"small", http.MethodGet, "/test/list?n=3", "gzip", false, false},
		{"problem", http.MethodGet, "/api/v1/nope", "gzip", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			w := httptest.NewRecorder()
			s.router.ServeHTTP(w, req)
			res := w.Result()
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", res.Header.Get("Content-Encoding"), tt.gzipped)
			}
			if got := res.Header.Get("Vary") == "Accept-Encoding"; got != tt.vary {
				t.Errorf("Vary %q, want Accept-Encoding %v", res.Header.Get("Vary"), tt.vary)
			}
			body := w.Body.Bytes()
			if tt.gzipped {
				if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
					t.Errorf("Content-Length %s, body %d bytes", cl, len(body))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if tt.path == "/test/list?n=200" {
				var got map[string][]string
				if err := json.Unmarshal(body, &got); err != nil || len(got["items"]) != 200 {
					t.Errorf("body: %d items, %v", len(got["items"]), err)
				}
			}
		})
	}

	t.Run("stream", func(t *testing.T) {
		srv := httptest.NewServer(s.router)
		t.Cleanup(srv.Close)
		for range 100 { // more than gzipMinSize of replies waiting
			hub.Device("123").Deliver(hw.Busy, "")
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/phones/123/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line := make([]byte, len(": stream open"))
		if _, err := io.ReadFull(res.Body, line); err != nil || res.Header.Get("Content-Encoding") != "" ||
			!strings.HasPrefix(string(line), ": stream open") {
			t.Errorf("stream: Content-Encoding %q, starts %q (%v); want plain text", res.Header.Get("Content-Encoding"), line, err)
		}
	})
}

// BenchmarkOfferGzip is what offerGzip adds to a request: nothing but a
// comparison for a POST (the phone actions), a small allocation for a GET
// that came with Accept-Encoding (parsed only for a large body).
func BenchmarkOfferGzip(b *testing.B) {
	h := offerGzip(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		b.Run(method, func(b *testing.B) {
			req := httptest.NewRequest(method, "/", nil)
			req.Header.Set("Accept-Encoding", "gzip") // Go's client sends it on every request
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestGzipSpreadOverCells: a read that asks every cell is gzipped as a
// whole for a client that asks, and each cell's answer, read here, is not:
// every cell's body is in the answer.
func TestGzipSpreadOverCells(t *testing.T) {
	pool := make([]int, 400) // a cell's answer well over gzipMinSize
	for i := range pool {
		pool[i] = i + 1
	}
	alloc := &fakeAllocator{view: frequency.View{Pool: pool, Free: pool}}
	s := newServer(Deps{Cluster: &testCluster{node: "n1", owners: []string{"n1", "n1"}}, Allocator: func(int) (Allocator, error) { return alloc, nil }}, nil)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/frequencies", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d, Content-Encoding %q; want 200 gzip: %.300s", w.Code, w.Header().Get("Content-Encoding"), w.Body)
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cells []struct {
			Cell int   `json:"cell"`
			Pool []int `json:"pool"`
		} `json:"cells"`
	}
	if err := json.NewDecoder(zr).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Cells) != 2 {
		t.Fatalf("%d cells, want 2", len(got.Cells))
	}
	for _, c := range got.Cells {
		if len(c.Pool) != len(pool) {
			t.Errorf("cell %d: a pool of %d, want %d", c.Cell, len(c.Pool), len(pool))
		}
	}
}
