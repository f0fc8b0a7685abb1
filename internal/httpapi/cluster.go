package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// Cluster is what the HTTP layer needs of cluster mode (docs/cluster.md):
// who owns a cell, where a phone is, and a way to carry a request to
// another node. Any node answers every route: a request for something a
// cell owned elsewhere has is forwarded to the owner and answered as if
// local; a per-cell read that names no cell asks every cell.
type Cluster interface {
	Node() string
	Cells() int
	// Live is the names of the nodes up or draining, this one included.
	Live() []string
	// Owner is the node acting for cell now, "" when none; local tells
	// whether it is this one.
	Owner(cell int) (node string, local bool)
	// PhoneCell is the cell of an attached phone, false when it is not
	// attached anywhere.
	PhoneCell(ctx context.Context, m hlr.MSISDN) (cell int, ok bool, err error)
	// PhoneAttached tells whether m is attached anywhere, as the cluster
	// has it now rather than as this node last heard.
	PhoneAttached(ctx context.Context, m hlr.MSISDN) (bool, error)
	// HomeCell is the cell of a phone attached without naming one.
	HomeCell(m hlr.MSISDN) int
	// Forward carries a request, as bytes, to node and returns its answer.
	Forward(ctx context.Context, node string, req []byte, timeout time.Duration) ([]byte, error)
	// Forwarded counts a request forwarded on route.
	Forwarded(route string)
}

// forwardedHeader marks a request forwarded by another node: its receiver
// serves it, never forwards it again.
const forwardedHeader = "Bsc-Forwarded-By"

// maxForwardedAnswer bounds an answer carried back to the forwarding node.
const maxForwardedAnswer = 8 << 20

var errUnowned = fmt.Errorf("%w: the cell has no owner now (failing over?)", errUnavailable)

// routeCluster forwards a request for a cell this node does not act for
// to the node that does, and spreads a per-cell read that names no cell
// over every cell. Everything else, and every request already forwarded,
// is served here.
func (s *server) routeCluster(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Cluster == nil || r.Header.Get(forwardedHeader) != "" {
			next.ServeHTTP(w, r)
			return
		}
		cell, spread, err := s.target(r)
		switch {
		case err != nil:
			WriteError(w, r, err)
		case spread != nil:
			if err := spread(w, r); err != nil {
				WriteError(w, r, err)
			}
		case cell < 0:
			next.ServeHTTP(w, r)
		default:
			s.toCell(w, r, next, cell)
		}
	})
}

// toCell serves r here if this node acts for cell, else at its owner.
func (s *server) toCell(w http.ResponseWriter, r *http.Request, next http.Handler, cell int) {
	node, local := s.Cluster.Owner(cell)
	switch {
	case local:
		next.ServeHTTP(w, r)
	case node == "":
		WriteError(w, r, errUnowned)
	default:
		if err := s.forward(w, r, node); err != nil {
			WriteError(w, r, err)
		}
	}
}

// target is where r goes: a cell (-1: served here, whatever the cell),
// or a spread over every cell.
func (s *server) target(r *http.Request) (cell int, spread handler, err error) {
	pattern := routePattern(r)
	q := r.URL.Query()
	switch pattern {
	case "/api/v1/phones/{msisdn}", "/api/v1/phones/{msisdn}/actions", "/api/v1/phones/{msisdn}/events":
		if pattern == "/api/v1/phones/{msisdn}/events" && acceptsEventStream(r) {
			return -1, nil, nil // streams are served here, from the cluster's replies
		}
		m, err := hlr.ParseMSISDN(chi.URLParam(r, "msisdn"))
		if err != nil {
			return -1, nil, nil // the handler says why
		}
		c, ok, err := s.Cluster.PhoneCell(r.Context(), m)
		if err != nil || !ok {
			return -1, nil, err // not attached: answered here
		}
		return c, nil, nil
	case "/api/v1/phones":
		if r.Method != http.MethodPost {
			return -1, s.spreadList("msisdn"), nil
		}
		var req struct {
			MSISDN string `json:"msisdn"`
			Cell   *int   `json:"cell"`
		}
		if !peekJSON(r, &req) {
			return -1, nil, nil
		}
		if req.Cell != nil {
			return *req.Cell, nil, nil
		}
		m, err := hlr.ParseMSISDN(req.MSISDN)
		if err != nil {
			return -1, nil, nil
		}
		return s.Cluster.HomeCell(m), nil, nil
	case "/api/v1/processes/{name}", "/api/v1/processes/{name}/trace":
		return s.processCell(r, processName(r))
	case "/api/v1/frequencies/allocations":
		var req struct {
			Cell *int `json:"cell"`
		}
		if peekJSON(r, &req) && req.Cell != nil {
			return *req.Cell, nil, nil
		}
		return -1, nil, nil // the handler asks for the cell
	case "/api/v1/frequencies", "/api/v1/frequencies/allocations/{frequency}", "/api/v1/frequencies/pool",
		"/api/v1/overload/counters", "/api/v1/overload/handlers", "/api/v1/overload/handlers/{name}",
		"/api/v1/alarms", "/api/v1/alarms/history":
		if v := q.Get("cell"); v != "" {
			c, err := s.cellOf(r)
			return c, nil, err
		}
		switch {
		case pattern == "/api/v1/alarms":
			return -1, s.spreadItems, nil
		case pattern == "/api/v1/alarms/history":
			return -1, s.spreadHistory, nil
		case r.Method == http.MethodGet || r.Method == http.MethodHead || pattern == "/api/v1/frequencies/pool":
			return -1, s.spreadCells, nil
		}
		if s.cells() > 1 {
			return 0, nil, fmt.Errorf("%w: ?cell= is required: the cluster has %d cells", errInvalidRequest, s.cells())
		}
		return 0, nil, nil
	}
	if strings.HasPrefix(pattern, "/api/v1/overload/handlers/{name}") { // :swap
		if q.Get("cell") == "" && s.cells() > 1 {
			return 0, nil, fmt.Errorf("%w: ?cell= is required: the cluster has %d cells", errInvalidRequest, s.cells())
		}
		c, err := s.cellOf(r)
		return c, nil, err
	}
	return -1, nil, nil
}

// processCell is the cell of a process name: cell:N/... or phone:MSISDN.
func (s *server) processCell(r *http.Request, name string) (int, handler, error) {
	if rest, ok := strings.CutPrefix(name, "cell:"); ok {
		n, _, _ := strings.Cut(rest, "/")
		if c, err := strconv.Atoi(n); err == nil && c >= 0 && c < s.cells() {
			return c, nil, nil
		}
		return -1, nil, nil
	}
	if rest, ok := strings.CutPrefix(name, "phone:"); ok {
		if m, err := hlr.ParseMSISDN(rest); err == nil {
			if c, ok, err := s.Cluster.PhoneCell(r.Context(), m); err != nil || ok {
				return c, nil, err
			}
		}
	}
	return -1, nil, nil
}

// peekJSON decodes r's JSON body into v, leaving the body to be read
// again; false if it is not JSON (the handler says why).
func peekJSON(r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return err == nil && json.Unmarshal(body, v) == nil
}

// forward carries r to node and writes its answer.
func (s *server) forward(w http.ResponseWriter, r *http.Request, node string) error {
	s.Cluster.Forwarded(routePattern(r))
	out := r.Clone(r.Context())
	out.Header.Set(forwardedHeader, s.Cluster.Node())
	out.Header.Del("Accept-Encoding")
	var req bytes.Buffer
	if err := out.Write(&req); err != nil {
		return fmt.Errorf("%w: %v", errInvalidRequest, err)
	}
	timeout := 10 * time.Second
	if IsLongPoll(req.Bytes()) { // as the serving node judges it
		timeout += MaxWait
	}
	raw, err := s.Cluster.Forward(r.Context(), node, req.Bytes(), timeout)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), r)
	if err != nil {
		return fmt.Errorf("%w: a bad answer from node %s: %v", errUnavailable, node, err)
	}
	defer res.Body.Close()
	for k, vs := range res.Header {
		if k == RequestIDHeader && w.Header().Get(k) != "" {
			continue // the client's request id is this node's (the owner logged it too)
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
	return nil
}

// ServeForwarded answers a request another node forwarded, as bytes.
func (a *API) ServeForwarded(ctx context.Context, raw []byte) []byte {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return problemBytes(newProblem(errcode.InvalidRequest, "a forwarded request that does not parse"))
	}
	req = req.WithContext(ctx)
	req.RequestURI = ""
	rec := newRecorder()
	a.ServeHTTP(rec, req)
	return rec.bytes()
}

// RefuseForwarded answers a forwarded request this node has no room for.
func RefuseForwarded([]byte) []byte {
	return problemBytes(newProblem(errcode.Overloaded, "too many forwarded requests: retry later"))
}

// IsLongPoll tells, from its request line alone, whether a forwarded
// request is a long poll: a GET of a phone's events or of every phone's
// with ?wait= (the relays' polls, and a client's long poll forwarded to
// the phone's node). The node serving it bounds those apart.
func IsLongPoll(req []byte) bool {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	method, rest, _ := bytes.Cut(line, []byte(" "))
	target, _, _ := bytes.Cut(rest, []byte(" "))
	path, query, _ := bytes.Cut(target, []byte("?"))
	if string(method) != http.MethodGet || !bytes.HasSuffix(path, []byte("/events")) ||
		!bytes.HasPrefix(path, []byte("/api/v1/")) {
		return false
	}
	q, err := url.ParseQuery(string(query))
	return err == nil && q.Has("wait")
}

// problemBytes is p as writeProblem answers it, as bytes.
func problemBytes(p Problem) []byte {
	rec := newRecorder()
	writeProblem(rec, p)
	return rec.bytes()
}

// recorder is the ResponseWriter of a forwarded request: it keeps the
// answer, up to maxForwardedAnswer, to carry back.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, status: http.StatusOK} }

func (r *recorder) Header() http.Header { return r.header }

// bytes is the answer recorded, as the bytes of an HTTP response.
func (r *recorder) bytes() []byte {
	res := &http.Response{StatusCode: r.status, ProtoMajor: 1, ProtoMinor: 1, Header: r.header,
		Body: io.NopCloser(&r.body), ContentLength: int64(r.body.Len())}
	var out bytes.Buffer
	_ = res.Write(&out)
	return out.Bytes()
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(b) > maxForwardedAnswer {
		return 0, errors.New("forwarded answer too large")
	}
	return r.body.Write(b)
}

// cellAnswer is one cell's answer to a spread request.
type cellAnswer struct {
	cell   int
	status int
	body   []byte
	err    error
}

// ask serves r for cell (here, or at its owner) and returns the answer.
func (s *server) ask(r *http.Request, cell int) cellAnswer {
	q := r.URL.Query()
	q.Set("cell", strconv.Itoa(cell))
	u := *r.URL
	u.RawQuery = q.Encode()
	sub := r.Clone(r.Context())
	if sub.Method == http.MethodHead {
		sub.Method = http.MethodGet // the merged answer's headers count the cells' bodies
	}
	sub.URL = &u
	sub.RequestURI = ""
	// The answer is read here, to be merged: compressed it would not
	// parse. The merged answer is compressed for the client if it asked.
	sub.Header.Del("Accept-Encoding")
	node, local := s.Cluster.Owner(cell)
	if node == "" {
		return cellAnswer{cell: cell, err: errUnowned}
	}
	rec, err := s.serveAt(sub, node, local)
	if err != nil {
		return cellAnswer{cell: cell, err: err}
	}
	return cellAnswer{cell: cell, status: rec.status, body: rec.body.Bytes()}
}

// serveAt answers sub, a request this node makes of itself or another,
// here (local) or at node, into a recorder.
func (s *server) serveAt(sub *http.Request, node string, local bool) (*recorder, error) {
	rec := newRecorder()
	if !local {
		return rec, s.forward(rec, sub, node)
	}
	sub.Header.Set(forwardedHeader, s.Cluster.Node())
	// Routed afresh: chi routes a request that carries a routing context
	// in that one, which is the client request's: its route parameters and
	// patterns would grow with every such request (a relay polls on and
	// on), read meanwhile by the other asks and by its route metrics.
	sub = sub.WithContext(context.WithValue(sub.Context(), chi.RouteCtxKey, (*chi.Context)(nil)))
	s.router.ServeHTTP(rec, sub)
	return rec, nil
}

// askAll asks every cell, at once.
func (s *server) askAll(r *http.Request) []cellAnswer {
	out := make([]cellAnswer, s.cells())
	done := make(chan struct{}, len(out))
	for c := range out {
		go func() {
			out[c] = s.ask(r, c)
			done <- struct{}{}
		}()
	}
	for range out {
		<-done
	}
	return out
}

// spreadCells answers a per-cell route that names no cell with every
// cell's answer: {"cells": [{"cell": N, ...its body...}, ...]}, or the
// problem that cell's owner answered.
func (s *server) spreadCells(w http.ResponseWriter, r *http.Request) error {
	var cells []map[string]any
	for _, a := range s.askAll(r) {
		entry := map[string]any{}
		switch {
		case a.err != nil:
			entry["error"] = problemOf(r, a.err)
		case a.status >= 300:
			var p map[string]any
			_ = json.Unmarshal(a.body, &p)
			entry["error"] = p
		default:
			_ = json.Unmarshal(a.body, &entry)
		}
		entry["cell"] = a.cell
		cells = append(cells, entry)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"cells": cells})
	return nil
}

// spreadItems answers a list route that names no cell with every cell's
// items, each tagged with its cell.
func (s *server) spreadItems(w http.ResponseWriter, r *http.Request) error {
	items := []map[string]any{}
	for _, a := range s.askAll(r) {
		if a.err != nil || a.status >= 300 {
			continue // a cell failing over has nothing to show
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		_ = json.Unmarshal(a.body, &page)
		for _, it := range page.Items {
			it["cell"] = a.cell
			items = append(items, it)
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// spreadList answers a paged list (GET /api/v1/phones) from every cell:
// each cell's page after the cursor, merged in key order, cut at the
// limit; the cursor of the next page is the last key shown.
func (s *server) spreadList(key string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := ParsePage(r)
		if err != nil {
			return err
		}
		keyOf := func(it map[string]any) string { return fmt.Sprint(it[key]) }
		items, next := mergePages(s.askAll(r), p.Limit,
			func(it map[string]any, cell int) map[string]any { it["cell"] = cell; return it },
			func(a, b map[string]any) int { return compareKeys(keyOf(a), keyOf(b)) }, keyOf)
		WriteJSON(w, http.StatusOK, List[map[string]any]{Items: items, Next: next})
		return nil
	}
}

// mergePages merges the cells' pages of a paged list: the items of every
// page a cell answered 2xx (a cell failing over has nothing to show), each
// placed by place with its cell, sorted by order and cut at limit. The
// cursor of the next page is key of the last item shown, if any cell had
// more or the cut left some.
func mergePages[T, P any](answers []cellAnswer, limit int, place func(item T, cell int) P,
	order func(a, b P) int, key func(P) string) ([]P, string) {
	all := []P{}
	more := false
	for _, a := range answers {
		if a.err != nil || a.status >= 300 {
			continue
		}
		var page List[T]
		_ = json.Unmarshal(a.body, &page)
		more = more || page.Next != ""
		for _, it := range page.Items {
			all = append(all, place(it, a.cell))
		}
	}
	slices.SortFunc(all, order)
	if len(all) > limit {
		all, more = all[:limit], true
	}
	if !more || len(all) == 0 {
		return all, ""
	}
	return all, cursor(key(all[len(all)-1]))
}

// problemOf is the problem body WriteError would answer err with.
func problemOf(r *http.Request, err error) Problem {
	rec := newRecorder()
	WriteError(rec, r, err)
	var p Problem
	_ = json.Unmarshal(rec.body.Bytes(), &p)
	return p
}

// compareKeys orders list keys as strings, MSISDNs as numbers: shorter
// first, as hlr.MSISDN does.
func compareKeys(x, y string) int {
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y))
}
