package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/bsc-sim/bsc/internal/sup"
)

// fakeProcess is a process that can be inspected, traced and crashed.
type fakeProcess struct {
	name    string
	trace   bool
	crashed int
}

func (p *fakeProcess) Inspect() sup.Info {
	return sup.Info{Name: p.name, Status: "running", Trace: p.trace}
}
func (p *fakeProcess) SetTrace(on bool) { p.trace = on }
func (p *fakeProcess) Crash()           { p.crashed++ }
func processesOf(ps ...*fakeProcess) func(string) (Process, error) {
	return func(name string) (Process, error) {
		for _, p := range ps {
			if p.name == name {
				return p, nil
			}
		}
		return nil, fmt.Errorf("%w: no such process %q", errNotFound, name)
	}
}

// TestProcessNameWithSlash: a cluster node's cell processes are named
// cell:N/frequency (docs/cluster.md), which a path carries percent-encoded;
// every process route finds the process by its decoded name, on the node
// that runs its cell.
func TestProcessNameWithSlash(t *testing.T) {
	owners := []string{"n1", "n2"}
	here, there := &fakeProcess{name: "cell:0/frequency"}, &fakeProcess{name: "cell:1/frequency"}
	n2 := New(Deps{Cluster: &testCluster{node: "n2", owners: owners}, Process: processesOf(there), FaultInjection: true})
	n1 := New(Deps{Cluster: &testCluster{node: "n1", owners: owners, peers: map[string]*API{"n2": n2}},
		Process: processesOf(here), FaultInjection: true})
	for _, p := range []*fakeProcess{here, there} {
		cell := p.name[len("cell:") : len("cell:")+1]
		path := "/api/v1/processes/cell:" + cell + "%2Ffrequency"
		t.Run(p.name, func(t *testing.T) {
			_, w := serve(n1, http.MethodGet, path, "")
			var info sup.Info
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &info) != nil || info.Name != p.name {
				t.Errorf("GET %s: %d %s, want 200 with %s", path, w.Code, w.Body, p.name)
			}
			if _, w := serve(n1, http.MethodPut, path+"/trace", `{"enabled": true}`); w.Code != http.StatusOK || !p.trace {
				t.Errorf("PUT %s/trace: %d %s, trace %v; want 200 and tracing", path, w.Code, w.Body, p.trace)
			}
			_, w = serve(n1, http.MethodPost, path+":crash", "")
			var crashing Crashing
			if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &crashing) != nil ||
				crashing.Name != p.name || p.crashed != 1 {
				t.Errorf("POST %s:crash: %d %s, crashed %d times; want 202 naming %s, crashed once",
					path, w.Code, w.Body, p.crashed, p.name)
			}
		})
	}
}

// TestProcessCrashable: a process's answer says whether POST :crash would
// crash it: only with fault injection on, and only a process that can be.
func TestProcessCrashable(t *testing.T) {
	crashable := &fakeProcess{name: "frequency"}
	other := struct{ Process }{&fakeProcess{name: "phones"}} // no Crash method
	lookup := func(name string) (Process, error) {
		if name == "phones" {
			return other, nil
		}
		return crashable, nil
	}
	tests := []struct {
		name  string
		fault bool
		want  bool
	}{
		{"frequency", true, true},
		{"frequency", false, false},
		{"phones", true, false},
	}
	for _, tt := range tests {
		h := New(Deps{Process: lookup, FaultInjection: tt.fault})
		for _, rt := range []struct{ method, path, body string }{
			{http.MethodGet, "/api/v1/processes/" + tt.name, ""},
			{http.MethodPut, "/api/v1/processes/" + tt.name + "/trace", `{"enabled": false}`},
		} {
			_, w := serve(h, rt.method, rt.path, rt.body)
			var v ProcessView
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &v) != nil || v.Crashable != tt.want {
				t.Errorf("%s %s, fault injection %v: %d %s, want crashable %v", rt.method, rt.path, tt.fault,
					w.Code, w.Body, tt.want)
			}
		}
	}
}
