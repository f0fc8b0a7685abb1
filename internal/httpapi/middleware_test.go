package httpapi_test

import (
	"github.com/bsc-sim/bsc/internal/testutil"

	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// testRoutes are mounted next to the real routes, behind the same middleware.
func testRoutes(r chi.Router) {
	r.Get("/test/panic", func(http.ResponseWriter, *http.Request) { panic("secret panic value") })
	r.Get("/test/fail", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, errors.New("secret db path /var/x"))
	})
	echo := func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := httpapi.Decode(r, &body); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, body)
	}
	r.Post("/test/echo", echo)
	r.Delete("/test/echo", echo)
	r.With(httpapi.BodyLimit(3<<20)).Post("/test/big", echo)
	r.Post("/test/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
	})
}

func TestRequestID(t *testing.T) {
	logs := &logBuffer{}
	h := httpapi.NewWithRoutes(httpapi.Deps{Log: testLogger(logs)}, testRoutes)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"echoed", "abc-123_XYZ", true},
		{"longest echoed", strings.Repeat("a", 128), true},
		{"none sent", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"space", "a b", false},
		{"control", "a\x01b", false},
		{"non-ASCII", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{path: "/healthz", header: map[string]string{"X-Request-Id": tt.sent}})
			got := res.Header.Get("X-Request-Id")
			if tt.echoed && got != tt.sent {
				t.Errorf("X-Request-Id %q, want %q echoed", got, tt.sent)
			}
			if !tt.echoed && (got == "" || got == tt.sent || len(got) > 128) {
				t.Errorf("X-Request-Id %q, want a fresh id", got)
			}
		})
	}
	a := do(t, h, request{path: "/healthz"}).Header.Get("X-Request-Id")
	b := do(t, h, request{path: "/healthz"}).Header.Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

func TestInternalErrorIsLoggedNotLeaked(t *testing.T) {
	logs := &logBuffer{}
	h := httpapi.NewWithRoutes(httpapi.Deps{Log: testLogger(logs)}, testRoutes)
	res := do(t, h, request{path: "/test/fail", header: map[string]string{"X-Request-Id": "req-1"}})
	p := problemOf(t, res, http.StatusInternalServerError, "internal")
	if strings.Contains(p.Detail, "secret") || !strings.Contains(p.Detail, "req-1") {
		t.Errorf("detail %q: want the request id and not the Go error", p.Detail)
	}
	var found bool
	for _, l := range logs.lines(t) {
		if l["level"] == "error" {
			found = true
			if l["request_id"] != "req-1" || !strings.Contains(l["error"].(string), "secret db path") {
				t.Errorf("error log line %v: want request_id req-1 and the error", l)
			}
		}
	}
	if !found {
		t.Error("internal error not logged")
	}
}

func TestRecovery(t *testing.T) {
	logs := &logBuffer{}
	h := httpapi.NewWithRoutes(httpapi.Deps{Log: testLogger(logs)}, testRoutes)
	res := do(t, h, request{path: "/test/panic", header: map[string]string{"X-Request-Id": "req-2"}})
	p := problemOf(t, res, http.StatusInternalServerError, "internal")
	if strings.Contains(p.Detail, "secret") || strings.Contains(p.Detail, "goroutine") {
		t.Errorf("detail %q leaks the panic", p.Detail)
	}
	var errorLines int
	for _, l := range logs.lines(t) {
		if l["level"] == "error" {
			errorLines++
			stack, _ := l["stack"].(string)
			if l["message"] != "handler panicked" || l["request_id"] != "req-2" || l["panic"] != "secret panic value" ||
				!strings.Contains(stack, "middleware_test.go") {
				t.Errorf("panic log line %v", l)
			}
		}
	}
	if errorLines != 1 {
		t.Errorf("%d error log lines, want 1", errorLines)
	}
	// The server goes on serving.
	if res := do(t, h, request{path: "/healthz"}); res.StatusCode != http.StatusOK {
		t.Errorf("after a panic: /healthz %d", res.StatusCode)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := httpapi.New(httpapi.Deps{})
	problemOf(t, do(t, h, request{path: "/api/v1/nope"}), http.StatusNotFound, "not_found")
	res := do(t, h, request{method: http.MethodPost, path: "/healthz"})
	if allow := res.Header.Values("Allow"); !slices.Equal(allow, []string{http.MethodGet, http.MethodHead}) {
		t.Errorf("Allow %q, want GET and HEAD", allow)
	}
	problemOf(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	problemOf(t, do(t, h, request{method: "BREW", path: "/healthz"}), http.StatusMethodNotAllowed, "method_not_allowed")
	// HEAD is served where GET is, and nowhere else.
	res = do(t, h, request{method: http.MethodHead, path: "/api/v1/subscribers:bulk"})
	if allow := res.Header.Values("Allow"); !slices.Equal(allow, []string{http.MethodPost}) {
		t.Errorf("HEAD of a POST route: Allow %q, want POST", allow)
	}
	problemOf(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestDecode(t *testing.T) {
	h := httpapi.NewWithRoutes(httpapi.Deps{}, testRoutes)
	json := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		detail string
	}{
		{"ok", request{body: `{"a": 1}`, header: json}, 200, "", ""},
		{"no content type", request{body: `{"a": 1}`}, 200, "", ""},
		{"json with charset", request{body: `{"a": 1}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 200, "", ""},
		{"trailing space", request{body: "{}\n  \n"}, 200, "", ""},
		{"problem+json", request{body: `{"a": 1}`, header: map[string]string{"Content-Type": "application/problem+json"}}, 200, "", ""},
		{"identity encoding", request{body: `{"a": 1}`, header: map[string]string{"Content-Encoding": "identity"}}, 200, "", ""},
		{"form", request{body: `a=1`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type", "Content-Type"},
		{"text", request{body: `{"a": 1}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", "Content-Type"},
		{"malformed content type", request{body: `{"a": 1}`, header: map[string]string{"Content-Type": "application/"}}, 415, "unsupported_media_type", "Content-Type"},
		{"compressed", request{body: "\x1f\x8b", header: map[string]string{"Content-Encoding": "gzip"}}, 415, "unsupported_media_type", "Content-Encoding"},
		{"empty", request{}, 400, "invalid_request", "empty body"},
		{"malformed", request{body: `{"a": }`}, 400, "invalid_request", "malformed JSON"},
		{"truncated", request{body: `{"a": 1`}, 400, "invalid_request", "malformed JSON"},
		{"two values", request{body: `{} {}`}, 400, "invalid_request", "single JSON value"},
		{"wrong type", request{body: `[1]`}, 400, "invalid_request", "want map"},
		{"invalid UTF-8 in a string", request{body: "{\"a\": \"\xff\xfe\"}"}, 400, "invalid_request", "UTF-8"},
		{"too large", request{body: `{"a": "` + strings.Repeat("x", 1<<20) + `"}`}, 413, "too_large", "1048576"},
		{"too large after a value", request{body: "{}" + strings.Repeat(" ", 1<<20) + "{}"}, 413, "too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.method, tt.req.path = http.MethodPost, "/test/echo"
			res := do(t, h, tt.req)
			if tt.status == 200 {
				if res.StatusCode != 200 {
					t.Fatalf("status %d: %s", res.StatusCode, readBody(t, res))
				}
				return
			}
			p := problemOf(t, res, tt.status, tt.code)
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q, want it to mention %q", p.Detail, tt.detail)
			}
		})
	}
}

func TestUnknownField(t *testing.T) {
	h := httpapi.NewWithRoutes(httpapi.Deps{}, func(r chi.Router) {
		r.Post("/test/strict", func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Owner string `json:"owner"`
			}
			if err := httpapi.Decode(r, &body); err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusCreated, body)
		})
	})
	p := problemOf(t, do(t, h, request{method: http.MethodPost, path: "/test/strict", body: `{"owner": "a", "ownr": "b"}`}),
		http.StatusBadRequest, "invalid_request")
	if !strings.Contains(p.Detail, `unknown field "ownr"`) {
		t.Errorf("detail %q", p.Detail)
	}
	p = problemOf(t, do(t, h, request{method: http.MethodPost, path: "/test/strict", body: `{"owner": 7}`}),
		http.StatusBadRequest, "invalid_request")
	if !strings.Contains(p.Detail, `field "owner"`) {
		t.Errorf("detail %q", p.Detail)
	}
	if res := do(t, h, request{method: http.MethodPost, path: "/test/strict", body: `{"owner": "a"}`}); res.StatusCode != http.StatusCreated {
		t.Errorf("status %d", res.StatusCode)
	}
}

func TestBodyLimitPerRoute(t *testing.T) {
	h := httpapi.NewWithRoutes(httpapi.Deps{}, testRoutes)
	big := `{"a": "` + strings.Repeat("x", 2<<20) + `"}`
	problemOf(t, do(t, h, request{method: http.MethodPost, path: "/test/echo", body: big}), http.StatusRequestEntityTooLarge, "too_large")
	if res := do(t, h, request{method: http.MethodPost, path: "/test/big", body: big}); res.StatusCode != http.StatusOK {
		t.Errorf("route with a 3 MiB limit: status %d", res.StatusCode)
	}
	huge := `{"a": "` + strings.Repeat("x", 4<<20) + `"}`
	problemOf(t, do(t, h, request{method: http.MethodPost, path: "/test/big", body: huge}), http.StatusRequestEntityTooLarge, "too_large")
}

func TestAuth(t *testing.T) {
	const token = "s3cret"
	h := httpapi.NewWithRoutes(httpapi.Deps{Token: token}, testRoutes)
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"read without token", http.MethodGet, "/api/v1/version", "", 200},
		{"probe without token", http.MethodGet, "/healthz", "", 200},
		{"post without token", http.MethodPost, "/test/echo", "", 401},
		{"delete without token", http.MethodDelete, "/test/echo", "", 401},
		{"wrong token", http.MethodPost, "/test/echo", "Bearer nope", 401},
		{"token prefix", http.MethodPost, "/test/echo", "Bearer s3cre", 401},
		{"other scheme", http.MethodPost, "/test/echo", "Basic czNjcmV0", 401},
		{"bare token", http.MethodPost, "/test/echo", token, 401},
		{"right token", http.MethodPost, "/test/echo", "Bearer " + token, 200},
		{"scheme in lower case", http.MethodPost, "/test/echo", "bearer " + token, 200},
		{"right token on delete", http.MethodDelete, "/test/echo", "Bearer " + token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: tt.method, path: tt.path, body: "{}", header: map[string]string{"Authorization": tt.auth}})
			if tt.want == 401 {
				problemOf(t, res, http.StatusUnauthorized, "unauthorized")
				if res.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	open := httpapi.NewWithRoutes(httpapi.Deps{}, testRoutes)
	if res := do(t, open, request{method: http.MethodPost, path: "/test/echo", body: "{}"}); res.StatusCode != 200 {
		t.Errorf("no token configured: POST status %d, want 200", res.StatusCode)
	}
}

func TestMetricsByRoutePattern(t *testing.T) {
	reg := httpapi.NewRegistry()
	h := httpapi.NewWithRoutes(httpapi.Deps{Registry: reg}, testRoutes)
	if v, ok := testutil.Metric(t, reg, "bsc_http_request_duration_seconds", "route", "/api/v1/version", "method", "GET"); !ok || v != 0 {
		t.Errorf("duration series of a route before any request: %v, %v; want 0 present", v, ok)
	}
	for _, id := range []string{"41", "42"} {
		do(t, h, request{method: http.MethodPost, path: "/test/items/" + id})
	}
	do(t, h, request{path: "/no/such/path/42"})
	do(t, h, request{path: "/test/panic"})

	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", "/test/items/{id}", "method", "POST", "code", "200"}, 2},
		{[]string{"route", "unmatched", "method", "GET", "code", "404"}, 1},
		{[]string{"route", "/test/panic", "method", "GET", "code", "500"}, 1},
	} {
		if v, _ := testutil.Metric(t, reg, "bsc_http_requests_total", tt.labels...); v != tt.want {
			t.Errorf("bsc_http_requests_total%v = %v, want %v", tt.labels, v, tt.want)
		}
	}
	if v, _ := testutil.Metric(t, reg, "bsc_http_request_duration_seconds", "route", "/test/items/{id}", "method", "POST"); v != 2 {
		t.Errorf("duration samples %v, want 2", v)
	}

	res := do(t, h, request{path: "/metrics"})
	body := readBody(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("/metrics %d", res.StatusCode)
	}
	for _, want := range []string{"bsc_build_info{", "go_goroutines", "process_", "bsc_http_requests_total{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, raw := range []string{"/test/items/42", "/no/such/path"} {
		if strings.Contains(body, raw) {
			t.Errorf("/metrics has a raw path %s", raw)
		}
	}
}

func TestMetricsSurviveNewServer(t *testing.T) {
	reg := httpapi.NewRegistry()
	do(t, httpapi.New(httpapi.Deps{Registry: reg}), request{path: "/api/v1/version"})
	do(t, httpapi.New(httpapi.Deps{Registry: reg}), request{path: "/api/v1/version"}) // must not panic
	labels := []string{"route", "/api/v1/version", "method", "GET", "code", "200"}
	if v, _ := testutil.Metric(t, reg, "bsc_http_requests_total", labels...); v != 2 {
		t.Errorf("count over two servers %v, want 2", v)
	}
}

func TestShedding(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock() // also when an assertion below stops the test early
	var sheds atomic.Int32
	reg := prometheus.NewRegistry()
	h := httpapi.NewWithRoutes(httpapi.Deps{
		Registry: reg, MaxInflight: 1, OnShed: func() { sheds.Add(1) },
		Ready: func() error { return nil },
	}, func(r chi.Router) {
		testRoutes(r)
		r.Get("/test/block", func(w http.ResponseWriter, _ *http.Request) {
			entered <- struct{}{}
			<-release
			w.WriteHeader(http.StatusNoContent)
		})
	})
	done := make(chan int)
	go func() {
		res := do(t, h, request{path: "/test/block"})
		done <- res.StatusCode
	}()
	<-entered // the only slot is taken

	res := do(t, h, request{path: "/api/v1/version"})
	if after := res.Header.Get("Retry-After"); after != "1" && after != "2" {
		t.Errorf("Retry-After %q, want 1 or 2", after)
	}
	problemOf(t, res, http.StatusServiceUnavailable, "overloaded")
	problemOf(t, do(t, h, request{method: http.MethodPost, path: "/test/echo", body: "{}"}), http.StatusServiceUnavailable, "overloaded")
	if n := sheds.Load(); n != 2 {
		t.Errorf("OnShed called %d times, want 2", n)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if res := do(t, h, request{path: path}); res.StatusCode != http.StatusOK {
			t.Errorf("%s while shedding: %d, want 200", path, res.StatusCode)
		}
	}
	if res := do(t, h, request{method: http.MethodDelete, path: "/test/echo", body: "{}"}); res.StatusCode != http.StatusOK {
		t.Errorf("DELETE while shedding: %d, want 200 (releases are never shed)", res.StatusCode)
	}

	unblock()
	if code := <-done; code != http.StatusNoContent {
		t.Errorf("blocked request: %d", code)
	}
	if res := do(t, h, request{path: "/api/v1/version"}); res.StatusCode != http.StatusOK {
		t.Errorf("after the slot is free: %d, want 200", res.StatusCode)
	}
	labels := []string{"route", "/api/v1/version", "method", "GET", "code", "503"}
	if v, _ := testutil.Metric(t, reg, "bsc_http_requests_total", labels...); v != 1 {
		t.Errorf("shed requests counted by route: %v, want 1", v)
	}
}

func TestWriteErrorStatuses(t *testing.T) {
	h := func(err error) http.Handler {
		return httpapi.NewWithRoutes(httpapi.Deps{}, func(r chi.Router) {
			r.Get("/test/err", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteError(w, r, err) })
		})
	}
	byStatus := map[int][]errcode.Code{
		400: {errcode.InvalidRequest, errcode.InvalidMSISDN, errcode.UnknownDrink, errcode.UnknownEvent, errcode.InvalidCoin},
		401: {errcode.Unauthorized},
		403: {errcode.NotOwner},
		404: {errcode.NotFound, errcode.UnknownSubscriber, errcode.NotAttached, errcode.InvalidNumber,
			errcode.NotAllocated, errcode.NotInstalled},
		405: {errcode.MethodNotAllowed},
		406: {errcode.NotAcceptable},
		409: {errcode.AlreadyExists, errcode.AlreadyAttached, errcode.AlreadyInstalled, errcode.Attached,
			errcode.Busy, errcode.InvalidState, errcode.NoFrequency},
		413: {errcode.TooLarge},
		503: {errcode.Unavailable, errcode.Overloaded},
	}
	tests := map[errcode.Code]int{}
	for status, codes := range byStatus {
		for _, code := range codes {
			tests[code] = status
		}
	}
	for code, status := range tests {
		t.Run(code.String(), func(t *testing.T) {
			err := fmt.Errorf("%w: more detail", errcode.New(code, "message of "+code.String()))
			res := do(t, h(err), request{path: "/test/err"})
			p := problemOf(t, res, status, code.String())
			if p.Detail != "message of "+code.String()+": more detail" {
				t.Errorf("detail %q", p.Detail)
			}
			if got := res.Header.Get("Retry-After"); (status == http.StatusServiceUnavailable) != (got != "") {
				t.Errorf("Retry-After %q", got)
			}
		})
	}
	for name, err := range map[string]error{
		"plain error":   errors.New("disk on fire"),
		"no code":       errcode.New(errcode.None, "disk on fire"),
		"unknown code":  errcode.New(errcode.Code(200), "disk on fire"),
		"internal code": errcode.New(errcode.Internal, "disk on fire"),
	} {
		t.Run(name, func(t *testing.T) {
			p := problemOf(t, do(t, h(err), request{path: "/test/err"}), 500, "internal")
			if strings.Contains(p.Detail, "fire") {
				t.Errorf("detail %q leaks the error", p.Detail)
			}
		})
	}
}

// Request series start at zero for every route's success and common error
// codes, so that rate() counts the first error too.
func TestRequestSeriesStartAtZero(t *testing.T) {
	reg := httpapi.NewRegistry()
	httpapi.New(httpapi.Deps{Registry: reg})
	for _, labels := range [][]string{
		{"route", "/api/v1/version", "method", "GET", "code", "200"},
		{"route", "/api/v1/version", "method", "GET", "code", "500"},
		{"route", "/api/v1/version", "method", "GET", "code", "503"},
		{"route", "unmatched", "method", "GET", "code", "404"},
	} {
		if v, ok := testutil.Metric(t, reg, "bsc_http_requests_total", labels...); !ok || v != 0 {
			t.Errorf("bsc_http_requests_total%v = %v (present %v), want a zero series", labels, v, ok)
		}
	}
}
