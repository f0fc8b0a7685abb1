package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// testCluster is a Cluster whose cell c is owned by owners[c]; a request
// for another node is served by that node's API, given in peers. The
// nodes in down are live but cannot be reached.
type testCluster struct {
	node     string
	owners   []string
	mu       sync.Mutex // peers, which a test may change while streams read them
	peers    map[string]*API
	down     []string
	forwards atomic.Int32 // requests forwarded to a peer
	looks    atomic.Int32 // calls of Live
}

func (c *testCluster) Node() string { return c.node }
func (c *testCluster) Cells() int   { return len(c.owners) }
func (c *testCluster) Live() []string {
	c.looks.Add(1)
	live := append([]string{c.node}, c.down...)
	c.mu.Lock()
	for n := range c.peers {
		live = append(live, n)
	}
	c.mu.Unlock()
	return live
}

// setPeer makes node live and reachable through api, or, with a nil api,
// gone.
func (c *testCluster) setPeer(node string, api *API) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if api == nil {
		delete(c.peers, node)
		return
	}
	c.peers[node] = api
}
func (c *testCluster) Owner(cell int) (string, bool) {
	return c.owners[cell], c.owners[cell] == c.node
}
func (c *testCluster) PhoneCell(context.Context, hlr.MSISDN) (int, bool, error) { return 0, false, nil }
func (c *testCluster) PhoneAttached(context.Context, hlr.MSISDN) (bool, error) {
	return false, nil
}
func (c *testCluster) HomeCell(hlr.MSISDN) int { return 0 }
func (c *testCluster) Forwarded(string)        {}
func (c *testCluster) Forward(ctx context.Context, node string, req []byte, _ time.Duration) ([]byte, error) {
	c.forwards.Add(1)
	c.mu.Lock()
	peer, ok := c.peers[node]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no node %s", node)
	}
	// Served with a routing of its own, as a node served over NATS is.
	return peer.ServeForwarded(context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil)), req), nil
}

// TestHeadSpreadOverCells: a HEAD of a read that asks every cell, one of
// them on another node, answers the headers of the GET: the cells are
// asked for their bodies, which the merged answer's length counts.
func TestHeadSpreadOverCells(t *testing.T) {
	pool := make([]int, 400)
	for i := range pool {
		pool[i] = i + 1
	}
	alloc := func(int) (Allocator, error) { return &fakeAllocator{view: frequency.View{Pool: pool, Free: pool}}, nil }
	owners := []string{"n1", "n2"}
	n2 := New(Deps{Cluster: &testCluster{node: "n2", owners: owners}, Allocator: alloc})
	n1 := New(Deps{Cluster: &testCluster{node: "n1", owners: owners, peers: map[string]*API{"n2": n2}}, Allocator: alloc})
	srv := httptest.NewServer(n1)
	t.Cleanup(srv.Close)
	fetch := func(method string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/frequencies", nil)
		req.Header.Set("Accept-Encoding", "gzip") // a length is then set: the compressed body's
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get, head := fetch(http.MethodGet), fetch(http.MethodHead)
	if get.StatusCode != http.StatusOK || head.StatusCode != get.StatusCode ||
		head.Header.Get("Content-Length") != get.Header.Get("Content-Length") {
		t.Errorf("HEAD %d, Content-Length %q; GET %d, Content-Length %q", head.StatusCode,
			head.Header.Get("Content-Length"), get.StatusCode, get.Header.Get("Content-Length"))
	}
}

// TestSpreadKeepsRouteLabels: a read spread over cells served here counts
// under its route, the cells' parts too, not under a pattern made of the
// route twice (the parts once shared the client request's routing).
func TestSpreadKeepsRouteLabels(t *testing.T) {
	alloc := func(int) (Allocator, error) {
		return &fakeAllocator{view: frequency.View{Pool: []int{1}, Free: []int{1}}}, nil
	}
	s := newServer(Deps{Cluster: &testCluster{node: "n1", owners: []string{"n1", "n1"}}, Allocator: alloc}, nil)
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/frequencies", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	served := map[string]bool{unmatchedRoute: true}
	for _, rt := range s.servedRoutes() {
		served[rt.pattern] = true
	}
	mfs, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "bsc_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && !served[l.GetValue()] {
					t.Errorf("requests counted under route %q, not a served route", l.GetValue())
				}
				if l.GetName() == "route" && l.GetValue() == "/api/v1/frequencies" {
					counted += m.GetCounter().GetValue()
				}
			}
		}
	}
	if counted != 3 { // the client's request and each cell's part
		t.Errorf("%g requests counted under /api/v1/frequencies, want 3", counted)
	}
}

// An answer carried back from the owner of a cell has one request id: the
// one this node gave the request, which the owner was sent and logged.
func TestForwardedAnswerHasOneRequestID(t *testing.T) {
	alloc := func(int) (Allocator, error) {
		return &fakeAllocator{view: frequency.View{Pool: []int{1}, Free: []int{1}}}, nil
	}
	owners := []string{"n1", "n2"}
	n2 := New(Deps{Cluster: &testCluster{node: "n2", owners: owners}, Allocator: alloc})
	n1 := New(Deps{Cluster: &testCluster{node: "n1", owners: owners, peers: map[string]*API{"n2": n2}}, Allocator: alloc})
	srv := httptest.NewServer(n1)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/api/v1/frequencies?cell=1") // cell 1 is n2's
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ids := res.Header.Values(RequestIDHeader); res.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Errorf("forwarded answer: %d with request ids %q, want 200 with one", res.StatusCode, ids)
	}
}

// A request a node makes of itself on a client's behalf (a cell's part of
// a spread, a relay's next poll) is routed afresh: the client request's
// routing context does not grow with each one (a relay polls on and on),
// nor does its route label.
func TestServeAtRoutesAfresh(t *testing.T) {
	alloc := func(int) (Allocator, error) {
		return &fakeAllocator{view: frequency.View{Pool: []int{1}, Free: []int{1}}}, nil
	}
	s := newServer(Deps{Cluster: &testCluster{node: "n1", owners: []string{"n1"}}, Allocator: alloc}, nil)
	client := chi.NewRouteContext()
	client.URLParams.Add("msisdn", "123")
	client.RoutePatterns = []string{"/api/v1/phones/{msisdn}/events"}
	ctx := context.WithValue(context.Background(), chi.RouteCtxKey, client)
	for range 3 {
		sub := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/frequencies?cell=0", nil)
		rec, err := s.serveAt(sub, "n1", true)
		if err != nil || rec.status != http.StatusOK {
			t.Fatalf("served here: %v %d %s", err, rec.status, rec.body.String())
		}
	}
	if len(client.URLParams.Keys) != 1 || len(client.RoutePatterns) != 1 {
		t.Errorf("the client's routing context grew: params %v, patterns %v", client.URLParams.Keys, client.RoutePatterns)
	}
}

// TestIsLongPoll: the forwarded requests bounded apart as long polls are
// the GETs of events with ?wait=, told from the bytes a node forwards.
func TestIsLongPoll(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		want           bool
	}{
		{http.MethodGet, "/api/v1/events?after=0a1b2c3d-4&wait=10", true},
		{http.MethodGet, "/api/v1/events?wait=10&msisdn=1,2", true},
		{http.MethodGet, "/api/v1/phones/4670000001/events?after=3&wait=10", true},
		{http.MethodGet, "/api/v1/phones/4670000001/events?after=3", false},
		{http.MethodGet, "/api/v1/phones/4670000001", false},
		{http.MethodPost, "/api/v1/phones/4670000001/actions?wait=1", false},
		{http.MethodGet, "/healthz?wait=1", false},
	} {
		req := httptest.NewRequest(tc.method, tc.target, nil)
		var b bytes.Buffer
		if err := req.Write(&b); err != nil {
			t.Fatal(err)
		}
		if got := IsLongPoll(b.Bytes()); got != tc.want {
			t.Errorf("%s %s: IsLongPoll = %v, want %v", tc.method, tc.target, got, tc.want)
		}
	}
	if IsLongPoll([]byte("garbage")) || IsLongPoll(nil) {
		t.Error("IsLongPoll of bytes that are no request: true")
	}
}
