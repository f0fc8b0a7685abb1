package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

func TestExemplarSampler(t *testing.T) {
	var s exemplarSampler
	const ms = int64(time.Millisecond)
	for _, c := range []struct {
		at   int64
		want bool
	}{{0, true}, {1 * ms, false}, {99 * ms, false}, {100 * ms, true}, {150 * ms, false}, {500 * ms, true}, {501 * ms, false}} {
		if got := s.take(c.at); got != c.want {
			t.Errorf("take at %d ms: %v, want %v", c.at/ms, got, c.want)
		}
	}
}

// TestDurationExemplars: an observation takes the request id as exemplar
// when its sampler lets it, fast and slow requests each with their own, and
// a request id too long for an exemplar is observed without one.
func TestDurationExemplars(t *testing.T) {
	m := newHTTPMetrics(prometheus.NewRegistry())
	h := m.duration.WithLabelValues("/x", "GET")
	req := func(id string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	}
	t0 := time.Unix(1_700_000_000, 0)
	for _, o := range []struct {
		id      string
		at      time.Duration
		elapsed time.Duration
	}{
		{"fast-1", 0, time.Millisecond},                // taken
		{"fast-2", time.Millisecond, time.Millisecond}, // not: too soon after fast-1
		{"slow-1", 2 * time.Millisecond, time.Second},  // taken: slow ones have their own
		{strings.Repeat("x", maxExemplarID+1), time.Hour, time.Millisecond},
	} {
		m.observeDuration(h, req(o.id), t0.Add(o.at), o.elapsed)
	}
	var out dto.Metric
	if err := h.(prometheus.Metric).Write(&out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range out.GetHistogram().GetBucket() {
		if e := b.GetExemplar(); e != nil {
			got = append(got, fmt.Sprintf("%s at le=%g", e.GetLabel()[0].GetValue(), b.GetUpperBound()))
		}
	}
	if want := []string{"fast-1 at le=0.001", "slow-1 at le=1"}; !slices.Equal(got, want) {
		t.Errorf("exemplars %v, want %v", got, want)
	}
	if n := out.GetHistogram().GetSampleCount(); n != 4 {
		t.Errorf("%d observations, want 4", n)
	}
}
