package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/config"
)

// startTestApp runs the real service in-process: a fresh database and
// overload log in a temporary directory, the supervision trees started, the
// API behind an httptest server. mutate, if not nil, adjusts the config
// (config.Default() otherwise). Everything stops when the test ends.
func startTestApp(t *testing.T, mutate func(*config.Config)) (*App, *httptest.Server) {
	t.Helper()
	a := newTestApp(t, mutate)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, serveTestApp(t, a)
}

// newTestApp is startTestApp's App, not started yet.
func newTestApp(t *testing.T, mutate func(*config.Config)) *App {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DB = filepath.Join(dir, "bsc.db")
	cfg.ShutdownTimeout = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(context.Background(), cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	a.OverloadLog = filepath.Join(dir, "overload.log")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

// serveTestApp serves a's API until the test ends.
func serveTestApp(t *testing.T, a *App) *httptest.Server {
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request with an optional JSON body (nil: none) and returns
// the status and the body read in full, after checking the answer is one
// api/openapi.yaml documents.
func call(t *testing.T, srv *httptest.Server, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkSpec(t, req, res, out)
	return res.StatusCode, out
}

var spec = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// checkSpec fails the test if the answer to req is not documented, status
// and body, in api/openapi.yaml.
func checkSpec(t *testing.T, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	router, err := spec()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		// An undocumented request may only be refused as one.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in api/openapi.yaml: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s: the answer does not match api/openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, err, body)
	}
}

// callJSON is call that wants status and decodes the answer into out
// (nil: the body is not read as JSON).
func callJSON(t *testing.T, srv *httptest.Server, method, path string, body any, status int, out any) {
	t.Helper()
	got, raw := call(t, srv, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, path, raw, err)
		}
	}
}

// wantProblem checks that the request is refused with status and code.
func wantProblem(t *testing.T, srv *httptest.Server, method, path string, body any, status int, code string) {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	callJSON(t, srv, method, path, body, status, &p)
	if p.Status != status || p.Code != code {
		t.Fatalf("%s %s: problem %+v, want status %d code %s", method, path, p, status, code)
	}
}

// listAll reads every page of a paged list at path?query, limit at a time.
// A page may be short and still have a next (a list that bounds its scan).
func listAll[T any](t *testing.T, srv *httptest.Server, path, query string, limit int) []T {
	t.Helper()
	out := []T{}
	after := ""
	for {
		var page struct {
			Items []T
			Next  string
		}
		callJSON(t, srv, http.MethodGet, fmt.Sprintf("%s?limit=%d&after=%s&%s", path, limit, after, query), nil, http.StatusOK, &page)
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		if len(page.Items) > limit {
			t.Fatalf("%s: a page of %d items, more than the limit %d", path, len(page.Items), limit)
		}
		after = page.Next
	}
}
