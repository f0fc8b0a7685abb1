package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/testutil"
	"github.com/rs/zerolog"
)

// logBuffer collects log lines; handlers may log from several goroutines.
type logBuffer struct{ testutil.LogBuffer }

// lines returns the logged JSON lines as maps.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

type request struct {
	method, path, body string
	header             map[string]string
}

func do(t *testing.T, h http.Handler, req request) *http.Response {
	t.Helper()
	if req.method == "" {
		req.method = http.MethodGet
	}
	r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// problemOf checks res is a problem+json with the status and code, and
// returns it.
func problemOf(t *testing.T, res *http.Response, status int, code string) httpapi.Problem {
	t.Helper()
	body := readBody(t, res)
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p httpapi.Problem
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || p.Code != code || p.Type == "" || p.Title == "" {
		t.Errorf("problem %+v, want status %d code %s with type and title", p, status, code)
	}
	if res.Header.Get(httpapi.RequestIDHeader) == "" {
		t.Error("no X-Request-Id on the error")
	}
	return p
}

func testLogger(buf io.Writer) zerolog.Logger {
	return zerolog.New(buf).Level(zerolog.DebugLevel)
}
