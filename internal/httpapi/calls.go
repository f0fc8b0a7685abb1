package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/calls"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// CallStore reads the call detail records; the app binds it to its
// database.
type CallStore interface {
	// List returns up to limit records with an id above afterID, by id,
	// that match f. With fewer than limit, it may also return a
	// *calls.ScanLimitError: it stopped reading there, and the listing
	// goes on after the error's id.
	List(ctx context.Context, f calls.Filter, afterID int64, limit int) ([]calls.Record, error)
	// Get returns record id; calls.ErrNotFound if there is none.
	Get(ctx context.Context, id int64) (calls.Record, error)
}

// Call is a call detail record as the API shows it. api.md requires every
// field, so "none" and "never" are null rather than left out.
type Call struct {
	ID         int64         `json:"id"`
	Caller     hlr.MSISDN    `json:"caller"`
	Callee     hlr.MSISDN    `json:"callee"`
	Frequency  *int          `json:"frequency"`
	Outcome    calls.Outcome `json:"outcome"`
	EndedBy    string        `json:"ended_by"`
	SetupAt    time.Time     `json:"setup_at"`
	AnsweredAt *time.Time    `json:"answered_at"`
	EndedAt    time.Time     `json:"ended_at"`
	// Cluster mode (docs/cluster.md): the cell, and the node that wrote
	// the record with its epoch of ownership of the cell.
	Cell  *int   `json:"cell,omitempty"`
	Node  string `json:"node,omitempty"`
	Epoch uint64 `json:"epoch,omitempty"`
}

func callView(rec calls.Record) Call {
	c := Call{ID: rec.ID, Caller: rec.Caller, Callee: rec.Callee, Outcome: rec.Outcome, EndedBy: rec.EndedBy,
		SetupAt: rec.SetupAt, EndedAt: rec.EndedAt, Cell: rec.Cell, Node: rec.Node, Epoch: rec.Epoch}
	if rec.Frequency != 0 {
		c.Frequency = &rec.Frequency
	}
	if !rec.AnsweredAt.IsZero() {
		c.AnsweredAt = &rec.AnsweredAt
	}
	return c
}

func (s *server) mountCalls(r chi.Router) {
	r = need(r, s.Calls != nil, "call records")
	r.Get("/api/v1/calls", handle(s.listCalls))
	r.Get("/api/v1/calls/{id}", handle(s.getCall))
}

func (s *server) listCalls(w http.ResponseWriter, r *http.Request) error {
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	f, err := callFilter(r)
	if err != nil {
		return err
	}
	var after int64
	if p.After != "" {
		if after, err = strconv.ParseInt(p.After, 10, 64); err != nil {
			return fmt.Errorf("%w: after is not a cursor from a previous page", errInvalidRequest)
		}
	}
	var cut int64 // where a read stopped short of its page, if one did
	recs, err := readPage(p, after, func(after int64, n int) ([]calls.Record, error) {
		recs, err := s.Calls.List(r.Context(), f, after, n)
		var e *calls.ScanLimitError
		if errors.As(err, &e) {
			cut, err = e.After, nil
		}
		return recs, err
	}, func(rec calls.Record) int64 { return rec.ID })
	if err != nil {
		return err
	}
	views := make([]Call, len(recs))
	for i, rec := range recs {
		views[i] = callView(rec)
	}
	list := NewList(views, p, func(c Call) string { return strconv.FormatInt(c.ID, 10) })
	if cut != 0 {
		// A short page, even an empty one, that the store cut: the records
		// up to cut are done with, and the list goes on after it.
		list.Next = cursor(strconv.FormatInt(cut, 10))
	}
	WriteJSON(w, http.StatusOK, list)
	return nil
}

// callFilter reads ?msisdn= (caller or callee), ?outcome= and ?since= (RFC
// 3339: calls set up at or after it).
func callFilter(r *http.Request) (calls.Filter, error) {
	q := r.URL.Query()
	var f calls.Filter
	if s := q.Get("msisdn"); s != "" {
		m, err := hlr.ParseMSISDN(s)
		if err != nil {
			return f, err
		}
		f.MSISDN = m.String()
	}
	if s := q.Get("outcome"); s != "" {
		o, ok := calls.ParseOutcome(s)
		if !ok {
			return f, fmt.Errorf("%w: outcome must be answered, rejected, busy, no_frequency, cancelled or dropped",
				errInvalidRequest)
		}
		f.Outcome = o
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f, fmt.Errorf("%w: since must be an RFC 3339 time such as 2025-01-02T03:04:05Z", errInvalidRequest)
		}
		f.Since = t
	}
	return f, nil
}

func (s *server) getCall(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		// Call ids are positive integers: anything else names no call
		// record (api.md: 404 not_found is this route's only error).
		return fmt.Errorf("%w: %q", calls.ErrNotFound, chi.URLParam(r, "id"))
	}
	rec, err := s.Calls.Get(r.Context(), id)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, callView(rec))
	return nil
}
