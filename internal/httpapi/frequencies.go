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
}

// PoolRequest is the body of PUT /api/v1/frequencies/pool.
type PoolRequest struct {
	Frequencies []int `json:"frequencies"`
}

func (s *server) mountFrequencies(r chi.Router) {
	r.Get("/api/v1/frequencies", s.frequencies)
	r.Post("/api/v1/frequencies/allocations", s.allocate)
	r.Delete("/api/v1/frequencies/allocations/{frequency}", s.deallocate)
	r.Put("/api/v1/frequencies/pool", s.setPool)
}

func (s *server) allocator() (*frequency.Allocator, error) {
	return current(s.Allocator, "frequency allocator")
}

func (s *server) frequencies(w http.ResponseWriter, r *http.Request) {
	f, err := s.allocator()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	v := f.View()
	if v.Pool == nil { // a pool is never empty: this allocator has stopped, its successor is not up yet
		WriteError(w, r, frequency.ErrUnavailable)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

func (s *server) allocate(w http.ResponseWriter, r *http.Request) {
	var req AllocationRequest
	if err := Decode(r, &req); err != nil {
		WriteError(w, r, err)
		return
	}
	ttl, err := req.validate()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	f, err := s.allocator()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	al, err := f.Allocate(req.Owner, ttl)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, al)
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

func (s *server) deallocate(w http.ResponseWriter, r *http.Request) {
	owner := r.URL.Query().Get("owner")
	if err := checkOwner(owner, frequency.ErrNotOwner); err != nil {
		WriteError(w, r, err)
		return
	}
	freq, err := strconv.Atoi(chi.URLParam(r, "frequency"))
	if err != nil {
		WriteError(w, r, fmt.Errorf("%w: frequency must be an integer", errInvalidRequest))
		return
	}
	f, err := s.allocator()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if err := f.Deallocate(owner, freq); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) setPool(w http.ResponseWriter, r *http.Request) {
	var req PoolRequest
	if err := Decode(r, &req); err != nil {
		WriteError(w, r, err)
		return
	}
	// Only a running allocator takes a new pool here: with none, the app
	// would just remember it for the next start, and there would be no view
	// to answer with.
	if _, err := s.allocator(); err != nil {
		WriteError(w, r, err)
		return
	}
	if s.SetPool == nil {
		WriteError(w, r, fmt.Errorf("%w: the frequency pool is fixed", errUnavailable))
		return
	}
	if err := s.SetPool(req.Frequencies); err != nil {
		WriteError(w, r, err)
		return
	}
	// The current allocator again: a restart meanwhile started one with the
	// new pool.
	s.frequencies(w, r)
}
