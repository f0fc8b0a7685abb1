package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/frequency"
)

// TestMissingDependencies: a server given no dependency at all answers
// every route that needs one with 503 unavailable naming what is missing,
// and serves the others (probes, version, metrics, the observer's files)
// with the status given.
func TestMissingDependencies(t *testing.T) {
	s := newServer(Deps{}, nil)
	free := map[string]int{
		"/healthz": 200, "/readyz": 200, "/metrics": 200, "/api/v1/version": 200,
		"/ui": 301, "/ui/": 200, "/ui/{file}": 200,
	}
	params := strings.NewReplacer("{msisdn}", "123", "{frequency}", "1", "{name}", "overload", "{id}", "1",
		"{file}", "app.js")
	for _, rt := range s.servedRoutes() {
		key := rt.method + " " + rt.pattern
		t.Run(key, func(t *testing.T) {
			_, w := serve(s.router, rt.method, params.Replace(rt.pattern), "")
			if want, ok := free[rt.pattern]; ok && (rt.method == http.MethodGet || rt.method == http.MethodHead) {
				if w.Code != want {
					t.Errorf("status %d, want %d: %s", w.Code, want, w.Body)
				}
				return
			}
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusServiceUnavailable ||
				p.Code != "unavailable" || !strings.HasPrefix(p.Detail, "service unavailable: no ") {
				t.Errorf("%d %s, want 503 unavailable naming what is missing", w.Code, w.Body)
			}
		})
	}
}

// fakeAllocator is an Allocator that shows view and records what it is
// asked to allocate.
type fakeAllocator struct {
	view  frequency.View
	asked []string
}

func (f *fakeAllocator) View() frequency.View { return f.view }

func (f *fakeAllocator) Allocate(owner string, ttl time.Duration) (frequency.Allocation, error) {
	f.asked = append(f.asked, fmt.Sprintf("%s for %v", owner, ttl))
	return frequency.Allocation{Frequency: 7, Owner: owner}, nil
}

func (f *fakeAllocator) Deallocate(string, int) error { return frequency.ErrNotAllocated }

// TestRoutesUseTheCurrentIncarnation: the frequency routes ask the lookup
// for the allocator at each request, answer its error while there is none,
// and a 503 for an allocator that stopped under them (no pool).
func TestRoutesUseTheCurrentIncarnation(t *testing.T) {
	var cur Allocator
	restarting := fmt.Errorf("%w: frequency allocator restarting", errUnavailable)
	h := newServer(Deps{Allocator: func(int) (Allocator, error) {
		if cur == nil {
			return nil, restarting
		}
		return cur, nil
	}}, nil).router

	if _, w := serve(h, http.MethodGet, "/api/v1/frequencies", ""); w.Code != 503 ||
		!strings.Contains(w.Body.String(), "restarting") {
		t.Errorf("no allocator: %d %s, want 503 with the lookup's error", w.Code, w.Body)
	}
	stopped := &fakeAllocator{}
	cur = stopped
	if _, w := serve(h, http.MethodGet, "/api/v1/frequencies", ""); w.Code != 503 {
		t.Errorf("stopped allocator: %d %s, want 503", w.Code, w.Body)
	}
	running := &fakeAllocator{view: frequency.View{Pool: []int{7, 8}}}
	cur = running
	if _, w := serve(h, http.MethodGet, "/api/v1/frequencies", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"pool":[7,8]`) {
		t.Errorf("running allocator: %d %s, want 200 with its view", w.Code, w.Body)
	}
	_, w := serve(h, http.MethodPost, "/api/v1/frequencies/allocations", `{"owner":"client-7","ttl_seconds":60}`)
	if w.Code != 201 || len(running.asked) != 1 || running.asked[0] != "client-7 for 1m0s" || len(stopped.asked) != 0 {
		t.Errorf("allocate: %d %s, asked %q, want 201 from the running allocator", w.Code, w.Body, running.asked)
	}
	if _, w := serve(h, http.MethodDelete, "/api/v1/frequencies/allocations/8?owner=client-7", ""); w.Code != 404 ||
		!strings.Contains(w.Body.String(), `"code":"not_allocated"`) {
		t.Errorf("deallocate: %d %s, want the fake's not_allocated", w.Code, w.Body)
	}
}
