package httpapi

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/sup"
)

// Process is a supervised process as introspection sees it (the book's sys
// module). One that also has a Crash() method can be killed by fault
// injection.
type Process interface {
	sup.Inspector
	sup.Tracer
}

type crasher interface{ Crash() }

// ProcessView is a process as the process routes answer it: what it tells
// of itself, and whether POST :crash can crash it (fault injection on, and
// a process that can be crashed), so that a client such as the observer
// knows where to offer it.
type ProcessView struct {
	sup.Info
	Crashable bool `json:"crashable"`
}

func (s *server) view(p Process) ProcessView {
	_, ok := p.(crasher)
	return ProcessView{Info: p.Inspect(), Crashable: ok && s.FaultInjection}
}

// TraceRequest is the body of PUT /api/v1/processes/{name}/trace.
type TraceRequest struct {
	Enabled *bool `json:"enabled"`
}

// Crashing is the body of the 202 of POST /api/v1/processes/{name}:crash:
// the crash is on its way; the supervision tree shows the restart.
type Crashing struct {
	Name string `json:"name"`
}

var errNoFaultInjection = fmt.Errorf("%w: fault injection is off (start the server with --fault-injection)", errNotFound)

func (s *server) mountProcesses(r chi.Router) {
	r = need(r, s.Process != nil, "process registry")
	r.Get("/api/v1/processes/{name}", handle(s.inspectProcess))
	r.Put("/api/v1/processes/{name}/trace", handle(s.traceProcess))
	s.customMethods(r, "/api/v1/processes/{name}", map[string]handler{"crash": s.crashProcess})
}

// process is the current incarnation of the process the path names.
func (s *server) process(r *http.Request) (Process, error) {
	return s.Process(processName(r))
}

// processName is the process the path names. A name with a slash
// (cell:N/frequency) comes percent-encoded, cell:0%2Ffrequency: chi routes
// on the path as sent, so the parameter is still encoded then.
func processName(r *http.Request) string {
	name := chi.URLParam(r, "name")
	if r.URL.RawPath == "" {
		return name // the path had nothing encoded: chi routed on the decoded one
	}
	if decoded, err := url.PathUnescape(name); err == nil {
		return decoded
	}
	return name
}

func (s *server) inspectProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := s.process(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, s.view(p))
	return nil
}

func (s *server) traceProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := s.process(r)
	if err != nil {
		return err
	}
	var req TraceRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return fmt.Errorf("%w: enabled (true or false) is required", errInvalidRequest)
	}
	p.SetTrace(*req.Enabled)
	v := s.view(p)
	if v.Trace != *req.Enabled {
		return fmt.Errorf("%w: process %s has no tracing of its own", errInvalidRequest, v.Name)
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) crashProcess(w http.ResponseWriter, r *http.Request) error {
	if !s.FaultInjection {
		return errNoFaultInjection
	}
	p, err := s.process(r)
	if err != nil {
		return err
	}
	c, ok := p.(crasher)
	if !ok {
		return fmt.Errorf("%w: process %s cannot be crashed", errNotFound, processName(r))
	}
	c.Crash()
	WriteJSON(w, http.StatusAccepted, Crashing{Name: processName(r)})
	return nil
}
