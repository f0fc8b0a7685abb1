package load

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBSC is a small in-memory bsc: the routes of api.md the driver uses,
// with domain.md's phone transitions, so the driver's logic can be tested
// alone and with faults the real server does not have on demand.
type fakeBSC struct {
	mu      sync.Mutex
	phones  map[string]*fakePhone
	subs    map[*fakeSub]bool
	records []fakeRecord
	pool    []int
	blocked []int // of pool: retired, never allocated again
	free    []int
	owners  map[int]string
	sets    int64
	clears  int64

	// Faults, set before the run.
	dropEvery int                      // drop every n-th reply from the streams (0: none); the phone keeps it
	refuse    func(msisdn string) bool // attach answers 403 forbidden for these
	hold      chan struct{}            // if not nil, actions wait on it: a hung server
	onAction  func(n int)              // called with the count of actions, outside the lock
	arrive    func(m, action string)   // called as an action arrives, before it is handled, outside the lock: it may hold it
	actions   int
	srv       *httptest.Server
	stopped   chan struct{} // closed by the test: streams end
	replies   int
	// late holds back from the streams the replies it is true for, until
	// releaseLate (the phone has them at once: its list of replies).
	late func(m, typ string) bool
	held []heldReply

	// A cluster (newFakeCluster): fronts are its nodes, each streaming the
	// replies of every phone, each naming the node that owns the phone,
	// and answering the per-cell routes
	// in the cluster's shape. seen counts the requests each front got,
	// by route pattern, and the actions of each phone by front.
	fronts []*httptest.Server
	seen   []map[string]int
	acted  []map[string]int
	// The cells (1 on a single node, 2 in a cluster unless set before the
	// run): the pool above and its phones are cell's; every other cell is
	// idle, with a pool of otherPool. attachedIn counts the attaches by the
	// cell their body named (-1: none), freqReads the queries of the
	// reads of the frequencies.
	cells      int
	cell       int
	otherPool  []int
	attachedIn map[int]int
	freqReads  []string
	// shed, when set before the run, answers 503 with Retry-After to the
	// first shed requests of each of these methods and paths.
	shed map[string]int
}

type fakePhone struct {
	state   string // idle, calling, receiving, connected
	peer    string
	freq    int
	rec     int         // index of the call's record
	replies []fakeReply // every reply of this attachment: seq i+1 at i
}

// fakeReply is a reply as api.md has it.
type fakeReply struct {
	Seq    uint64    `json:"seq"`
	MSISDN string    `json:"msisdn"`
	Type   string    `json:"type"`
	From   string    `json:"from,omitempty"`
	At     time.Time `json:"at"`
	Node   string    `json:"node,omitempty"`
}

type heldReply struct{ m, ev string }

type fakeRecord struct {
	Caller     string  `json:"caller"`
	Callee     string  `json:"callee"`
	Outcome    string  `json:"outcome"`
	AnsweredAt *string `json:"answered_at,omitempty"`
}

type fakeSub struct {
	filter map[string]bool
	ch     chan string
}

// owner is the front that owns m's phone in a cluster of n fronts: not
// the one the driver sends its requests to (phone i's go to front i mod
// n), so that every reply crosses nodes.
func owner(m string, n int) int {
	i, _ := strconv.ParseUint(m, 10, 64)
	return int((i-DefaultConfig().MSISDNBase)%uint64(n)+1) % n
}

func newFakeBSC(t *testing.T, frequencies int) *fakeBSC {
	f := newFake(frequencies, 1)
	f.srv = f.startFront(t, 0)
	return f
}

// newFakeCluster is a fake of n nodes sharing one state, f.fronts.
func newFakeCluster(t *testing.T, frequencies, n int) *fakeBSC {
	f := newFake(frequencies, n)
	for i := range n {
		f.fronts = append(f.fronts, f.startFront(t, i))
	}
	return f
}

func newFake(frequencies, nodes int) *fakeBSC {
	f := &fakeBSC{phones: map[string]*fakePhone{}, subs: map[*fakeSub]bool{}, owners: map[int]string{},
		stopped: make(chan struct{}), cells: min(nodes, 2), otherPool: []int{1, 2, 3, 4, 5, 6, 7, 8}, attachedIn: map[int]int{}}
	for i := range frequencies {
		f.free = append(f.free, 10+i)
	}
	f.pool = slices.Clone(f.free)
	for range nodes {
		f.seen, f.acted = append(f.seen, map[string]int{}), append(f.acted, map[string]int{})
	}
	return f
}

// startFront serves the fake as node i until the test ends.
func (f *fakeBSC) startFront(t *testing.T, node int) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) { f.cluster(w, node) })
	mux.HandleFunc("POST /api/v1/subscribers:bulk", f.bulk)
	mux.HandleFunc("POST /api/v1/phones", f.attach)
	mux.HandleFunc("GET /api/v1/phones", f.list)
	mux.HandleFunc("DELETE /api/v1/phones/{msisdn}", f.detach)
	mux.HandleFunc("POST /api/v1/phones/{msisdn}/actions", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.acted[node][r.PathValue("msisdn")]++
		f.mu.Unlock()
		f.action(w, r)
	})
	mux.HandleFunc("GET /api/v1/phones/{msisdn}/events", f.phoneEvents)
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) { f.events(w, r) })
	mux.HandleFunc("GET /api/v1/calls", f.calls)
	mux.HandleFunc("GET /api/v1/frequencies", f.frequencies)
	mux.HandleFunc("GET /api/v1/overload/counters", f.counters)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		f.mu.Lock()
		f.seen[node][pattern]++
		key := r.Method + " " + r.URL.Path
		shed := f.shed[key] > 0
		if shed {
			f.shed[key]--
		}
		f.mu.Unlock()
		if shed {
			w.Header().Set("Retry-After", "1")
			problem(w, 503, "overloaded")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.stop()
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// urls are the fronts' URLs.
func (f *fakeBSC) urls() []string {
	var out []string
	for _, s := range f.fronts {
		out = append(out, s.URL)
	}
	return out
}

// clustered tells whether the fake is a cluster of several nodes.
func (f *fakeBSC) clustered() bool { return len(f.seen) > 1 }

func (f *fakeBSC) cluster(w http.ResponseWriter, node int) {
	n := len(f.seen)
	mode := "single"
	if f.clustered() {
		mode = "embedded"
	}
	var nodes []map[string]any
	for i := range n {
		nodes = append(nodes, map[string]any{"name": fmt.Sprintf("n%d", i+1), "state": "up"})
	}
	writeJSON(w, 200, map[string]any{"node": fmt.Sprintf("n%d", node+1), "mode": mode, "cells": f.cells, "nodes": nodes})
}

// perCell answers a per-cell route: body is cell f.cell's, other every
// other cell's. ?cell=N reads cell N's alone; without it a single node
// answers its only cell's, a cluster every cell's in its shape.
func (f *fakeBSC) perCell(w http.ResponseWriter, r *http.Request, body, other map[string]any) {
	of := func(c int) map[string]any {
		if c == f.cell {
			return body
		}
		return other
	}
	if v := r.URL.Query().Get("cell"); v != "" {
		c, err := strconv.Atoi(v)
		switch {
		case err != nil || c < 0:
			problem(w, 400, "invalid_request")
		case c >= f.cells:
			problem(w, 404, "not_found")
		default:
			writeJSON(w, 200, of(c))
		}
		return
	}
	if !f.clustered() {
		writeJSON(w, 200, body)
		return
	}
	var cells []map[string]any
	for c := range f.cells {
		b := maps.Clone(of(c))
		b["cell"] = c
		cells = append(cells, b)
	}
	writeJSON(w, 200, map[string]any{"cells": cells})
}

// stop ends the streams (once).
func (f *fakeBSC) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.stopped:
	default:
		close(f.stopped)
	}
}

func problem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"urn:bsc:problem:%s","title":"x","status":%d,"code":%q}`, code, status, code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeBSC) bulk(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Items []struct {
			MSISDN string `json:"msisdn"`
		} `json:"items"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		problem(w, 400, "invalid_request")
		return
	}
	writeJSON(w, 200, map[string]int{"created": len(req.Items), "existing": 0})
}

func (f *fakeBSC) attach(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MSISDN string            `json:"msisdn"`
		Device map[string]string `json:"device"`
		Cell   *int              `json:"cell"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Device["mode"] != "manual" || req.Cell != nil && *req.Cell < 0 {
		problem(w, 400, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cell := -1
	if req.Cell != nil {
		if cell = *req.Cell; cell >= f.cells {
			problem(w, 404, "not_found")
			return
		}
	}
	f.attachedIn[cell]++
	if f.refuse != nil && f.refuse(req.MSISDN) {
		problem(w, 403, "forbidden")
		return
	}
	if f.phones[req.MSISDN] != nil {
		problem(w, 409, "already_attached")
		return
	}
	f.phones[req.MSISDN] = &fakePhone{state: "idle"}
	writeJSON(w, 201, map[string]string{"msisdn": req.MSISDN, "state": "idle"})
}

func (f *fakeBSC) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var items []map[string]string
	for m, p := range f.phones {
		items = append(items, map[string]string{"msisdn": m, "state": p.state})
	}
	writeJSON(w, 200, map[string]any{"items": items})
}

func (f *fakeBSC) detach(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := r.PathValue("msisdn")
	p := f.phones[m]
	if p == nil {
		problem(w, 404, "not_attached")
		return
	}
	f.end(m, p, "dropped")
	delete(f.phones, m)
	w.WriteHeader(204)
}

func (f *fakeBSC) action(w http.ResponseWriter, r *http.Request) {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-r.Context().Done():
			return
		}
	}
	var req struct {
		Action string `json:"action"`
		To     string `json:"to"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		problem(w, 400, "invalid_request")
		return
	}
	if f.arrive != nil {
		f.arrive(r.PathValue("msisdn"), req.Action)
	}
	f.mu.Lock()
	f.actions++
	n, hook := f.actions, f.onAction
	status, code := f.act(r.PathValue("msisdn"), req.Action, req.To)
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if code != "" {
		problem(w, status, code)
		return
	}
	writeJSON(w, 200, map[string]string{"msisdn": r.PathValue("msisdn")})
}

// act is domain.md's transition table, for the actions.
func (f *fakeBSC) act(m, action, to string) (int, string) {
	p := f.phones[m]
	if p == nil {
		return 404, "not_attached"
	}
	switch {
	case action == "call" && p.state != "idle":
		return 409, "busy"
	case action == "call":
		q := f.phones[to]
		if q == nil {
			f.emit(m, "invalid", "")
			return 404, "invalid_number"
		}
		f.records = append(f.records, fakeRecord{Caller: m, Callee: to})
		p.state, p.peer, p.rec = "calling", to, len(f.records)-1
		if q.state != "idle" || to == m {
			f.emit(m, "busy", "")
			f.records[p.rec].Outcome = "busy"
			p.state = "idle"
			return 0, ""
		}
		q.state, q.peer, q.rec = "receiving", m, p.rec
		f.emit(to, "inbound", m)
	case action == "accept" && p.state == "receiving":
		c := f.phones[p.peer]
		if len(f.free) == 0 {
			f.emit(p.peer, "no_frequency", "")
			f.emit(m, "no_frequency", "")
			f.records[p.rec].Outcome = "no_frequency"
			c.state, p.state = "idle", "idle"
			return 0, ""
		}
		c.freq, f.free = f.free[0], f.free[1:]
		f.owners[c.freq] = "msisdn:" + p.peer
		if len(f.free) == 0 {
			f.sets++
		}
		now := time.Now().Format(time.RFC3339Nano)
		f.records[p.rec].AnsweredAt = &now
		c.state, p.state = "connected", "connected"
		f.emit(p.peer, "accepted", "")
	case (action == "reject" || action == "hangup") && p.state == "receiving":
		f.records[p.rec].Outcome = "rejected"
		f.phones[p.peer].state, p.state = "idle", "idle"
		f.emit(p.peer, "rejected", "")
	case action == "hangup" && (p.state == "calling" || p.state == "connected"):
		f.end(m, p, "")
	default:
		return 409, "invalid_state"
	}
	return 0, ""
}

// end ends p's call, if any, for its peer.
func (f *fakeBSC) end(m string, p *fakePhone, outcome string) {
	if p.state == "idle" {
		return
	}
	q := f.phones[p.peer]
	rec := &f.records[p.rec]
	switch {
	case outcome != "":
	case p.state == "calling":
		outcome = "cancelled"
	default:
		outcome = "answered"
	}
	rec.Outcome = outcome
	for _, x := range []*fakePhone{p, q} {
		if x != nil && x.freq != 0 {
			if len(f.free) == 0 {
				f.clears++
			}
			delete(f.owners, x.freq)
			f.free = append([]int{x.freq}, f.free...)
			x.freq = 0
		}
	}
	was := p.state
	p.state = "idle"
	if q != nil && q.state != "idle" {
		q.state = "idle"
		if was == "receiving" {
			f.emit(p.peer, "rejected", "")
		} else {
			f.emit(p.peer, "hangup", "")
		}
	}
}

// emit gives m's phone a reply, and sends it to the streams that want it.
func (f *fakeBSC) emit(m, typ, from string) {
	p := f.phones[m]
	if p == nil {
		return
	}
	rep := fakeReply{Seq: uint64(len(p.replies) + 1), MSISDN: m, Type: typ, From: from, At: time.Now()}
	if f.clustered() {
		rep.Node = fmt.Sprintf("n%d", owner(m, len(f.seen))+1)
	}
	p.replies = append(p.replies, rep)
	f.replies++
	if f.dropEvery > 0 && f.replies%f.dropEvery == 0 {
		return
	}
	data, _ := json.Marshal(rep)
	ev := "id: 0badcafe-" + strconv.Itoa(f.replies) + "\nevent: " + typ + "\ndata: " + string(data) + "\n\n"
	if f.late != nil && f.late(m, typ) {
		f.held = append(f.held, heldReply{m, ev})
		return
	}
	f.publish(m, ev)
}

// releaseLate sends the replies late held back to the streams.
func (f *fakeBSC) releaseLate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.held {
		f.publish(h.m, h.ev)
	}
	f.held = nil
}

// publish sends ev, a reply of m's, to the streams that want it; a full
// one is cut off.
func (f *fakeBSC) publish(m, ev string) {
	for s := range f.subs {
		if len(s.filter) > 0 && !s.filter[m] {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			close(s.ch)
			delete(f.subs, s)
		}
	}
}

// phoneEvents is api.md's long poll of a phone's replies, without the
// wait: those after ?after=, a cursor beyond the last reading as 0. Any
// front answers it, as any node of a cluster does.
func (f *fakeBSC) phoneEvents(w http.ResponseWriter, r *http.Request) {
	after, err := strconv.ParseUint(cmp.Or(r.URL.Query().Get("after"), "0"), 10, 64)
	if err != nil {
		problem(w, 400, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.phones[r.PathValue("msisdn")]
	if p == nil {
		problem(w, 404, "not_attached")
		return
	}
	if after > uint64(len(p.replies)) {
		after = 0
	}
	items := slices.Clone(p.replies[after:])
	next := after
	if len(items) > 0 {
		next = items[len(items)-1].Seq
	}
	writeJSON(w, 200, map[string]any{"items": items, "next": next})
}

func (f *fakeBSC) events(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "text/event-stream" {
		problem(w, 406, "not_acceptable")
		return
	}
	s := &fakeSub{filter: map[string]bool{}, ch: make(chan string, 4096)}
	for m := range strings.SplitSeq(r.URL.Query().Get("msisdn"), ",") {
		if m != "" {
			s.filter[m] = true
		}
	}
	f.mu.Lock()
	f.subs[s] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fmt.Fprint(w, ": stream open\n\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				return
			}
			fmt.Fprint(w, ev)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		case <-f.stopped:
			return
		}
	}
}

// calls pages the records two at a time, to exercise the driver's paging.
func (f *fakeBSC) calls(w http.ResponseWriter, r *http.Request) {
	if _, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since")); err != nil {
		problem(w, 400, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	from, _ := strconv.Atoi(r.URL.Query().Get("after"))
	to := min(from+2, len(f.records))
	page := map[string]any{"items": slices.Clone(f.records[from:to])}
	if to < len(f.records) {
		page["next"] = strconv.Itoa(to)
	}
	writeJSON(w, 200, page)
}

func (f *fakeBSC) frequencies(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var allocated []map[string]any
	for fr, o := range f.owners {
		allocated = append(allocated, map[string]any{"frequency": fr, "owner": o})
	}
	f.freqReads = append(f.freqReads, r.URL.RawQuery)
	f.perCell(w, r, map[string]any{"pool": f.pool, "free": f.free, "allocated": allocated, "blocked": f.blocked},
		map[string]any{"pool": f.otherPool, "free": f.otherPool, "allocated": []any{}, "blocked": []int{}})
}

func (f *fakeBSC) counters(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perCell(w, r, map[string]any{"counters": map[string]int64{
		"set_alarm:no_frequency": f.sets, "clear_alarm:no_frequency": f.clears}}, map[string]any{"counters": map[string]int64{}})
}
