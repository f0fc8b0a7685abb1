package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/bsc-sim/bsc/internal/coffee"
	"github.com/bsc-sim/bsc/internal/sup"
)

// coffeeServer serves the API over a real registry of machines under a
// supervisor that stops with the test.
func coffeeServer(t *testing.T) http.Handler {
	t.Helper()
	s, err := sup.Start(context.Background(), sup.Spec{
		Name: "coffee", Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 60,
		Template: sup.ChildSpec{Name: "machine", Kind: sup.Worker, Restart: sup.Transient},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Error("coffee supervisor did not stop")
		}
	})
	ms := coffee.NewMachines(s, coffee.Options{})
	return newServer(Deps{Coffee: func() CoffeeMachines { return ms }}, nil).router
}

// serve runs one request against h; body "" sends none.
func serve(h http.Handler, method, path, body string) (*http.Request, *httptest.ResponseRecorder) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return req, w
}

// matchesSpec validates an answer against the operation the spec documents
// for method and specPath.
func matchesSpec(t *testing.T, doc *openapi3.T, method, specPath string, req *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	item := doc.Paths.Find(specPath)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("no %s %s in the spec", method, specPath)
	}
	route := &routers.Route{Spec: doc, Path: specPath, PathItem: item, Method: method, Operation: item.GetOperation(method)}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 w.Code,
		Header:                 w.Header(),
		Body:                   io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s: answer does not match the spec: %v\nbody: %s", method, req.URL.Path, err, w.Body)
	}
}

// TestCoffeeResponsesMatchSpec walks a machine through its states and checks
// every answer, errors included, against api/openapi.yaml.
func TestCoffeeResponsesMatchSpec(t *testing.T) {
	doc := loadSpec(t)
	h := coffeeServer(t)
	const (
		list     = "/api/v1/coffee-machines"
		machine  = list + "/{id}"
		events   = machine + "/events"
		hardware = machine + "/hardware"
	)
	steps := []struct {
		method, path, body, spec string
		status                   int
	}{
		{"POST", list, `{"id":"m1","payment_timeout_ms":60000}`, list, 201},
		{"POST", list, "", list, 201},
		{"POST", list, `{"id":"m1"}`, list, 409},
		{"POST", list, `{"id":"no/slash"}`, list, 400},
		{"GET", list, "", list, 200},
		{"GET", list + "?limit=0", "", list, 400},
		{"GET", list + "/m1", "", machine, 200},
		{"GET", list + "/nope", "", machine, 404},
		{"POST", list + "/m1/events", `{"event":"select","drink":"tea"}`, events, 200},
		{"POST", list + "/m1/events", `{"event":"pay","coin":50}`, events, 200},
		{"POST", list + "/m1/events", `{"event":"pay","coin":0}`, events, 400},
		{"POST", list + "/nope/events", `{"event":"cancel"}`, events, 404},
		{"POST", list + "/m1/events", `{"event":"pay","coin":50}`, events, 200},
		{"POST", list + "/m1/events", `{"event":"cup_removed"}`, events, 200},
		{"POST", list + "/m1/events", `{"event":"open"}`, events, 200},
		{"GET", list + "/m1/hardware", "", hardware, 200},
		{"GET", list + "/nope/hardware", "", hardware, 404},
		{"DELETE", list + "/m1", "", machine, 204},
		{"DELETE", list + "/m1", "", machine, 404},
	}
	for _, st := range steps {
		req, w := serve(h, st.method, st.path, st.body)
		if w.Code != st.status {
			t.Fatalf("%s %s %s: status %d, want %d: %s", st.method, st.path, st.body, w.Code, st.status, w.Body)
		}
		matchesSpec(t, doc, st.method, st.spec, req, w)
	}
}

func TestCoffeeCreateValidatesTimeout(t *testing.T) {
	h := coffeeServer(t)
	for _, body := range []string{
		`{"payment_timeout_ms":0}`, `{"payment_timeout_ms":-5}`, `{"payment_timeout_ms":3600001}`,
		`{"payment_timeout_ms":1.5}`, `{"timeout":100}`, `{"id":"m1"} {}`, `not json`,
	} {
		_, w := serve(h, "POST", "/api/v1/coffee-machines", body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"code":"invalid_request"`) {
			t.Errorf("%s: %d %s, want 400 invalid_request", body, w.Code, w.Body)
		}
	}
	// None of them created a machine, so the first generated id is m1.
	_, w := serve(h, "POST", "/api/v1/coffee-machines", `{"payment_timeout_ms":3600000}`)
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/api/v1/coffee-machines/m1" {
		t.Fatalf("create at the bound: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

func TestCoffeeListPages(t *testing.T) {
	h := coffeeServer(t)
	for _, id := range []string{"c", "a", "b"} {
		if _, w := serve(h, "POST", "/api/v1/coffee-machines", `{"id":"`+id+`"}`); w.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, w.Code, w.Body)
		}
	}
	var ids []string
	path := "/api/v1/coffee-machines?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages == 3 {
			t.Fatal("paging does not end")
		}
		_, w := serve(h, "GET", path, "")
		var page List[coffee.Status]
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		for _, st := range page.Items {
			ids = append(ids, st.ID)
		}
		path = ""
		if page.Next != "" {
			path = "/api/v1/coffee-machines?limit=2&after=" + page.Next
		}
	}
	if got := strings.Join(ids, ","); got != "a,b,c" {
		t.Fatalf("listed %s, want a,b,c once each in order", got)
	}
}

// Until the app's coffee tree runs there is no registry: the routes exist
// (the spec test sees them) but answer 503.
func TestCoffeeWithoutRegistry(t *testing.T) {
	for _, d := range []Deps{{}, {Coffee: func() CoffeeMachines { return nil }}} {
		_, w := serve(newServer(d, nil).router, "GET", "/api/v1/coffee-machines/m1", "")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"unavailable"`) {
			t.Errorf("%d %s, want 503 unavailable", w.Code, w.Body)
		}
	}
}
