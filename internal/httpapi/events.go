package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/hw"
)

// Bounds of the event routes.
const (
	// DefaultMaxStreams bounds the SSE streams and long polls open at once
	// when Deps.MaxStreams is 0. They hold no in-flight slot (they would
	// starve every other route), so they have this bound of their own.
	DefaultMaxStreams = 1024
	// DefaultHeartbeat is how often an idle stream sends a comment, so that
	// proxies and clients can tell a quiet stream from a dead one.
	DefaultHeartbeat = 15 * time.Second
	// MaxWait bounds a long poll (api.md).
	MaxWait = 30 * time.Second
	// maxFilter bounds the MSISDNs of a global stream's filter.
	maxFilter = MaxLimit
	// streamWriteTimeout bounds one write to a stream: a client that stops
	// reading is dropped rather than holding its slot for ever. It also
	// replaces the server's WriteTimeout, if any, which would cut every
	// stream at a fixed age.
	streamWriteTimeout = 30 * time.Second
)

const eventStream = "text/event-stream"

// Hub is the phones' devices (*hw.Hub) as the event routes use them. A
// subscription is hw's own: Go has no covariant results, so *hw.Hub could
// not satisfy an interface whose methods return an interface.
type Hub interface {
	// Events waits up to wait for msisdn's replies after the seq after,
	// and returns them with the cursor of the next poll.
	Events(ctx context.Context, msisdn string, after uint64, wait time.Duration) (items []hw.Reply, next uint64, err error)
	// SubscribePhone streams msisdn's replies, first those its ring still
	// holds after lastEventID; it ends when the phone detaches.
	SubscribePhone(msisdn string, lastEventID uint64) (*hw.Subscription, error)
	// SubscribeAll streams the replies of every phone, or of those in
	// filter, from now on.
	SubscribeAll(filter []string) *hw.Subscription
	// ResumeAll is SubscribeAll that first replays what the rings still
	// hold past the position after (hw.Reply.Pos) of this run, and says
	// where some is gone.
	ResumeAll(filter []string, after uint64) (*hw.Subscription, error)
	// Run names the hub's run, which positions belong to.
	Run() string
	// Position is the position of the hub's last reply in this run.
	Position() uint64
}

var (
	errNotAcceptable = errcode.New(errcode.NotAcceptable, "this route serves "+eventStream+" only: send Accept: "+eventStream)
	errTooManyStream = fmt.Errorf("%w: too many event streams open", errOverloaded)
)

// EventsPage is the answer to a long poll: the replies after the asked
// sequence number, and the cursor of the next poll (the last reply's Seq,
// or the asked one when there was none).
type EventsPage struct {
	Items []hw.Reply `json:"items"`
	Next  uint64     `json:"next"`
}

// events serves the phones' replies, by long poll and as server-sent
// events.
type events struct {
	s         *server
	slots     chan struct{} // a token per open stream or long poll
	heartbeat time.Duration

	mu        sync.Mutex
	shutdowns map[*http.Server]context.Context // cancelled by the server's Shutdown
}

func (s *server) mountEvents(r chi.Router) {
	ev := &events{
		s:         s,
		slots:     make(chan struct{}, cmp.Or(s.MaxStreams, DefaultMaxStreams)),
		heartbeat: cmp.Or(s.StreamHeartbeat, DefaultHeartbeat),
		shutdowns: map[*http.Server]context.Context{},
	}
	r = need(r, s.Hub != nil, "phone devices")
	r.Get("/api/v1/phones/{msisdn}/events", handle(ev.phoneEvents))
	r.Get("/api/v1/events", handle(ev.allEvents))
	for _, pattern := range []string{"/api/v1/phones/{msisdn}/events", "/api/v1/events"} {
		s.neverShed(http.MethodGet, pattern)
		s.streaming[http.MethodGet+" "+pattern] = true
	}
}

// phoneEvents is one phone's replies: a stream when the client accepts
// one, a long poll otherwise.
func (ev *events) phoneEvents(w http.ResponseWriter, r *http.Request) error {
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	if acceptsEventStream(r) {
		return ev.streamPhone(w, r, m)
	}
	return ev.longPoll(w, r, m)
}

func (ev *events) longPoll(w http.ResponseWriter, r *http.Request, m hlr.MSISDN) error {
	after, wait, err := pollParams(r)
	if r.Method == http.MethodHead {
		wait = 0 // a HEAD waits for nothing: it gets no items
	}
	if err != nil {
		return err
	}
	ctx, done, err := ev.admitPoll(r)
	if err != nil {
		return err
	}
	defer done()
	items, next, err := ev.s.Hub.Events(ctx, m.String(), after, wait)
	switch {
	case r.Context().Err() != nil:
		return nil // the client went: nobody to answer
	case ctx.Err() != nil:
		// The server is stopping: answer as at the end of the wait.
	case err != nil:
		return err
	}
	if items == nil {
		items = []hw.Reply{}
	}
	WriteJSON(w, http.StatusOK, EventsPage{Items: items, Next: next})
	return nil
}

// pollParams reads ?after= (a Seq, default 0) and ?wait= (seconds, 0 to
// MaxWait, fractions allowed, default 0).
func pollParams(r *http.Request) (after uint64, wait time.Duration, err error) {
	if s := r.URL.Query().Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%w: after must be a reply's seq, a non-negative integer", errInvalidRequest)
		}
	}
	wait, err = waitParam(r)
	return after, wait, err
}

// waitParam reads ?wait= (seconds, 0 to MaxWait, fractions allowed,
// default 0).
func waitParam(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("wait")
	if s == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	// Written so that NaN fails too.
	if err != nil || !(secs >= 0 && secs <= MaxWait.Seconds()) {
		return 0, fmt.Errorf("%w: wait must be 0 to %v seconds", errInvalidRequest, MaxWait.Seconds())
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// streamPhone streams m's replies, first those its ring still holds after
// Last-Event-ID (or ?after=), so a client that reconnects misses nothing
// the ring kept. It ends when the phone detaches.
func (ev *events) streamPhone(w http.ResponseWriter, r *http.Request, m hlr.MSISDN) error {
	last, err := lastEventID(r)
	if _, remote := ev.s.remotePhone(r, m); err == nil && remote {
		return ev.relayPhone(w, r, m, last)
	}
	var stopping context.Context
	if err == nil {
		stopping, err = ev.admit(r)
	}
	if err != nil {
		return err
	}
	defer ev.release()
	sub, err := ev.s.Hub.SubscribePhone(m.String(), last)
	if err != nil {
		return err
	}
	defer sub.Close()
	ev.stream(stopping, w, r, sub, phoneEventID, "", nil)
	return nil
}

// beginStream answers 200 with the headers of an event stream and writes
// first, at once (the client sees the 200 now, not at the first reply),
// and returns how to send the rest: each write with a deadline of its own,
// then flushed. ok is false when nothing more is to be sent: a HEAD (what
// a GET gets first: a HEAD has no body, and a stream would only hold its
// slot until the client gave up), or a client gone.
func beginStream(w http.ResponseWriter, r *http.Request, first string) (send func(text string) bool, ok bool) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", eventStream)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil, false
	}
	send = func(text string) bool {
		// A deadline per write; ErrNotSupported leaves the server's.
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write([]byte(text)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	return send, send(first)
}

// phoneEventID is a reply's id in its phone's stream: its Seq, which
// Last-Event-ID gives back.
func phoneEventID(rep hw.Reply) string { return strconv.FormatUint(rep.Seq, 10) }

// resumeFrom is the event id a stream resumes after: the Last-Event-ID
// header an EventSource sends when it reconnects, else ?after=; "" for
// none.
func resumeFrom(r *http.Request) string {
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		return s
	}
	return r.URL.Query().Get("after")
}

// lastEventID is where a phone's stream resumes: the Last-Event-ID header
// an EventSource sends when it reconnects, else ?after=, else 0.
func lastEventID(r *http.Request) (uint64, error) {
	s := resumeFrom(r)
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: Last-Event-ID must be a reply's seq", errInvalidRequest)
	}
	return id, nil
}

// allEvents streams every phone's replies, or those of the phones in
// ?msisdn=A,B: from now on, or, given Last-Event-ID (or ?after=), first
// what the rings still hold after it, with a "lost" event where some is
// gone (see globalCursor). Only a stream is served (406 not_acceptable
// otherwise).
func (ev *events) allEvents(w http.ResponseWriter, r *http.Request) error {
	if ev.s.Cluster != nil {
		// Every node's replies (clusterevents.go); a node asked by
		// another for its own is answered a page.
		switch {
		case r.Header.Get(forwardedHeader) == "":
			return ev.clusterEvents(w, r)
		case !acceptsEventStream(r):
			return ev.page(w, r)
		}
	}
	run := ev.s.Hub.Run()
	filter, cur, stopping, err := openGlobal(ev, r, globalCursor)
	if err != nil {
		return err
	}
	defer ev.release()
	var sub *hw.Subscription
	var first string
	switch {
	case !cur.given:
		sub = ev.s.Hub.SubscribeAll(filter)
	case cur.run != run:
		// Nothing is known of that run here: all of this run is new to the
		// client, and what it missed of the other is lost.
		first = unknownRunEvent(globalEventID(run, hw.Reply{}))
		sub, err = ev.s.Hub.ResumeAll(filter, 0)
	default:
		sub, err = ev.s.Hub.ResumeAll(filter, cur.pos)
	}
	if err != nil {
		return err
	}
	defer sub.Close()
	ev.stream(stopping, w, r, sub, func(rep hw.Reply) string { return globalEventID(run, rep) }, first, nil)
	return nil
}

// openGlobal reads a global stream's filter and where it resumes (cursor
// reads it), and lets it in (admit; release it): only a stream is served.
func openGlobal[C any](ev *events, r *http.Request, cursor func(*http.Request) (C, error)) (
	filter []string, cur C, stopping context.Context, err error) {
	filter, err = msisdnFilter(r)
	if err == nil {
		cur, err = cursor(r)
	}
	switch {
	case err != nil:
	case !acceptsEventStream(r):
		err = errNotAcceptable
	default:
		stopping, err = ev.admit(r)
	}
	return filter, cur, stopping, err
}

// globalEventID is a reply's id in the stream of every phone, RUN-POS: its
// place in the hub's stream of all replies, in the hub's run (eight hex
// digits), so that an id from another run (a restart) is told apart.
func globalEventID(run string, rep hw.Reply) string {
	return run + "-" + strconv.FormatUint(rep.Pos, 10)
}

// streamCursor is where a global stream resumes, if given: after position
// pos of run.
type streamCursor struct {
	given bool
	run   string
	pos   uint64
}

// maxRunLen bounds the run part of a global event id (ours is 8).
const maxRunLen = 16

// globalCursor reads Last-Event-ID, else ?after=, as a global event id
// (RUN-POS); none given is a stream from now on. A malformed id is
// invalid_request.
func globalCursor(r *http.Request) (streamCursor, error) {
	s := resumeFrom(r)
	if s == "" {
		return streamCursor{}, nil
	}
	run, pos, ok := parseRunPos(s)
	if !ok {
		return streamCursor{}, fmt.Errorf("%w: Last-Event-ID must be an event id of this stream (RUN-POSITION)", errInvalidRequest)
	}
	return streamCursor{given: true, run: run, pos: pos}, nil
}

// parseRunPos reads RUN-POS: a run (hex digits) and a position in it.
func parseRunPos(s string) (run string, pos uint64, ok bool) {
	run, posPart, ok := strings.Cut(s, "-")
	if !ok || run == "" || len(run) > maxRunLen || strings.Trim(run, "0123456789abcdef") != "" {
		return "", 0, false
	}
	pos, err := strconv.ParseUint(posPart, 10, 64)
	return run, pos, err == nil
}

// msisdnFilter reads ?msisdn=A,B (the parameter may also repeat); nil for
// none.
func msisdnFilter(r *http.Request) ([]string, error) {
	var filter []string
	for _, v := range r.URL.Query()["msisdn"] {
		if v == "" {
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			m, err := hlr.ParseMSISDN(part)
			if err != nil {
				return nil, fmt.Errorf("msisdn filter: %w", err)
			}
			if filter = append(filter, m.String()); len(filter) > maxFilter {
				return nil, fmt.Errorf("%w: at most %d MSISDNs in the filter", errInvalidRequest, maxFilter)
			}
		}
	}
	return filter, nil
}

// acceptsEventStream tells whether the client named text/event-stream in
// Accept (with a non-zero q). */* is not enough: JSON is served then.
func acceptsEventStream(r *http.Request) bool {
	for mt, q := range offered(r.Header.Values("Accept")) {
		if mt == eventStream && q > 0 {
			return true
		}
	}
	return false
}

// admit lets a stream or long poll in, taking a slot that release gives
// back. It returns a context cancelled when the server begins a graceful
// Shutdown, which would otherwise wait for every stream to end on its own.
// The app is draining before it shuts the server down, so a request that
// came too late to be told is refused here instead.
func (ev *events) admit(r *http.Request) (stopping context.Context, err error) {
	stopping = ev.stopping(r)
	if ev.s.draining() {
		return nil, errStopping
	}
	select {
	case ev.slots <- struct{}{}:
		settleIn(r) // it waits far longer than it works: no gate token held
		return stopping, nil
	default:
		if ev.s.OnShed != nil {
			ev.s.OnShed()
		}
		return nil, errTooManyStream
	}
}

func (ev *events) release() { <-ev.slots }

// admitPoll lets a long poll in (admit) and returns its context, r's
// cancelled too when the server stops, and done, which ends it and gives
// its slot back.
func (ev *events) admitPoll(r *http.Request) (ctx context.Context, done func(), err error) {
	stopping, err := ev.admit(r)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(stopping, cancel)
	return ctx, func() {
		stop()
		cancel()
		ev.release()
	}, nil
}

// stream writes sub's replies as server-sent events (id, event = reply
// type, data = reply JSON), flushed as they come (a burst in one write),
// with a heartbeat comment when idle. The events in first, then sub's
// replay (of a resumed global stream) come before the live replies. The
// events of other nodes (a cluster's global stream) come through relayed,
// each as a function run here that makes them ("" for none). It returns
// when sub ends (a subscriber cut off for falling behind gets a final
// error event first), the client goes, a write fails or stopping is done.
func (ev *events) stream(stopping context.Context, w http.ResponseWriter, r *http.Request, sub *hw.Subscription,
	id func(hw.Reply) string, first string, relayed <-chan func() string) {
	send, ok := beginStream(w, r, ": stream open\n\n"+first)
	if !ok {
		return
	}
	if !replay(stopping, r, sub, id, send) {
		return
	}
	tick := time.NewTicker(ev.heartbeat)
	defer tick.Stop()
	ended := func() {
		if errors.Is(sub.Err(), hw.ErrSlowSubscriber) {
			send(errorEvent(sub.Err()))
		}
	}
	for {
		var text string
		open := true
		select {
		case rep, ok := <-sub.C():
			if !ok {
				ended()
				return
			}
			text, open = replyBatch(rep, sub.C(), id)
			tick.Reset(ev.heartbeat)
		case relay := <-relayed:
			if text = relay(); text == "" {
				continue
			}
			tick.Reset(ev.heartbeat)
		case <-tick.C:
			text = ": heartbeat\n\n"
		case <-r.Context().Done():
			return
		case <-stopping.Done():
			return
		}
		if !send(text) {
			return
		}
		if !open {
			ended()
			return
		}
	}
}

// sseBatch is the most replies written and flushed together.
const sseBatch = 64

// replyBatch is rep's event followed by those of the replies already
// waiting (up to sseBatch in all), to be written and flushed at once: under
// load one write per burst instead of one per reply, which was the
// server's largest syscall cost (BENCHMARKS.md). open is false when the
// subscription ended while draining.
func replyBatch(rep hw.Reply, c <-chan hw.Reply, id func(hw.Reply) string) (text string, open bool) {
	var b strings.Builder
	b.WriteString(replyEvent(rep, id(rep)))
	for range sseBatch - 1 {
		select {
		case next, ok := <-c:
			if !ok {
				return b.String(), false
			}
			b.WriteString(replyEvent(next, id(next)))
		default:
			return b.String(), true
		}
	}
	return b.String(), true
}

func replyEvent(rep hw.Reply, id string) string {
	data, err := json.Marshal(rep)
	if err != nil {
		panic(fmt.Errorf("httpapi: encoding a reply: %w", err)) // a programming error; see writeBody
	}
	return "id: " + id + "\nevent: " + rep.Type.String() + "\ndata: " + string(data) + "\n\n"
}

// replay writes sub's replay, sseBatch items at a time, and tells whether
// the stream goes on: false when a write failed, the client went or
// stopping is done.
func replay(stopping context.Context, r *http.Request, sub *hw.Subscription, id func(hw.Reply) string,
	send func(string) bool) bool {
	buf := make([]hw.Replayed, 0, sseBatch)
	for {
		items, done := sub.Replay(buf)
		if len(items) > 0 && !send(replayedEvents(items, id)) {
			return false
		}
		if done {
			return true
		}
		select {
		case <-r.Context().Done():
			return false
		case <-stopping.Done():
			return false
		default:
		}
	}
}

// replayedEvents is the events of a replay's items: a reply's event each,
// and one "lost" event for each run of losses, at the last one's position.
func replayedEvents(items []hw.Replayed, id func(hw.Reply) string) string {
	var b strings.Builder
	for i := 0; i < len(items); {
		if !items[i].Lost {
			b.WriteString(replyEvent(items[i].Reply, id(items[i].Reply)))
			i++
			continue
		}
		lost := LostEvent{Reason: LostDropped}
		for ; i < len(items) && items[i].Lost; i++ {
			if m := items[i].MSISDN; !slices.Contains(lost.Phones, m) {
				lost.Phones = append(lost.Phones, m)
			}
		}
		b.WriteString(lostEvent(lost, id(items[i-1].Reply)))
	}
	return b.String()
}

// LostEvent is the data of a global stream's "lost" event: replies past
// the client's Last-Event-ID that the stream cannot give.
type LostEvent struct {
	Reason string `json:"reason"` // LostDropped or LostUnknownRun
	// Phones are those some of whose replies are gone (their seq shows
	// how many); none for LostUnknownRun, whose losses are not known.
	Phones []string `json:"phones"`
}

// The reasons of a LostEvent.
const (
	// LostDropped: the phones' rings dropped replies past the id before
	// the client came back for them.
	LostDropped = "dropped"
	// LostUnknownRun: the id is from another run of the server (it
	// restarted, or the client came from another server): what came after
	// it there is not here.
	LostUnknownRun = "unknown_run"
)

// unknownRunEvent is the "lost" event of an id from another run, at id.
func unknownRunEvent(id string) string {
	return lostEvent(LostEvent{Reason: LostUnknownRun, Phones: []string{}}, id)
}

// lostEvent is a "lost" event at id: the stream goes on from there.
func lostEvent(lost LostEvent, id string) string {
	data, err := json.Marshal(lost)
	if err != nil {
		panic(fmt.Errorf("httpapi: encoding a lost event: %w", err)) // a programming error; see writeBody
	}
	return "id: " + id + "\nevent: lost\ndata: " + string(data) + "\n\n"
}

// errorEvent is the last event of a stream that ended in error: the
// problem, without an id so that a reconnecting client resumes after the
// last reply it got.
func errorEvent(err error) string {
	data, _ := json.Marshal(newProblem(errcode.Of(err), err.Error()))
	return "event: error\ndata: " + string(data) + "\n\n"
}

// stopping is cancelled when the http.Server serving r begins a graceful
// Shutdown; never when r did not come through an http.Server.
func (ev *events) stopping(r *http.Request) context.Context {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return context.Background()
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ctx, ok := ev.shutdowns[srv]
	if !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		ev.shutdowns[srv] = ctx
		srv.RegisterOnShutdown(cancel)
	}
	return ctx
}
