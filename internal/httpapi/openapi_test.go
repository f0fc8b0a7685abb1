package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

const specPath = "../../api/openapi.yaml"

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", specPath, err)
	}
	return doc
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routeKey compares paths by the position of their parameters, not their
// names: /phones/{msisdn} in chi and /phones/{id} in the spec are the same.
func routeKey(method, path string) string {
	return method + " " + pathParam.ReplaceAllString(path, "{}")
}

// TestSpecMatchesRoutes fails when a served route is missing from
// api/openapi.yaml or the spec lists a route that is not served.
func TestSpecMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	spec := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec[routeKey(method, path)] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range newServer(Deps{}, nil).servedRoutes() {
		served[routeKey(rt.method, rt.pattern)] = true
	}
	for k := range served {
		if !spec[k] {
			t.Errorf("served but not in %s: %s", specPath, k)
		}
	}
	for k := range spec {
		if !served[k] {
			t.Errorf("in %s but not served: %s", specPath, k)
		}
	}
}

// TestSpecBodiesMayBeRefused: every route taking a body is behind the body
// limit and reads it with Decode, so its answers include 413 too_large and
// 415 unsupported_media_type.
func TestSpecBodiesMayBeRefused(t *testing.T) {
	doc := loadSpec(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, status := range []string{"413", "415"} {
				if op.RequestBody != nil && op.Responses.Value(status) == nil {
					t.Errorf("%s %s takes a body but lists no %s", method, path, status)
				}
			}
		}
	}
}

// TestServiceResponsesMatchSpec validates real answers of the service
// routes against their schemas.
func TestServiceResponsesMatchSpec(t *testing.T) {
	doc := loadSpec(t)
	// OpenMetrics is text, as the text format is.
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	count := 3
	tree := sup.Node{Name: "bsc", Kind: "supervisor", Strategy: "rest_for_one", MaxRestarts: 3, MaxSeconds: 5,
		State: "running", StartedAt: &started, Children: []sup.Node{
			{Name: "frequency", Kind: "worker", Restart: "permanent", State: "running", Restarts: 1, StartedAt: &started},
			{Name: "phones", Kind: "supervisor", Strategy: "simple_one_for_one", Restart: "permanent", State: "running", Count: &count},
		}}
	ready := true
	h := newServer(Deps{Ready: readiness(&ready), Tree: func() sup.Node { return tree }}, nil).router
	notReady := newServer(Deps{Ready: notReady}, nil).router
	// GET /api/v1/cluster as a single node answers it, and as a cluster
	// node with a node down since a moment it gives.
	single := newServer(Deps{Ready: readiness(&ready), ClusterStatus: func() ClusterStatus {
		return ClusterStatus{Node: "bsc", Mode: "single", Cells: 1, Nodes: []NodeStatus{{Name: "bsc", State: "up", Cells: []int{0}}},
			CellOwners: []CellOwner{{Cell: 0, Owner: "bsc", Preferred: "bsc", State: "serving"}}}
	}}, nil).router
	clustered := newServer(Deps{Ready: readiness(&ready), ClusterStatus: func() ClusterStatus {
		return ClusterStatus{Node: "n1", Mode: "embedded", Cells: 2, Home: "n1",
			Nodes: []NodeStatus{{Name: "n1", State: "up", Cells: []int{0, 1}, LastSeen: &started, Version: "v1.2.3"},
				{Name: "n2", State: "down", Cells: []int{}, LastSeen: &started}},
			CellOwners: []CellOwner{{Cell: 0, Owner: "n1", Epoch: 7, Preferred: "n1", State: "serving"},
				{Cell: 1, Owner: "n1", Epoch: 9, Preferred: "n2", State: "handing_off"}},
			Streams: []StreamStatus{{Name: "BSC_CALLS", Leader: "n1", Replicas: 3}}}
	}}, nil).router
	tests := []struct {
		handler    http.Handler
		path, spec string
		status     int
		accept     string
	}{
		{h, "/healthz", "/healthz", 200, ""},
		{h, "/readyz", "/readyz", 200, ""},
		{notReady, "/readyz", "/readyz", 503, ""},
		{h, "/metrics", "/metrics", 200, ""},
		{h, "/metrics", "/metrics", 200, "application/openmetrics-text;version=1.0.0"},
		{h, "/api/v1/version", "/api/v1/version", 200, ""},
		{h, "/api/v1/supervision", "/api/v1/supervision", 200, ""},
		{notReady, "/api/v1/supervision", "/api/v1/supervision", 503, ""},
		{single, "/api/v1/cluster", "/api/v1/cluster", 200, ""},
		{clustered, "/api/v1/cluster", "/api/v1/cluster", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.accept, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			item := doc.Paths.Find(tt.spec)
			if item == nil || item.Get == nil {
				t.Fatalf("no GET %s in the spec", tt.spec)
			}
			route := &routers.Route{Spec: doc, Path: tt.spec, PathItem: item, Method: http.MethodGet, Operation: item.Get}
			err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
				Status:                 w.Code,
				Header:                 w.Header(),
				Body:                   io.NopCloser(bytes.NewReader(w.Body.Bytes())),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			})
			if err != nil {
				t.Errorf("response does not match the spec: %v\nbody: %s", err, w.Body)
			}
		})
	}
}

// readiness is a Ready that follows *ready.
func readiness(ready *bool) func() error {
	return func() error {
		if *ready {
			return nil
		}
		return errors.New("starting")
	}
}

// notReady is a Ready that never is.
func notReady() error { return errors.New("starting") }

// TestSpecAuthIsOptional: the server asks for a token only when started
// with one, so every mutating operation offers "no token" beside the bearer
// token ([{}, {bearer: []}]) and reads ask for nothing; a generated client
// or validating proxy then lets token-less calls through.
func TestSpecAuthIsOptional(t *testing.T) {
	doc := loadSpec(t)
	if len(doc.Security) != 0 {
		t.Errorf("document-level security %v, want none", doc.Security)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Fatalf("components.securitySchemes.bearer is not an http bearer scheme")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var got openapi3.SecurityRequirements
			if op.Security != nil {
				got = *op.Security
			}
			switch {
			case mutating(method):
				if len(got) != 2 || len(got[0]) != 0 || len(got[1]) != 1 || got[1]["bearer"] == nil || len(got[1]["bearer"]) != 0 {
					t.Errorf("%s %s: security %v, want [{}, {bearer: []}]", method, path, got)
				}
				if op.Responses.Value("401") == nil {
					t.Errorf("%s %s: no 401 for a wrong or missing token", method, path)
				}
			case op.Security != nil:
				t.Errorf("%s %s: a read with security %v", method, path, got)
			}
		}
	}
}
