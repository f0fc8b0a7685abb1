package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/version"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

func (s *server) mountProbes(r chi.Router) {
	r.Get("/healthz", handle(healthz))
	r.Get("/readyz", handle(s.readyz))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{
		Registry: s.Registry, // counts the errors below in promhttp_metric_handler_errors_total
		// Scrapes bypass the in-flight limit, so they have their own bounds:
		// a few at once (the excess is 503 at once) and no longer than
		// Prometheus's default scrape timeout.
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
		// A failing collector costs its own metrics, not the others': the
		// scrape matters most when something is wrong. The failure is
		// logged and counted.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLog{s.Log},
		// OpenMetrics to a scraper that asks for it (Accept), which is
		// the format with exemplars; the text format otherwise.
		EnableOpenMetrics: true,
	}))
}

// Bounds of GET /metrics.
const (
	maxScrapes    = 4
	scrapeTimeout = 10 * time.Second
)

// promLog writes promhttp's errors to the server's log.
type promLog struct{ log zerolog.Logger }

func (l promLog) Println(v ...any) {
	l.log.Error().Msg(strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

func healthz(w http.ResponseWriter, _ *http.Request) error {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is ready when the app says so; a server without a Ready always
// is.
func (s *server) readyz(w http.ResponseWriter, _ *http.Request) error {
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			return fmt.Errorf("%w: %v", errNotReady, err)
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

var errNotReady = fmt.Errorf("%w: not ready", errUnavailable)

// Version is the body of GET /api/v1/version.
type Version struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

func (s *server) mountService(r chi.Router) {
	r.Get("/api/v1/version", handle(func(w http.ResponseWriter, _ *http.Request) error {
		WriteJSON(w, http.StatusOK, Version{Version: version.Version, Commit: version.Commit, Go: version.GoVersion})
		return nil
	}))
}
