package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// The devices' replies as server-sent events, black box. A stream is not
// a document the spec can validate: its lines are checked here.

// sseEvent is one event of a stream; comments are skipped.
type sseEvent struct {
	id, event string
	reply     replyJSON
}

type sseReader struct {
	br *bufio.Reader
	// global: ids are positions in the stream of every reply (RUN-POS), which
	// expect checks grow; replies are named MSISDN:SEQ as per-phone ids are.
	global  bool
	lastPos uint64
}

var globalID = regexp.MustCompile(`^[0-9a-f]{8}-([0-9]+)$`)

// openEvents opens a stream and reads up to its opening comment, after
// which the server is subscribed. It ends with the test or at waitLimit.
func openEvents(t *testing.T, srv *httptest.Server, path, lastEventID string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s, want 200 text/event-stream", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseReader{br: bufio.NewReader(res.Body)}
	if line, err := s.br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("GET %s: first line %q, %v; want the opening comment", path, line, err)
	}
	return s
}

// next reads the next event; ok false when the stream ended.
func (s *sseReader) next(t *testing.T) (ev sseEvent, ok bool) {
	t.Helper()
	for {
		line, err := s.br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return ev, false
		}
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		field, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		switch field {
		case "id":
			ev.id = value
		case "event":
			ev.event = value
		case "data":
			if err := json.Unmarshal([]byte(value), &ev.reply); err != nil {
				t.Fatalf("data %q: %v", value, err)
			}
		case "":
			if ev.event != "" {
				return ev, true
			}
		}
	}
}

// expect reads the next events and checks them as id/type, a type being
// inbound:FROM for an inbound call.
func (s *sseReader) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		ev, ok := s.next(t)
		if !ok {
			t.Fatalf("stream ended, want %s", w)
		}
		id := ev.id
		if s.global {
			pos, err := strconv.ParseUint(globalID.ReplaceAllString(id, "$1"), 10, 64)
			if err != nil || pos <= s.lastPos {
				t.Fatalf("event id %q after position %d, want RUN-POS past it", id, s.lastPos)
			}
			s.lastPos = pos
			id = ev.reply.MSISDN + ":" + strconv.FormatUint(ev.reply.Seq, 10)
		}
		got := id + "/" + ev.reply.Type
		if ev.reply.Type == "inbound" {
			got += ":" + ev.reply.From
		}
		if got != w || ev.event != ev.reply.Type {
			t.Fatalf("event %+v (%s), want %s", ev, got, w)
		}
	}
}

func (s *sseReader) ends(t *testing.T) {
	t.Helper()
	if ev, ok := s.next(t); ok {
		t.Fatalf("event %+v, want the stream to end", ev)
	}
}

func TestPhoneEventStreamHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	attach(t, srv, "123")
	attach(t, srv, "124")
	s124 := openEvents(t, srv, phonesAPI+"/124/events", "")
	act(t, srv, "123", dial("124"))
	s124.expect(t, "1/inbound:123")
	act(t, srv, "124", accept)
	act(t, srv, "123", hangup)
	s124.expect(t, "2/hangup")

	// A client that reconnects says what it saw last, and misses nothing.
	resumed := openEvents(t, srv, phonesAPI+"/124/events", "1")
	resumed.expect(t, "2/hangup")
	wantProblem(t, srv, http.MethodPost, actionsPath("124"), dial("125"), http.StatusNotFound, "invalid_number")
	s124.expect(t, "3/invalid")
	resumed.expect(t, "3/invalid")

	callJSON(t, srv, http.MethodDelete, phonesAPI+"/124", nil, http.StatusNoContent, nil)
	s124.ends(t)
	resumed.ends(t)
}

func TestGlobalEventStreamHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	for _, m := range []string{"123", "124", "125"} {
		attach(t, srv, m)
	}
	all := openEvents(t, srv, "/api/v1/events", "")
	some := openEvents(t, srv, "/api/v1/events?msisdn=123,125", "")
	all.global, some.global = true, true
	act(t, srv, "124", dial("123"))
	all.expect(t, "123:1/inbound:124")
	act(t, srv, "123", reject)
	all.expect(t, "124:1/rejected")
	act(t, srv, "125", dial("125"))
	all.expect(t, "125:1/busy")
	// 124's rejection is not among the filtered phones' replies.
	some.expect(t, "123:1/inbound:124", "125:1/busy")

	wantProblem(t, srv, http.MethodGet, "/api/v1/events", nil, http.StatusNotAcceptable, "not_acceptable")
	wantProblem(t, srv, http.MethodGet, "/api/v1/events?msisdn=1,x", nil, http.StatusBadRequest, "invalid_msisdn")
}

// TestGlobalEventStreamResumesHTTP: a client of every phone's replies that
// loses its connection and reconnects as an EventSource does, with the id
// of the last event it got, misses nothing.
func TestGlobalEventStreamResumesHTTP(t *testing.T) {
	_, srv := startTestApp(t, nil)
	for _, m := range []string{"123", "124", "125"} {
		attach(t, srv, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	es := testutil.NewEventSource(t, ctx, srv.Client(), srv.URL+"/api/v1/events", nil)
	es.Connect()
	next := func() string {
		t.Helper()
		ev := es.Next()
		var rep replyJSON
		if err := json.Unmarshal([]byte(ev.Data), &rep); err != nil || ev.Type != rep.Type {
			t.Fatalf("event %+v: %v", ev, err)
		}
		return rep.MSISDN + ":" + strconv.FormatUint(rep.Seq, 10) + "/" + rep.Type
	}
	act(t, srv, "124", dial("123"))
	if got := next(); got != "123:1/inbound" {
		t.Fatalf("first event %s, want 123:1/inbound", got)
	}
	es.Drop()
	act(t, srv, "123", reject)
	act(t, srv, "125", dial("125"))
	for _, want := range []string{"124:1/rejected", "125:1/busy"} {
		if got := next(); got != want {
			t.Errorf("after the reconnection %s, want %s", got, want)
		}
	}
	if es.Reconnects != 1 {
		t.Errorf("%d reconnections, want 1", es.Reconnects)
	}
}
