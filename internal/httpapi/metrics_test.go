package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// BenchmarkObserve is the metrics middleware on a request that does
// nothing, behind the request id as in the server.
func BenchmarkObserve(b *testing.B) {
	m := newHTTPMetrics(NewRegistry())
	r := chi.NewRouter()
	r.Use(requestID, m.observe)
	r.Post("/api/v1/phones/{msisdn}/actions", func(http.ResponseWriter, *http.Request) {})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/phones/123/actions", nil)
	req.Header.Set(RequestIDHeader, "bench")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		r.ServeHTTP(w, req)
	}
}
