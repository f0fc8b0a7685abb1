package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/go-chi/chi/v5"
)

// TestContextErrors: a context error from the domain is the client's going
// away when the request's context is done (no body, the status for the
// access log only, nothing logged above debug), and the service giving up
// otherwise (503 unavailable, its Go text logged, not sent).
func TestContextErrors(t *testing.T) {
	busy := errcode.New(errcode.Busy, "busy")
	tests := []struct {
		name       string
		err        error
		clientGone bool
		status     int
		code       string // of the problem; "" for no body
		level      string // of the line logging err
	}{
		{"client gone", fmt.Errorf("phones: call 123: %w", context.Canceled), true, 499, "", "debug"},
		{"client gone past a deadline", fmt.Errorf("phones: call 123: %w", context.DeadlineExceeded), true, 499, "", "debug"},
		{"client gone, coded", fmt.Errorf("%w: %w", busy, context.Canceled), true, 499, "", "debug"},
		{"our deadline", fmt.Errorf("store /var/bsc.db: %w", context.DeadlineExceeded), false, 503, "unavailable", "warn"},
		{"our cancellation", fmt.Errorf("store /var/bsc.db: %w", context.Canceled), false, 503, "unavailable", "warn"},
		{"coded, past a deadline", fmt.Errorf("%w: %w", busy, context.DeadlineExceeded), false, 409, "busy", ""},
		{"client gone, not a context error", errors.New("store /var/bsc.db: disk I/O error"), true, 500, "internal", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			h := httpapi.NewWithRoutes(httpapi.Deps{Log: testLogger(logs)}, func(r chi.Router) {
				r.Get("/test/err", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteError(w, r, tt.err) })
			})
			req := httptest.NewRequest(http.MethodGet, "/test/err", nil)
			if tt.clientGone {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if tt.code == "" {
				if w.Code != tt.status || w.Body.Len() != 0 {
					t.Errorf("status %d, body %q; want %d and no body", w.Code, w.Body, tt.status)
				}
			} else {
				p := problemOf(t, w.Result(), tt.status, tt.code)
				if tt.level != "" && strings.Contains(p.Detail, "/var/bsc.db") {
					t.Errorf("detail %q leaks the Go error", p.Detail)
				}
			}
			var level string
			for _, l := range logs.lines(t) {
				if l["message"] == "request" && l["status"] != float64(tt.status) {
					t.Errorf("access log status %v, want %d", l["status"], tt.status)
				}
				if l["error"] == tt.err.Error() {
					level, _ = l["level"].(string)
				}
			}
			if level != tt.level {
				t.Errorf("err logged at level %q, want %q", level, tt.level)
			}
		})
	}
}
