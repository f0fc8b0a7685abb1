package app

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/sup"
)

// Process is a supervised process as introspection sees it; one with a
// Crash() method can also be killed by fault injection.
type Process = httpapi.Process

var errNoProcess = errcode.New(errcode.NotFound, "no such process")

// Process finds the current incarnation of a process by its API name:
// overload, frequency, phones (a single node's cell), cell:N/overload,
// cell:N/frequency, cell:N/phones (a cluster node's cells), phone:MSISDN
// or coffee:ID.
func (a *App) Process(name string) (Process, error) {
	cellID, child := 0, name
	if rest, ok := strings.CutPrefix(name, "cell:"); ok {
		n, sub, _ := strings.Cut(rest, "/")
		id, err := strconv.Atoi(n)
		if err != nil || a.cluster == nil {
			return nil, fmt.Errorf("%w: %q", errNoProcess, name)
		}
		cellID, child = id, sub
	} else if a.cluster != nil && (name == "overload" || name == "frequency" || name == "phones") {
		return nil, fmt.Errorf("%w: %q: a cluster node's are cell:N/%s", errNoProcess, name, name)
	}
	kind, id, _ := strings.Cut(child, ":")
	switch {
	case child == "overload" || child == "frequency" || child == "phones":
		c, err := a.cell(cellID)
		if err != nil {
			return nil, err
		}
		return c.process(child)
	case kind == "phone" && a.phoneProcess != nil:
		return a.phoneProcess(id)
	case kind == "coffee" && a.machines != nil:
		return asProcess(a.machines.Get(id))
	}
	return nil, fmt.Errorf("%w: %q", errNoProcess, name)
}

// process is one of the cell's own processes by name.
func (c *cell) process(name string) (Process, error) {
	switch name {
	case "overload":
		return asProcess(c.overloadManager())
	case "frequency":
		return asProcess(c.allocator())
	}
	s, err := c.names.phones.get()
	if err != nil {
		return nil, err
	}
	return phonesProcess{s}, nil
}

// allocator is the running frequency allocator of the single node's cell.
func (a *App) allocator() (*frequency.Allocator, error) {
	c, err := a.cell(0)
	if err != nil {
		return nil, err
	}
	return c.allocator()
}

// overloadManager is the running overload manager of the single node's
// cell.
func (a *App) overloadManager() (*overload.Manager, error) {
	c, err := a.cell(0)
	if err != nil {
		return nil, err
	}
	return c.overloadManager()
}

// asProcess keeps a failed lookup's nil pointer out of the interface.
func asProcess[P Process](p P, err error) (Process, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// phonesProcess shows the phones supervisor as a process. A supervisor
// handles no messages of its own, so there are no counts, log or tracing:
// its state is its children.
type phonesProcess struct{ s *sup.Supervisor }

func (p phonesProcess) Inspect() sup.Info {
	n := p.s.Tree()
	info := sup.Info{Name: "phones", Status: n.State, Log: []sup.Event{},
		State: fmt.Sprintf("children=%d restarts=%d", p.s.CountChildren(), n.Restarts)}
	if n.StartedAt != nil {
		info.StartedAt = *n.StartedAt
	}
	select {
	case <-p.s.Done():
		info.Status = "stopped"
	default:
	}
	return info
}

// SetTrace does nothing: there is nothing to trace. Inspect keeps saying
// trace false, which the API reports to the client.
func (phonesProcess) SetTrace(bool) {}

// Crash kills the phones supervisor (fault injection): bsc restarts it,
// with the consequences of domain.md §5 (calls dropped and recorded,
// phones detached, frequencies released).
func (p phonesProcess) Crash() { p.s.Crash() }
