package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/coffee"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/go-chi/chi/v5"
)

// MaxPaymentTimeout bounds a machine's payment_timeout_ms: a machine holding
// a customer's money for longer than this is a mistake, not a setting.
const MaxPaymentTimeout = time.Hour

// CoffeeMachines is the coffee machine registry (*coffee.Machines) as the
// routes use it.
type CoffeeMachines interface {
	// Create starts a machine; id "" names it, timeout 0 is the default.
	Create(ctx context.Context, id string, timeout time.Duration) (coffee.Status, error)
	// List is every machine, sorted by id.
	List() []coffee.Status
	Status(id string) (coffee.Status, error)
	Remove(ctx context.Context, id string) error
	// Send hands ev to machine id once it is valid, and returns the
	// machine's status after it.
	Send(ctx context.Context, id string, ev coffee.Event) (coffee.Status, error)
	Hardware(id string) ([]hw.HWOp, error)
}

const coffeeMachines = "coffee machines"

// CreateMachine is the body of POST /api/v1/coffee-machines. Every field is
// optional, and so is the body itself.
type CreateMachine struct {
	ID               string `json:"id,omitempty"`
	PaymentTimeoutMS *int64 `json:"payment_timeout_ms,omitempty"` // nil: the server's default
}

// timeout is the payment timeout asked for, 0 for the default.
func (c CreateMachine) timeout() (time.Duration, error) {
	if c.PaymentTimeoutMS == nil {
		return 0, nil
	}
	ms := *c.PaymentTimeoutMS
	if ms <= 0 || ms > MaxPaymentTimeout.Milliseconds() {
		return 0, fmt.Errorf("%w: payment_timeout_ms must be 1 to %d", errInvalidRequest, MaxPaymentTimeout.Milliseconds())
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (s *server) mountCoffee(r chi.Router) {
	r = need(r, s.Coffee != nil, coffeeMachines)
	// DELETE, which returns the money paid, is never shed: the limiter
	// exempts every DELETE.
	r.Post("/api/v1/coffee-machines", handle(s.createMachine))
	r.Get("/api/v1/coffee-machines", handle(s.listMachines))
	r.Get("/api/v1/coffee-machines/{id}", handle(s.getMachine))
	r.Delete("/api/v1/coffee-machines/{id}", handle(s.removeMachine))
	r.Post("/api/v1/coffee-machines/{id}/events", handle(s.machineEvent))
	r.Get("/api/v1/coffee-machines/{id}/hardware", handle(s.machineHardware))
}

// machines is the registry, which exists only once the app's coffee tree
// runs.
func (s *server) machines() (CoffeeMachines, error) {
	if ms := s.Coffee(); ms != nil {
		return ms, nil
	}
	return nil, missing(coffeeMachines)
}

func (s *server) createMachine(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	var req CreateMachine
	// No body at all means every default; a body must still be valid.
	if r.ContentLength != 0 {
		if err := Decode(r, &req); err != nil {
			return err
		}
	}
	timeout, err := req.timeout()
	if err != nil {
		return err
	}
	st, err := ms.Create(r.Context(), req.ID, timeout)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/coffee-machines/"+url.PathEscape(st.ID))
	WriteJSON(w, http.StatusCreated, st)
	return nil
}

func (s *server) listMachines(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	if p.After != "" && !coffee.ValidID(p.After) {
		return fmt.Errorf("%w: after is not a cursor from a previous page", errInvalidRequest)
	}
	all := ms.List() // sorted by id, at most coffee.MaxMachines
	from, _ := slices.BinarySearchFunc(all, p.After, func(st coffee.Status, after string) int {
		return strings.Compare(st.ID, after)
	})
	if from < len(all) && all[from].ID == p.After {
		from++ // strictly after the cursor
	}
	page := all[from:min(len(all), from+p.Limit+1)]
	WriteJSON(w, http.StatusOK, NewList(page, p, func(st coffee.Status) string { return st.ID }))
	return nil
}

func (s *server) getMachine(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	st, err := ms.Status(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) removeMachine(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	if err := ms.Remove(r.Context(), chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) machineEvent(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	var ev coffee.Event
	if err := Decode(r, &ev); err != nil {
		return err
	}
	// Send validates the event before it looks the machine up: bad input
	// is 400 whether or not the machine exists, and never reaches it.
	st, err := ms.Send(r.Context(), chi.URLParam(r, "id"), ev)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) machineHardware(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.machines()
	if err != nil {
		return err
	}
	ops, err := ms.Hardware(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	// The log is bounded (hw.CoffeeLogSize, within one page), so it is
	// served whole rather than paged.
	WriteJSON(w, http.StatusOK, List[hw.HWOp]{Items: ops})
	return nil
}
