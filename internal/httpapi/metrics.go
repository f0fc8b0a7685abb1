package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bsc-sim/bsc/internal/version"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog/hlog"
)

// NewRegistry is the registry the server exposes on /metrics, with the Go
// and process collectors and bsc_build_info already in it. Every package
// registers its own metrics on it (no global registry).
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bsc_build_info",
		Help: "Always 1; the labels tell which build is running.",
	}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(version.Version, version.Commit, version.GoVersion).Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
	)
	return reg
}

// unmatchedRoute labels requests that matched no route (404, 405), so a
// scan of random paths cannot grow the number of series.
const unmatchedRoute = "unmatched"

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// Exemplars of duration, one sampler per request speed (see
	// observeDuration).
	ordinary, slow exemplarSampler
}

// Exemplars. The request id of an observation of the duration histogram
// leads from a bucket (a slow request, say) to the request's log lines.
// Prometheus keeps one exemplar per bucket and scrape, while making one
// costs allocations: at most one ordinary request in exemplarEvery gets
// one, and one slow request (slowRequest or more) in exemplarEvery too,
// so that the rare slow request is not crowded out by the many fast ones.
// Only OpenMetrics scrapes show exemplars.
const (
	exemplarEvery = 100 * time.Millisecond
	slowRequest   = 100 * time.Millisecond
	// exemplarLabel names the request id; with it an exemplar's labels
	// may have prometheus.ExemplarMaxRunes, so a longer client id gets
	// none.
	exemplarLabel = "request_id"
	maxExemplarID = prometheus.ExemplarMaxRunes - len(exemplarLabel)
)

// exemplarSampler lets one exemplar through per exemplarEvery.
type exemplarSampler struct{ next atomic.Int64 } // unix nanos

// take tells whether an observation at now gets an exemplar: a load for
// those that do not, which is nearly all of them.
func (s *exemplarSampler) take(now int64) bool {
	next := s.next.Load()
	return now >= next && s.next.CompareAndSwap(next, now+int64(exemplarEvery))
}

// observeDuration observes a request's duration, with its id as an
// exemplar when the sampler of its speed lets one through.
func (m *httpMetrics) observeDuration(obs prometheus.Observer, r *http.Request, start time.Time, elapsed time.Duration) {
	s := &m.ordinary
	if elapsed >= slowRequest {
		s = &m.slow
	}
	if id := RequestID(r); len(id) <= maxExemplarID && s.take(start.UnixNano()+int64(elapsed)) {
		// The histograms of client_golang are ExemplarObservers.
		obs.(prometheus.ExemplarObserver).ObserveWithExemplar(elapsed.Seconds(), prometheus.Labels{exemplarLabel: id})
		return
	}
	obs.Observe(elapsed.Seconds())
}

// newHTTPMetrics registers the HTTP metrics, or reuses those already on reg
// so a restarted server keeps counting where the last one stopped.
func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bsc_http_requests_total",
			Help: "HTTP requests served, by chi route pattern, method and status code.",
		}, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bsc_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by chi route pattern and method.",
			// Handlers are sub-millisecond when idle; long polls last up to 30 s.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"})),
		inflight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bsc_http_requests_in_flight",
			Help: "API requests being served, streams, long polls, probes and scrapes apart: what a graceful stop waits for.",
		})),
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err) // a name clash between our own metrics: a programming error
	}
	return c
}

// initCodes are the status codes whose request series start at zero on
// every route, besides its success codes: a series born at 1 loses its
// first increment to rate(), so the first errors would never show.
var initCodes = []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
	http.StatusInternalServerError, http.StatusServiceUnavailable}

// successCodes are the codes a route of this method answers when all goes well.
func successCodes(method string) []int {
	switch method {
	case http.MethodPost:
		return []int{http.StatusOK, http.StatusCreated, http.StatusAccepted}
	case http.MethodDelete:
		return []int{http.StatusNoContent}
	}
	return []int{http.StatusOK}
}

// init creates a route's series at zero.
func (m *httpMetrics) init(route, method string) {
	m.duration.WithLabelValues(route, method)
	for _, code := range append(successCodes(method), initCodes...) {
		m.requests.WithLabelValues(route, method, strconv.Itoa(code))
	}
}

// observe counts and times every request, labelled by route pattern, and
// writes the access log line at debug level. It wraps the recovery
// middleware so a panic is counted as the 500 it became.
func (m *httpMetrics) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		route, method := routePattern(r), methodLabel(r.Method)
		if route == "" {
			route = unmatchedRoute
		}
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.observeDuration(m.duration.WithLabelValues(route, method), r, start, elapsed)
		hlog.FromRequest(r).Debug().
			Str("method", r.Method).Str("route", route).Int("status", status).
			Dur("duration", elapsed).Msg("request")
	})
}

// routePattern is the chi route pattern that served r, "" before routing
// or when nothing matched.
func routePattern(r *http.Request) string {
	return chi.RouteContext(r.Context()).RoutePattern()
}

// methodLabel keeps the method label bounded: a client can send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
