package httpapi

import (
	"fmt"
	"net/http"

	"github.com/bsc-sim/bsc/internal/version"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (s *server) mountProbes(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil && !s.Ready() {
			WriteError(w, r, errNotReady)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
}

var errNotReady = fmt.Errorf("%w: starting or stopping", errUnavailable)

// Version is the body of GET /api/v1/version.
type Version struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

func (s *server) mountService(r chi.Router) {
	r.Get("/api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, Version{Version: version.Version, Commit: version.Commit, Go: version.GoVersion})
	})
}
