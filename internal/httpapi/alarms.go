package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/overload"
	"github.com/bsc-sim/bsc/internal/store"
)

// HandlerRequest is the body of POST /api/v1/overload/handlers.
type HandlerRequest struct {
	Name   string `json:"name"`
	Target string `json:"target,omitempty"`
}

// SwapRequest is the body of POST /api/v1/overload/handlers/{name}:swap.
type SwapRequest struct {
	Target string `json:"target,omitempty"`
}

// Counters is the body of GET /api/v1/overload/counters.
type Counters struct {
	Counters map[string]uint64 `json:"counters"`
}

// OverloadManager is the overload event manager (*overload.Manager) as the
// routes use it.
type OverloadManager interface {
	ActiveAlarms(ctx context.Context) ([]overload.Alarm, error)
	// History returns the page q selects of the cell's alarm records.
	History(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error)
	Counters(ctx context.Context) (map[string]uint64, error)
	Handlers(ctx context.Context) ([]overload.HandlerInfo, error)
	AddHandler(ctx context.Context, name, target string) error
	DeleteHandler(ctx context.Context, name string) error
	SwapHandler(ctx context.Context, name, target string) error
}

// overload is the overload manager of the request's cell (?cell=).
func (s *server) overload(r *http.Request) (OverloadManager, error) {
	cell, err := s.cellOf(r)
	if err != nil {
		return nil, err
	}
	return s.Overload(cell)
}

func (s *server) mountAlarms(r chi.Router) {
	r = need(r, s.Overload != nil, "overload manager")
	r.Get("/api/v1/alarms", handle(s.listAlarms))
	r.Get("/api/v1/alarms/history", handle(s.alarmHistory))
	r.Get("/api/v1/overload/counters", handle(s.readCounters))
	r.Get("/api/v1/overload/handlers", handle(s.listHandlers))
	r.Post("/api/v1/overload/handlers", handle(s.addHandler))
	r.Delete("/api/v1/overload/handlers/{name}", handle(s.deleteHandler))
	r.Post("/api/v1/overload/handlers/{name}:swap", handle(s.swapHandler))
}

func (s *server) listAlarms(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	active, err := m.ActiveAlarms(r.Context())
	if err == nil {
		WriteJSON(w, http.StatusOK, List[overload.Alarm]{Items: active})
	}
	return err
}

func (s *server) alarmHistory(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	q, key, err := s.historyQuery(r, p)
	if err != nil {
		return err
	}
	// A full page asks for one record more, to tell whether there is a
	// next page: the store caps a single read at the page maximum.
	recs, err := m.History(r.Context(), q)
	if err == nil && len(recs) == p.Limit {
		var more []store.AlarmRecord
		q = q.After(recs[len(recs)-1])
		q.Limit = 1
		more, err = m.History(r.Context(), q)
		recs = append(recs, more...)
	}
	if err == nil {
		WriteJSON(w, http.StatusOK, NewList(recs, p, key))
	}
	return err
}

// historyQuery is the query of the page p of a cell's alarm history and
// the key of its records, which the cursor wraps: after a seq, in seq
// order (a single node's list, and a cell's); in a cluster, also after a
// historyPos, in time order (the list of every cell asks each cell so).
func (s *server) historyQuery(r *http.Request, p Page) (store.AlarmQuery, func(store.AlarmRecord) string, error) {
	bySeq := func(rec store.AlarmRecord) string { return strconv.FormatInt(rec.ID, 10) }
	if p.After == "" {
		return store.AlarmQuery{Limit: p.Limit}, bySeq, nil
	}
	if pos, ok := parseHistoryPos(p.After); ok && s.Cluster != nil {
		cell, err := s.cellOf(r)
		return pos.query(cell, p.Limit), func(rec store.AlarmRecord) string { return posIn(rec, cell).String() }, err
	}
	after, err := strconv.ParseInt(p.After, 10, 64)
	if err != nil {
		return store.AlarmQuery{}, nil, errNotACursor
	}
	return store.AlarmQuery{AfterID: after, Limit: p.Limit}, bySeq, nil
}

var errNotACursor = fmt.Errorf("%w: after is not a cursor from a previous page", errInvalidRequest)

func (s *server) readCounters(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	n, err := m.Counters(r.Context())
	if err == nil {
		WriteJSON(w, http.StatusOK, Counters{Counters: n})
	}
	return err
}

func (s *server) listHandlers(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	hs, err := m.Handlers(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, List[overload.HandlerInfo]{Items: hs})
	return nil
}

func (s *server) addHandler(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	var req HandlerRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	target, err := s.logTarget(req.Target)
	if err == nil {
		err = m.AddHandler(r.Context(), req.Name, target)
	}
	if err == nil {
		WriteJSON(w, http.StatusCreated, overload.HandlerInfo(req))
	}
	return err
}

func (s *server) deleteHandler(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	err = m.DeleteHandler(r.Context(), chi.URLParam(r, "name"))
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

func (s *server) swapHandler(w http.ResponseWriter, r *http.Request) error {
	m, err := s.overload(r)
	if err != nil {
		return err
	}
	var req SwapRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	target, err := s.logTarget(req.Target)
	if err == nil {
		err = m.SwapHandler(r.Context(), name, target)
	}
	if err == nil {
		WriteJSON(w, http.StatusOK, overload.HandlerInfo{Name: name, Target: req.Target})
	}
	return err
}

const stdoutTarget = "stdout"

// logFileName is what a client may name a logger file: a plain name in
// LogDir, ending in .log so that it can never be the database or any other
// file of the app's that lives there.
var logFileName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,122}\.log$`)

// logTarget turns a client's logger target into where the logger writes.
// Clients choose the name, never the place: a path could make the server
// write (as itself) wherever it may.
func (s *server) logTarget(target string) (string, error) {
	switch {
	case target == "" || target == stdoutTarget:
		return target, nil
	case s.LogDir == "":
		return "", fmt.Errorf("%w: this server logs overload events to %s only", errInvalidRequest, stdoutTarget)
	case !logFileName.MatchString(target):
		return "", fmt.Errorf("%w: target must be %q or a file name such as overload.log "+
			"(letters, digits, '.', '_', '-', not starting with '.', ending in .log)", errInvalidRequest, stdoutTarget)
	}
	return filepath.Join(s.LogDir, target), nil
}
