package httpapi

import (
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

var errNoCoffee = fmt.Errorf("%w: no coffee machines", errUnavailable)

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
	// DELETE, which returns the money paid, is never shed: the limiter
	// exempts every DELETE.
	r.Post("/api/v1/coffee-machines", s.coffeeHandler(s.createMachine))
	r.Get("/api/v1/coffee-machines", s.coffeeHandler(s.listMachines))
	r.Get("/api/v1/coffee-machines/{id}", s.coffeeHandler(s.getMachine))
	r.Delete("/api/v1/coffee-machines/{id}", s.coffeeHandler(s.removeMachine))
	r.Post("/api/v1/coffee-machines/{id}/events", s.coffeeHandler(s.machineEvent))
	r.Get("/api/v1/coffee-machines/{id}/hardware", s.coffeeHandler(s.machineHardware))
}

type coffeeFunc func(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error

// coffeeHandler hands h the registry, which exists only once the app's
// coffee tree runs, and answers h's error.
func (s *server) coffeeHandler(h coffeeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var ms *coffee.Machines
		if s.Coffee != nil {
			ms = s.Coffee()
		}
		if ms == nil {
			WriteError(w, r, errNoCoffee)
			return
		}
		if err := h(ms, w, r); err != nil {
			WriteError(w, r, err)
		}
	}
}

func (s *server) createMachine(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
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

func (s *server) listMachines(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
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

func (s *server) getMachine(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
	st, err := ms.Status(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) removeMachine(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
	if err := ms.Remove(r.Context(), chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) machineEvent(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
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

func (s *server) machineHardware(ms *coffee.Machines, w http.ResponseWriter, r *http.Request) error {
	ops, err := ms.Hardware(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	// The log is bounded (hw.CoffeeLogSize, within one page), so it is
	// served whole rather than paged.
	WriteJSON(w, http.StatusOK, List[hw.HWOp]{Items: ops})
	return nil
}
