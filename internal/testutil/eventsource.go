package testutil

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Event is a server-sent event as an EventSource dispatches it.
type Event struct {
	ID   string // the last event id once this event was read
	Type string // "message" when the event named none
	Data string
}

// EventSource reads a server-sent event stream the way a browser's
// EventSource does (WHATWG HTML, "Server-sent events"): it parses the
// stream line by line, remembers the last event id, and when the stream
// ends or breaks it reconnects and sends that id in Last-Event-ID. It
// reconnects at once, where a browser waits the retry time, and at most
// MaxReconnects times in a row without an event in between.
type EventSource struct {
	t      testing.TB
	ctx    context.Context
	url    string
	header http.Header
	client *http.Client

	// LastEventID is the id of the last event dispatched, sent on the
	// next connection when not empty.
	LastEventID string
	// Reconnects counts the connections after the first.
	Reconnects int
	// MaxReconnects bounds the reconnections between two events.
	MaxReconnects int

	body  io.ReadCloser
	lines *bufio.Reader
	conns int // connections made
	tries int // connections since the last event
}

// NewEventSource makes an EventSource for url; it connects on the first
// Next. Its requests end with ctx; header is sent on every connection.
func NewEventSource(t testing.TB, ctx context.Context, client *http.Client, url string, header http.Header) *EventSource {
	es := &EventSource{t: t, ctx: ctx, url: url, header: header, client: client, MaxReconnects: 3}
	t.Cleanup(es.Drop)
	return es
}

// Drop breaks the current connection, as a network failure would: the next
// Next reconnects.
func (es *EventSource) Drop() {
	if es.body != nil {
		es.body.Close()
		es.body, es.lines = nil, nil
	}
}

// Next returns the next event, connecting or reconnecting as needed; it
// fails the test when the server refuses a connection or the reconnections
// run out.
func (es *EventSource) Next() Event {
	es.t.Helper()
	for {
		if es.lines == nil {
			es.Connect()
		}
		ev, err := es.read()
		if err == nil {
			es.tries = 0
			return ev
		}
		if es.ctx.Err() != nil {
			es.t.Fatalf("event source %s: %v", es.url, es.ctx.Err())
		}
		es.Drop() // the stream ended or broke: reconnect
	}
}

// Connect connects now rather than at the first Next. A server that
// subscribes before it answers is subscribed once Connect returns.
func (es *EventSource) Connect() {
	es.t.Helper()
	if es.tries > es.MaxReconnects {
		es.t.Fatalf("event source %s: %d reconnections without an event", es.url, es.MaxReconnects)
	}
	if es.conns > 0 {
		es.Reconnects++
	}
	es.conns++
	es.tries++
	req, err := http.NewRequestWithContext(es.ctx, http.MethodGet, es.url, nil)
	if err != nil {
		es.t.Fatal(err)
	}
	for k, v := range es.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if es.LastEventID != "" {
		req.Header.Set("Last-Event-ID", es.LastEventID)
	}
	res, err := es.client.Do(req)
	if err != nil {
		es.t.Fatalf("event source %s: %v", es.url, err)
	}
	if ct, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";"); res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		// An EventSource fails for good on such an answer: so does the test.
		es.t.Fatalf("event source %s (Last-Event-ID %q): %d %s: %s", es.url, es.LastEventID, res.StatusCode, ct, b)
	}
	es.body, es.lines = res.Body, bufio.NewReader(res.Body)
}

// read parses up to the next dispatched event. Comments and events
// without data are not dispatched, but their id counts all the same; the
// id of an event cut short by the end of the connection does not.
func (es *EventSource) read() (Event, error) {
	var data strings.Builder
	typ, hasData, id := "", false, es.LastEventID
	for {
		line, err := es.lines.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // a stream never ends for good
			}
			return Event{}, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			es.LastEventID = id
			if !hasData {
				typ = ""
				continue
			}
			return Event{ID: id, Type: cmp.Or(typ, "message"), Data: data.String()}, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				id = value
			}
		}
		// Other fields (retry, unknown ones) are ignored.
	}
}
