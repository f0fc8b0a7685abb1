package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/version"
)

func decodeJSON(t *testing.T, res *http.Response, status int, dst any) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, readBody(t, res))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := json.NewDecoder(res.Body).Decode(dst); err != nil {
		t.Fatal(err)
	}
}

func TestProbes(t *testing.T) {
	ready := false
	h := httpapi.New(httpapi.Deps{Ready: func() bool { return ready }})
	var body map[string]string
	decodeJSON(t, do(t, h, request{path: "/healthz"}), 200, &body)
	if body["status"] != "ok" {
		t.Errorf("/healthz %v", body)
	}
	problemOf(t, do(t, h, request{path: "/readyz"}), http.StatusServiceUnavailable, "unavailable")
	ready = true
	decodeJSON(t, do(t, h, request{path: "/readyz"}), 200, &body)

	always := httpapi.New(httpapi.Deps{})
	decodeJSON(t, do(t, always, request{path: "/readyz"}), 200, &body)
}

func TestVersion(t *testing.T) {
	var v httpapi.Version
	decodeJSON(t, do(t, httpapi.New(httpapi.Deps{}), request{path: "/api/v1/version"}), 200, &v)
	want := httpapi.Version{Version: version.Version, Commit: version.Commit, Go: version.GoVersion}
	if v != want || v.Version == "" || v.Go == "" {
		t.Errorf("version %+v, want %+v", v, want)
	}
}

func TestSupervision(t *testing.T) {
	count := 2
	tree := sup.Node{Name: "bsc", Kind: "supervisor", Strategy: "one_for_one", State: "running", Children: []sup.Node{
		{Name: "phones", Kind: "supervisor", Restart: "permanent", State: "running", Count: &count},
	}}
	h := httpapi.New(httpapi.Deps{Tree: func() sup.Node { return tree }})
	var got sup.Node
	decodeJSON(t, do(t, h, request{path: "/api/v1/supervision"}), 200, &got)
	if got.Name != "bsc" || len(got.Children) != 1 || got.Children[0].Count == nil || *got.Children[0].Count != 2 {
		t.Errorf("tree %+v", got)
	}
	problemOf(t, do(t, httpapi.New(httpapi.Deps{}), request{path: "/api/v1/supervision"}), http.StatusServiceUnavailable, "unavailable")
}
