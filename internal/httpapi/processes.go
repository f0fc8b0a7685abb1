package httpapi

import (
	"fmt"
	"net/http"

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
	r.Get("/api/v1/processes/{name}", s.withProcess(inspectProcess))
	r.Put("/api/v1/processes/{name}/trace", s.withProcess(traceProcess))
	s.customMethods(r, "/api/v1/processes/{name}", map[string]http.HandlerFunc{"crash": s.crashProcess})
}

// current is the running incarnation get returns. A dependency the app did
// not give is unavailable, as a process that is restarting would be.
func current[T any](get func() (T, error), what string) (T, error) {
	if get == nil {
		var zero T
		return zero, fmt.Errorf("%w: no %s", errUnavailable, what)
	}
	return get()
}

// processHandler serves a route with the process the path names; an error
// it returns is the answer.
type processHandler func(http.ResponseWriter, *http.Request, Process) error

func (s *server) withProcess(serve processHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p Process
		err := fmt.Errorf("%w: no process registry", errUnavailable)
		if s.Process != nil {
			p, err = s.Process(chi.URLParam(r, "name"))
		}
		if err == nil {
			err = serve(w, r, p)
		}
		if err != nil {
			WriteError(w, r, err)
		}
	}
}

func inspectProcess(w http.ResponseWriter, _ *http.Request, p Process) error {
	WriteJSON(w, http.StatusOK, p.Inspect())
	return nil
}

func traceProcess(w http.ResponseWriter, r *http.Request, p Process) error {
	var req TraceRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return fmt.Errorf("%w: enabled (true or false) is required", errInvalidRequest)
	}
	p.SetTrace(*req.Enabled)
	info := p.Inspect()
	if info.Trace != *req.Enabled {
		return fmt.Errorf("%w: process %s has no tracing of its own", errInvalidRequest, info.Name)
	}
	WriteJSON(w, http.StatusOK, info)
	return nil
}

func (s *server) crashProcess(w http.ResponseWriter, r *http.Request) {
	if !s.FaultInjection {
		WriteError(w, r, errNoFaultInjection)
		return
	}
	s.withProcess(func(w http.ResponseWriter, _ *http.Request, p Process) error {
		c, ok := p.(crasher)
		if !ok {
			return fmt.Errorf("%w: process %s cannot be crashed", errNotFound, chi.URLParam(r, "name"))
		}
		c.Crash()
		WriteJSON(w, http.StatusAccepted, Crashing{Name: chi.URLParam(r, "name")})
		return nil
	})(w, r)
}
