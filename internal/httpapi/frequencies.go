package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/frequency"
)

// phoneOwnerPrefix names the phones' own allocations (api.md): only their
// controllers may take or release them, never an API client.
const phoneOwnerPrefix = "msisdn:"

// Bounds of an allocation request.
const (
	maxOwnerLen = 128
	// maxTTLSeconds keeps a lease a lease rather than a forgotten
	// allocation, and far from overflowing time.Duration.
	maxTTLSeconds = 7 * 24 * 3600
)

// AllocationRequest is the body of POST /api/v1/frequencies/allocations.
type AllocationRequest struct {
	Owner      string `json:"owner"`
	TTLSeconds *int   `json:"ttl_seconds,omitempty"`
	// Cell is the cell whose pool to take from: required when the cluster
	// has more than one, 0 (or left out) on a single node.
	Cell *int `json:"cell,omitempty"`
}

// PoolRequest is the body of PUT /api/v1/frequencies/pool.
type PoolRequest struct {
	Frequencies []int `json:"frequencies"`
}

// Allocator is the frequency allocator (*frequency.Allocator) as the
// routes use it.
type Allocator interface {
	// View is the pool and its allocations; a nil Pool once the allocator
	// stopped.
	View() frequency.View
	Allocate(owner string, ttl time.Duration) (frequency.Allocation, error)
	Deallocate(owner string, freq int) error
}

func (s *server) mountFrequencies(r chi.Router) {
	r = need(r, s.Allocator != nil, "frequency allocator")
	r.Get("/api/v1/frequencies", handle(s.frequencies))
	r.Post("/api/v1/frequencies/allocations", handle(s.allocate))
	r.Delete("/api/v1/frequencies/allocations/{frequency}", handle(s.deallocate))
	r.Put("/api/v1/frequencies/pool", handle(s.setPool))
}

func (s *server) frequencies(w http.ResponseWriter, r *http.Request) error {
	cell, err := s.cellOf(r)
	if err != nil {
		return err
	}
	f, err := s.Allocator(cell)
	if err != nil {
		return err
	}
	v := f.View()
	if v.Pool == nil { // a pool is never empty: this allocator has stopped, its successor is not up yet
		return frequency.ErrUnavailable
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) allocate(w http.ResponseWriter, r *http.Request) error {
	var req AllocationRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	ttl, err := req.validate()
	if err != nil {
		return err
	}
	cell, err := s.bodyCell(req.Cell)
	if err != nil {
		return err
	}
	f, err := s.Allocator(cell)
	if err != nil {
		return err
	}
	al, err := f.Allocate(req.Owner, ttl)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, al)
	return nil
}

// validate checks the request and returns its lease time, 0 for none.
func (req AllocationRequest) validate() (time.Duration, error) {
	if err := checkOwner(req.Owner, errInvalidRequest); err != nil {
		return 0, err
	}
	if req.TTLSeconds == nil {
		return 0, nil
	}
	n := *req.TTLSeconds
	if n < 1 || n > maxTTLSeconds {
		return 0, fmt.Errorf("%w: ttl_seconds must be 1 to %d", errInvalidRequest, maxTTLSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// checkOwner bounds an owner's size (owners are ids, not texts) and refuses
// the phones' owners with phonesErr.
func checkOwner(owner string, phonesErr error) error {
	switch {
	case owner == "" || utf8.RuneCountInString(owner) > maxOwnerLen:
		return fmt.Errorf("%w: owner must be 1 to %d characters", errInvalidRequest, maxOwnerLen)
	case strings.HasPrefix(owner, phoneOwnerPrefix):
		return fmt.Errorf("%w: %q owners are the phones', whose controllers alone allocate and release",
			phonesErr, phoneOwnerPrefix)
	}
	return nil
}

func (s *server) deallocate(w http.ResponseWriter, r *http.Request) error {
	owner := r.URL.Query().Get("owner")
	if err := checkOwner(owner, frequency.ErrNotOwner); err != nil {
		return err
	}
	freq, err := strconv.Atoi(chi.URLParam(r, "frequency"))
	if err != nil {
		return fmt.Errorf("%w: frequency must be an integer", errInvalidRequest)
	}
	cell, err := s.cellOf(r)
	if err != nil {
		return err
	}
	f, err := s.Allocator(cell)
	if err != nil {
		return err
	}
	if err := f.Deallocate(owner, freq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) setPool(w http.ResponseWriter, r *http.Request) error {
	var req PoolRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	cell, err := s.cellOf(r)
	if err != nil {
		return err
	}
	// Only a running allocator takes a new pool here: with none, the app
	// would just remember it for the next start, and there would be no view
	// to answer with.
	if _, err := s.Allocator(cell); err != nil {
		return err
	}
	if s.SetPool == nil {
		return fmt.Errorf("%w: the frequency pool is fixed", errUnavailable)
	}
	if err := s.SetPool(cell, req.Frequencies); err != nil {
		return err
	}
	// The current allocator again: a restart meanwhile started one with the
	// new pool.
	return s.frequencies(w, r)
}
