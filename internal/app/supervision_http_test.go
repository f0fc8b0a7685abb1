package app

import (
	"bufio"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// The overload handlers, introspection and supervision over HTTP, black box.

const handlersAPI = "/api/v1/overload/handlers"

func withFaultInjection(c *config.Config) { c.FaultInjection = true }

func processInfo(t *testing.T, srv *httptest.Server, name string) sup.Info {
	t.Helper()
	var info sup.Info
	callJSON(t, srv, http.MethodGet, "/api/v1/processes/"+name, nil, http.StatusOK, &info)
	return info
}

func tree(t *testing.T, srv *httptest.Server) sup.Node {
	t.Helper()
	var n sup.Node
	callJSON(t, srv, http.MethodGet, "/api/v1/supervision", nil, http.StatusOK, &n)
	return n
}

// restarts is each child of bsc's restart count and start time, when the
// whole tree is running; nil while some part of it is not.
func restarts(t *testing.T, srv *httptest.Server) map[string]sup.Node {
	t.Helper()
	out := map[string]sup.Node{}
	for _, c := range tree(t, srv).Children {
		if c.State != "running" || c.StartedAt == nil {
			return nil
		}
		c.Children = nil
		out[c.Name] = c
	}
	return out
}

// crash crashes process name and waits until the tree runs again with the
// restart counts of want (child: restarts), returning the tree's children.
func crash(t *testing.T, srv *httptest.Server, name string, want map[string]int) map[string]sup.Node {
	t.Helper()
	callJSON(t, srv, http.MethodPost, "/api/v1/processes/"+name+":crash", nil, http.StatusAccepted, nil)
	var got map[string]sup.Node
	testutil.Eventually(t, waitLimit, name+"'s restart", func() bool {
		got = restarts(t, srv)
		for child, n := range want {
			if got[child].Restarts != n {
				return false
			}
		}
		return got != nil
	})
	return got
}

// TestCrashFrequencyHTTP: rest_for_one restarts the allocator and the
// phones after it; the overload manager and its counters are untouched.
func TestCrashFrequencyHTTP(t *testing.T) {
	_, srv := startTestApp(t, withFaultInjection)
	for range 6 {
		allocate(t, srv, "c")
	}
	wantProblem(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": "c"}, http.StatusConflict, "no_frequency")
	for f := 10; f <= 15; f++ {
		release(t, srv, "c", f)
	}
	before, counted := restarts(t, srv), counters(t, srv)
	if len(counted) == 0 {
		t.Fatal("no counters to keep")
	}

	after := crash(t, srv, "frequency", map[string]int{"overload": 0, "frequency": 1, "phones": 1})
	for _, child := range []string{"frequency", "phones"} {
		if !after[child].StartedAt.After(*before[child].StartedAt) {
			t.Errorf("%s started at %v, not after %v: not restarted", child, after[child].StartedAt, before[child].StartedAt)
		}
	}
	if !after["overload"].StartedAt.Equal(*before["overload"].StartedAt) {
		t.Error("overload restarted")
	}
	if got := counters(t, srv); !maps.Equal(got, counted) {
		t.Errorf("counters after the allocator's restart %v, want unchanged %v", got, counted)
	}
	if n := tree(t, srv).Restarts; n != 1 {
		t.Errorf("bsc restarts %d, want 1", n)
	}
	if v := frequencies(t, srv); len(v.Free) != 6 {
		t.Errorf("restarted allocator %+v, want every frequency free", v)
	}
}

// TestCrashOverloadHTTP: the overload manager is bsc's first child, so
// everything restarts, and its counters start afresh.
func TestCrashOverloadHTTP(t *testing.T) {
	_, srv := startTestApp(t, withFaultInjection)
	for range 7 {
		allocateOrDenied(t, srv)
	}
	if len(counters(t, srv)) == 0 {
		t.Fatal("no counters to reset")
	}
	crash(t, srv, "overload", map[string]int{"overload": 1, "frequency": 1, "phones": 1})
	if got := counters(t, srv); len(got) != 0 {
		t.Errorf("counters after the manager's restart %v, want none", got)
	}
}

// allocateOrDenied allocates, or finds the pool exhausted: either way the
// overload manager gets events.
func allocateOrDenied(t *testing.T, srv *httptest.Server) {
	t.Helper()
	status, body := call(t, srv, http.MethodPost, allocationsAPI, map[string]string{"owner": "c"})
	if status != http.StatusCreated && status != http.StatusConflict {
		t.Fatalf("allocate: %d %s", status, body)
	}
}

// TestProcessesHTTP inspects each kind of process and switches tracing.
func TestProcessesHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	allocate(t, srv, "c")
	callJSON(t, srv, http.MethodPost, "/api/v1/coffee-machines", map[string]string{"id": "m1"}, http.StatusCreated, nil)
	for name, state := range map[string]string{
		"overload":  "handlers: counters, logger",
		"frequency": "free=5 allocated=1 blocked=0",
		"phones":    "children=0 restarts=0",
		"coffee:m1": "selection",
	} {
		info := processInfo(t, srv, name)
		if info.Name != name || info.Status != "running" || info.StartedAt.IsZero() || !strings.Contains(info.State, state) {
			t.Errorf("%s: %+v, want running with state %q", name, info, state)
		}
	}
	if log := processInfo(t, srv, "frequency").Log; len(log) == 0 || log[len(log)-1].Kind != "allocate" {
		t.Errorf("frequency's log %+v, want the allocation last", log)
	}

	for _, name := range []string{"overload", "frequency", "coffee:m1"} {
		for _, on := range []bool{true, false} {
			var info sup.Info
			callJSON(t, srv, http.MethodPut, "/api/v1/processes/"+name+"/trace", map[string]bool{"enabled": on}, http.StatusOK, &info)
			if info.Trace != on || processInfo(t, srv, name).Trace != on {
				t.Errorf("%s: trace %v after switching it to %v", name, info.Trace, on)
			}
		}
	}
}

type handlerJSON struct{ Name, Target string }

func handlerList(t *testing.T, srv *httptest.Server) []handlerJSON {
	t.Helper()
	var l struct{ Items []handlerJSON }
	callJSON(t, srv, http.MethodGet, handlersAPI, nil, http.StatusOK, &l)
	return l.Items
}

// TestOverloadHandlersHTTP: list, delete, add and swap handlers; a swapped
// logger goes on numbering its records in the new file.
func TestOverloadHandlersHTTP(t *testing.T) {
	a, srv := startTestApp(t, nil)
	dir := filepath.Dir(a.cfg.DB)
	want := []handlerJSON{{"counters", ""}, {"logger", "overload.log"}, {"alarms", ""}}
	if got := handlerList(t, srv); !slices.Equal(got, want) {
		t.Fatalf("handlers %+v, want %+v", got, want)
	}

	callJSON(t, srv, http.MethodDelete, handlersAPI+"/alarms", nil, http.StatusNoContent, nil)
	wantProblem(t, srv, http.MethodGet, "/api/v1/alarms", nil, http.StatusNotFound, "not_installed")
	callJSON(t, srv, http.MethodPost, handlersAPI, map[string]string{"name": "alarms"}, http.StatusCreated, nil)
	if got := handlerList(t, srv); !slices.Equal(got, want) {
		t.Fatalf("handlers after delete and add %+v, want %+v", got, want)
	}

	for range 7 { // six allocations, one refused: three records
		allocateOrDenied(t, srv)
	}
	counters(t, srv) // the events are handled
	if ids := logIDs(t, filepath.Join(dir, "overload.log")); !slices.Equal(ids, []uint64{1, 2, 3}) {
		t.Fatalf("overload.log records %v, want 1 2 3", ids)
	}
	var h handlerJSON
	callJSON(t, srv, http.MethodPost, handlersAPI+"/logger:swap", map[string]string{"target": "events.log"}, http.StatusOK, &h)
	if h != (handlerJSON{"logger", "events.log"}) {
		t.Errorf("swap answered %+v", h)
	}
	release(t, srv, "c", 15) // clears no_frequency: record 4
	counters(t, srv)
	if ids := logIDs(t, filepath.Join(dir, "events.log")); !slices.Equal(ids, []uint64{4}) {
		t.Errorf("events.log records %v, want 4, numbered on from overload.log", ids)
	}
	want[1].Target = "events.log"
	if got := handlerList(t, srv); !slices.Equal(got, want) {
		t.Errorf("handlers after the swap %+v, want %+v", got, want)
	}
	// Readers see file names, not where the service keeps them.
	if info := processInfo(t, srv, "overload"); strings.Contains(info.State, dir) || !strings.Contains(info.State, "logger(events.log)") {
		t.Errorf("overload's state %q shows a path, or not the logger's file", info.State)
	}
}

// logIDs is the record numbers of a logger file.
func logIDs(t *testing.T, path string) []uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Record uint64 `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		ids = append(ids, rec.Record)
	}
	return ids
}

// TestOverloadAndProcessErrorsHTTP checks each refusal of the alarm,
// overload and process routes, and that a refused logger target creates no
// file.
func TestOverloadAndProcessErrorsHTTP(t *testing.T) {
	a, srv := startTestApp(t, nil)
	_, faulty := startTestApp(t, withFaultInjection)
	target := func(s string) map[string]string { return map[string]string{"target": s} }
	swap := handlersAPI + "/logger:swap"
	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"limit 0", srv, "GET", "/api/v1/alarms/history?limit=0", nil, 400, "invalid_request"},
		{"limit over max", srv, "GET", "/api/v1/alarms/history?limit=1001", nil, 400, "invalid_request"},
		{"bad cursor", srv, "GET", "/api/v1/alarms/history?after=!!", nil, 400, "invalid_request"},
		{"cursor not a seq", srv, "GET", "/api/v1/alarms/history?after=YWJj", nil, 400, "invalid_request"},
		{"installed", srv, "POST", handlersAPI, map[string]string{"name": "counters"}, 409, "already_installed"},
		{"unknown handler", srv, "POST", handlersAPI, map[string]string{"name": "pager"}, 400, "invalid_request"},
		{"unknown field", srv, "POST", handlersAPI, map[string]string{"name": "logger", "file": "x.log"}, 400, "invalid_request"},
		{"delete not installed", srv, "DELETE", handlersAPI + "/pager", nil, 404, "not_installed"},
		{"swap unknown", srv, "POST", handlersAPI + "/pager:swap", target("stdout"), 400, "invalid_request"},
		{"target of counters", srv, "POST", handlersAPI + "/counters:swap", target("c.log"), 400, "invalid_request"},
		{"parent directory", srv, "POST", swap, target("../escape.log"), 400, "invalid_request"},
		{"absolute path", srv, "POST", swap, target("/tmp/escape.log"), 400, "invalid_request"},
		{"subdirectory", srv, "POST", swap, target("sub/escape.log"), 400, "invalid_request"},
		{"hidden file", srv, "POST", swap, target(".escape.log"), 400, "invalid_request"},
		{"the database", srv, "POST", swap, target("bsc.db"), 400, "invalid_request"},
		{"add with a path", srv, "POST", handlersAPI, map[string]string{"name": "logger", "target": "../escape.log"}, 400, "invalid_request"},
		{"unknown process", srv, "GET", "/api/v1/processes/switch", nil, 404, "not_found"},
		{"phone", srv, "GET", "/api/v1/processes/phone:123", nil, 404, "not_found"},
		{"unknown machine", srv, "GET", "/api/v1/processes/coffee:nope", nil, 404, "not_found"},
		{"trace without enabled", srv, "PUT", "/api/v1/processes/frequency/trace", map[string]string{}, 400, "invalid_request"},
		{"trace not a bool", srv, "PUT", "/api/v1/processes/frequency/trace", map[string]string{"enabled": "yes"}, 400, "invalid_request"},
		{"trace a supervisor", srv, "PUT", "/api/v1/processes/phones/trace", map[string]bool{"enabled": true}, 400, "invalid_request"},
		{"trace unknown", srv, "PUT", "/api/v1/processes/switch/trace", map[string]bool{"enabled": true}, 404, "not_found"},
		{"crash without fault injection", srv, "POST", "/api/v1/processes/frequency:crash", nil, 404, "not_found"},
		{"crash unknown", faulty, "POST", "/api/v1/processes/switch:crash", nil, 404, "not_found"},
		{"unknown verb", faulty, "POST", "/api/v1/processes/frequency:explode", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, tt.srv, tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}
	dir := filepath.Dir(a.cfg.DB)
	for _, path := range []string{filepath.Join(dir, "..", "escape.log"), "/tmp/escape.log", filepath.Join(dir, ".escape.log")} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want no such file", path, err)
		}
	}
	if n := tree(t, srv).Restarts; n != 0 {
		t.Errorf("bsc restarted %d times: a refused crash crashed something", n)
	}
}
