package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/testutil"
)

// streamLimit bounds every wait of these tests, generous for the race
// detector on a loaded machine.
const streamLimit = 10 * time.Second

// sseBlock is one block of a stream: an event, or comment lines.
type sseBlock struct {
	id, event, data string
	comments        []string
}

// sseStream reads a server-sent event stream.
type sseStream struct {
	res *http.Response
	br  *bufio.Reader
}

// openStream GETs path as text/event-stream with the given headers and
// wants 200; the stream ends with the test, or at streamLimit.
func openStream(t *testing.T, srv *httptest.Server, path string, header map[string]string) *sseStream {
	t.Helper()
	res := getStream(t, srv, path, header)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200: %s", path, res.StatusCode, readBody(t, res))
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET %s: Content-Type %q, want text/event-stream", path, ct)
	}
	return &sseStream{res: res, br: bufio.NewReader(res.Body)}
}

func getStream(t *testing.T, srv *httptest.Server, path string, header map[string]string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamLimit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	return res
}

// next reads the next block; io.EOF when the stream ended.
func (s *sseStream) next() (sseBlock, error) {
	var b sseBlock
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return b, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return b, nil
		case strings.HasPrefix(line, ":"):
			b.comments = append(b.comments, strings.TrimSpace(line[1:]))
		default:
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				b.id = value
			case "event":
				b.event = value
			case "data":
				b.data = value
			}
		}
	}
}

// event reads up to the next event, skipping comments.
func (s *sseStream) event(t *testing.T) sseBlock {
	t.Helper()
	for {
		b, err := s.next()
		if err != nil {
			t.Fatalf("stream ended before an event: %v", err)
		}
		if b.event != "" {
			return b
		}
	}
}

// opened reads the comment the server sends first, which tells the
// subscription is in place.
func (s *sseStream) opened(t *testing.T) {
	t.Helper()
	b, err := s.next()
	if err != nil || len(b.comments) == 0 || b.event != "" {
		t.Fatalf("first block %+v, %v; want the opening comment", b, err)
	}
}

// ends reads to the end of the stream, failing on another event.
func (s *sseStream) ends(t *testing.T) {
	t.Helper()
	for {
		b, err := s.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("stream failed instead of ending: %v", err)
		}
		if b.event != "" {
			t.Fatalf("event %+v, want the stream to end", b)
		}
	}
}

func wantReply(t *testing.T, b sseBlock, id string, typ hw.ReplyType, seq uint64) {
	t.Helper()
	var rep hw.Reply
	if err := json.Unmarshal([]byte(b.data), &rep); err != nil {
		t.Fatalf("event %+v: data: %v", b, err)
	}
	if b.id != id || b.event != typ.String() || rep.Type != typ || rep.Seq != seq {
		t.Fatalf("event %+v, want id %s, event %s, seq %d", b, id, typ, seq)
	}
}

func TestPhoneStreamReplaysFollowsAndResumes(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	dev := hub.Device("123")
	dev.Deliver(hw.Inbound, "124")
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub, StreamHeartbeat: time.Millisecond}))
	t.Cleanup(srv.Close) // after the streams' cleanups, which end them

	s := openStream(t, srv, "/api/v1/phones/123/events", nil)
	wantReply(t, s.event(t), "1", hw.Inbound, 1) // the ring's, replayed
	dev.Deliver(hw.Hangup, "")
	wantReply(t, s.event(t), "2", hw.Hangup, 2)
	for {
		b, err := s.next()
		if err != nil {
			t.Fatalf("no heartbeat on an idle stream: %v", err)
		}
		if len(b.comments) > 0 && b.comments[0] == "heartbeat" {
			break
		}
	}

	resumed := openStream(t, srv, "/api/v1/phones/123/events", map[string]string{"Last-Event-ID": "1"})
	wantReply(t, resumed.event(t), "2", hw.Hangup, 2)
	byQuery := openStream(t, srv, "/api/v1/phones/123/events?after=2", nil)
	byQuery.opened(t)
	dev.Deliver(hw.Busy, "")
	for _, st := range []*sseStream{s, resumed, byQuery} {
		wantReply(t, st.event(t), "3", hw.Busy, 3)
	}

	hub.Remove("123") // detached: every stream of the phone ends
	for _, st := range []*sseStream{s, resumed, byQuery} {
		st.ends(t)
	}
}

// TestStreamOutlivesWriteTimeout: a server's WriteTimeout bounds a whole
// response; a stream sets its own deadline per write instead.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	dev := hub.Device("123")
	const timeout = 50 * time.Millisecond
	srv := httptest.NewUnstartedServer(httpapi.New(httpapi.Deps{Hub: hub, StreamHeartbeat: timeout / 5}))
	srv.Config.WriteTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)
	s := openStream(t, srv, "/api/v1/phones/123/events", nil)
	// Heartbeats keep coming well past the server's write timeout...
	for start := time.Now(); time.Since(start) < 4*timeout; {
		if _, err := s.next(); err != nil {
			t.Fatalf("stream cut after %v: %v", time.Since(start), err)
		}
	}
	// ...and so do replies.
	dev.Deliver(hw.Busy, "")
	wantReply(t, s.event(t), "1", hw.Busy, 1)
}

func TestGlobalStreamFilters(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub}))
	t.Cleanup(srv.Close) // after the streams' cleanups, which end them
	all := openStream(t, srv, "/api/v1/events", nil)
	some := openStream(t, srv, "/api/v1/events?msisdn=123,125", nil)
	all.opened(t)
	some.opened(t)

	hub.Device("124").Deliver(hw.Busy, "")
	hub.Device("123").Deliver(hw.Inbound, "124")
	hub.Device("125").Deliver(hw.Invalid, "")
	// Ids are RUN-POSITION, the place in the stream of every phone's replies.
	run := hub.Run()
	wantReply(t, all.event(t), run+"-1", hw.Busy, 1)
	wantReply(t, all.event(t), run+"-2", hw.Inbound, 1)
	wantReply(t, all.event(t), run+"-3", hw.Invalid, 1)
	wantReply(t, some.event(t), run+"-2", hw.Inbound, 1)
	wantReply(t, some.event(t), run+"-3", hw.Invalid, 1)
}

func TestEventStreamsAreBounded(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123")
	var shed atomic.Int32
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub, MaxStreams: 1, MaxInflight: 1,
		OnShed: func() { shed.Add(1) }}))
	t.Cleanup(srv.Close) // after the streams' cleanups, which end them

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	(&sseStream{res: res, br: bufio.NewReader(res.Body)}).opened(t)

	// The stream holds no in-flight slot: other routes are served...
	if res := do(t, srv.Config.Handler, request{path: "/api/v1/version"}); res.StatusCode != http.StatusOK {
		t.Fatalf("version while a stream is open: %d", res.StatusCode)
	}
	// ...but it holds the only stream slot.
	for _, path := range []string{"/api/v1/events", "/api/v1/phones/123/events"} {
		res := getStream(t, srv, path, nil)
		problemOf(t, res, http.StatusServiceUnavailable, "overloaded")
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	res = do(t, srv.Config.Handler, request{path: "/api/v1/phones/123/events"}) // a long poll too
	problemOf(t, res, http.StatusServiceUnavailable, "overloaded")
	if n := shed.Load(); n != 3 {
		t.Errorf("OnShed called %d times, want 3", n)
	}

	cancel() // the client goes: its slot is free again
	testutil.Eventually(t, streamLimit, "the stream slot to be released", func() bool {
		res := do(t, srv.Config.Handler, request{path: "/api/v1/phones/123/events"})
		return res.StatusCode == http.StatusOK
	})
}

// gatedWriter holds the handler's first write until the test opens the
// gate, so the test can fill a subscription meanwhile.
type gatedWriter struct {
	header  http.Header
	writing chan struct{} // closed by the first write
	gate    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	body    bytes.Buffer
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}

func TestSlowSubscriberGetsAnErrorEvent(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{RingSize: 1, StreamBuffer: 1})
	dev := hub.Device("123")
	h := httpapi.New(httpapi.Deps{Hub: hub})
	w := &gatedWriter{header: http.Header{}, writing: make(chan struct{}), gate: make(chan struct{})}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/phones/123/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	<-w.writing // subscribed, and stuck on its first write
	dev.Deliver(hw.Inbound, "124")
	dev.Deliver(hw.Hangup, "") // the buffer of one is full: cut off
	close(w.gate)
	select {
	case <-done:
	case <-time.After(streamLimit):
		t.Fatal("the stream did not end after its subscriber was cut off")
	}

	s := &sseStream{br: bufio.NewReader(&w.body)}
	wantReply(t, s.event(t), "1", hw.Inbound, 1) // what was buffered is still sent
	last := s.event(t)
	var p httpapi.Problem
	if err := json.Unmarshal([]byte(last.data), &p); err != nil || last.event != "error" || last.id != "" ||
		p.Code != "overloaded" || p.Status != http.StatusServiceUnavailable {
		t.Fatalf("last event %+v (%v), want an error event with an overloaded problem and no id", last, err)
	}
	s.ends(t)
}

func TestShutdownEndsStreamsAndPolls(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123")
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Hub: hub}))
	t.Cleanup(srv.Close) // after the streams' cleanups, which end them
	s := openStream(t, srv, "/api/v1/phones/123/events", nil)
	s.opened(t)
	polled := make(chan *http.Response, 1)
	go func() {
		res, err := srv.Client().Get(srv.URL + "/api/v1/phones/123/events?wait=30")
		if err != nil {
			res = nil
		}
		polled <- res
	}()
	// The poll is waiting once the hub has a waiter; the shutdown must end
	// it anyway, so it need not be waiting yet.
	ctx, cancel := context.WithTimeout(context.Background(), streamLimit)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream and a long poll open: %v", err)
	}
	s.ends(t)
	if res := <-polled; res != nil {
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("long poll cut by the shutdown: %d, want 200 (an empty page)", res.StatusCode)
		}
	}
}

func TestLongPoll(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	dev := hub.Device("123")
	h := httpapi.New(httpapi.Deps{Hub: hub})
	poll := func(query string) httpapi.EventsPage {
		t.Helper()
		res := do(t, h, request{path: "/api/v1/phones/123/events" + query})
		body := readBody(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("poll %s: %d %s", query, res.StatusCode, body)
		}
		var p httpapi.EventsPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := poll(""); len(p.Items) != 0 || p.Next != 0 {
		t.Fatalf("poll of a silent phone: %+v", p)
	}
	dev.Deliver(hw.Inbound, "124")
	dev.Deliver(hw.Hangup, "")
	if p := poll("?after=0"); len(p.Items) != 2 || p.Items[0].From != "124" || p.Next != 2 {
		t.Fatalf("poll: %+v, want inbound from 124 and hangup, next 2", p)
	}
	if p := poll("?after=1"); len(p.Items) != 1 || p.Items[0].Type != hw.Hangup || p.Next != 2 {
		t.Fatalf("poll after 1: %+v, want the hangup", p)
	}
	if p := poll("?after=2&wait=0.01"); len(p.Items) != 0 || p.Next != 2 {
		t.Fatalf("poll that timed out: %+v, want no items and next 2", p)
	}
	got := make(chan httpapi.EventsPage, 1)
	go func() { got <- poll("?after=2&wait=30") }()
	dev.Deliver(hw.Busy, "") // before or while the poll waits: either way it gets it
	select {
	case p := <-got:
		if len(p.Items) != 1 || p.Items[0].Type != hw.Busy || p.Next != 3 {
			t.Fatalf("waiting poll: %+v, want the busy", p)
		}
	case <-time.After(streamLimit):
		t.Fatal("a waiting poll missed the reply")
	}
}

func TestEventRequestsRefused(t *testing.T) {
	hub := hw.NewHub(hw.HubConfig{})
	hub.Device("123")
	h := httpapi.New(httpapi.Deps{Hub: hub})
	sse := map[string]string{"Accept": "text/event-stream"}
	tests := []struct {
		name, path string
		header     map[string]string
		status     int
		code       string
	}{
		{"global without Accept", "/api/v1/events", nil, 406, "not_acceptable"},
		{"global as JSON", "/api/v1/events", map[string]string{"Accept": "application/json"}, 406, "not_acceptable"},
		{"global refused with q=0", "/api/v1/events", map[string]string{"Accept": "text/event-stream;q=0, */*"}, 406, "not_acceptable"},
		{"bad filter", "/api/v1/events?msisdn=123,12a", sse, 400, "invalid_msisdn"},
		{"empty filter item", "/api/v1/events?msisdn=123,", sse, 400, "invalid_msisdn"},
		{"bad msisdn", "/api/v1/phones/12a/events", nil, 400, "invalid_msisdn"},
		{"wait too long", "/api/v1/phones/123/events?wait=31", nil, 400, "invalid_request"},
		{"negative wait", "/api/v1/phones/123/events?wait=-1", nil, 400, "invalid_request"},
		{"NaN wait", "/api/v1/phones/123/events?wait=NaN", nil, 400, "invalid_request"},
		{"negative after", "/api/v1/phones/123/events?after=-1", nil, 400, "invalid_request"},
		{"bad Last-Event-ID", "/api/v1/phones/123/events", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "x"}, 400, "invalid_request"},
		{"poll of a detached phone", "/api/v1/phones/124/events", nil, 404, "not_attached"},
		{"stream of a detached phone", "/api/v1/phones/124/events", sse, 404, "not_attached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problemOf(t, do(t, h, request{path: tt.path, header: tt.header}), tt.status, tt.code)
		})
	}
	t.Run("draining", func(t *testing.T) { // stopping: a new stream would hold up the shutdown
		h := httpapi.New(httpapi.Deps{Hub: hub, Draining: func() bool { return true }})
		problemOf(t, do(t, h, request{path: "/api/v1/phones/123/events"}), 503, "unavailable")
		problemOf(t, do(t, h, request{path: "/api/v1/phones/123/events", header: sse}), 503, "unavailable")
		problemOf(t, do(t, h, request{path: "/api/v1/events", header: sse}), 503, "unavailable")
	})
	t.Run("no hub", func(t *testing.T) {
		h := httpapi.New(httpapi.Deps{})
		problemOf(t, do(t, h, request{path: "/api/v1/phones/123/events"}), 503, "unavailable")
		problemOf(t, do(t, h, request{path: "/api/v1/events", header: sse}), 503, "unavailable")
	})
}
