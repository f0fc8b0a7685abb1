package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	dto "github.com/prometheus/client_model/go"
)

func TestCustomMethods(t *testing.T) {
	var got []string
	s := newServer(Deps{}, func(s *server, r chi.Router) {
		r.Get("/api/v1/processes/{name}", func(w http.ResponseWriter, r *http.Request) {
			got = append(got, "get "+chi.URLParam(r, "name"))
		})
		s.customMethods(r, "/api/v1/processes/{name}", map[string]handler{
			"crash": func(w http.ResponseWriter, r *http.Request) error {
				got = append(got, "crash "+chi.URLParam(r, "name")+" "+r.PathValue("name")+" "+r.Pattern)
				w.WriteHeader(http.StatusAccepted)
				return nil
			},
			"hibernate": func(w http.ResponseWriter, r *http.Request) error { return nil },
		})
	})
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{http.MethodPost, "/api/v1/processes/phone:123:crash", 202, "crash phone:123 phone:123 /api/v1/processes/{name}:crash"},
		{http.MethodPost, "/api/v1/processes/frequency:crash", 202, "crash frequency frequency /api/v1/processes/{name}:crash"},
		{http.MethodGet, "/api/v1/processes/phone:123", 200, "get phone:123"},
		{http.MethodPost, "/api/v1/processes/phone:123", 404, ""},
		{http.MethodPost, "/api/v1/processes/frequency", 404, ""},
		{http.MethodPost, "/api/v1/processes/coffee:m1:explode", 404, ""},
	}
	for _, tt := range tests {
		got = nil
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
			t.Errorf("%s %s: handler saw %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}

	var m dto.Metric
	if err := s.metrics.requests.WithLabelValues("/api/v1/processes/{name}:crash", "POST", "202").Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 2 {
		t.Errorf("requests counted under the documented pattern: %v, want 2", n)
	}
	var routes []string
	for _, rt := range s.servedRoutes() {
		if strings.HasPrefix(rt.pattern, "/api/v1/processes/") {
			routes = append(routes, rt.method+" "+rt.pattern)
		}
	}
	slices.Sort(routes)
	want := []string{
		"GET /api/v1/processes/{name}",
		"HEAD /api/v1/processes/{name}",
		"POST /api/v1/processes/{name}:crash",
		"POST /api/v1/processes/{name}:hibernate",
		"PUT /api/v1/processes/{name}/trace", // the real server's, untouched by the test
	}
	if !slices.Equal(routes, want) {
		t.Errorf("served routes %q, want %q", routes, want)
	}
}

func TestNeverShed(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := newServer(Deps{MaxInflight: 1}, func(s *server, r chi.Router) {
		r.Get("/test/block", func(http.ResponseWriter, *http.Request) {
			entered <- struct{}{}
			<-release
		})
		r.Post("/test/release", func(http.ResponseWriter, *http.Request) {})
		r.Post("/test/take", func(http.ResponseWriter, *http.Request) {})
		s.neverShed(http.MethodPost, "/test/release")
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/test/block", nil))
	}()
	<-entered
	for path, want := range map[string]int{"/test/release": 200, "/test/take": 503} {
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, nil))
		if w.Code != want {
			t.Errorf("POST %s while full: %d, want %d", path, w.Code, want)
		}
	}
	close(release)
	<-done
}
