package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bsc-sim/bsc/internal/backoff"
)

// reply is one phone reply (api.md), from the event stream or a phone's
// list of replies. Seq counts the phone's replies from 1: the driver
// applies each once, in that order (onReply, catchUp).
type reply struct {
	Seq    uint64 `json:"seq"`
	MSISDN string `json:"msisdn"`
	Type   string `json:"type"`
	From   string `json:"from,omitempty"`
	// Node is, in a cluster, the node that runs the phone, whose device
	// numbers its replies; empty on a single node.
	Node string `json:"node,omitempty"`
}

// streamChunk is how many MSISDNs one event stream filters on: the filter
// travels in the URL, which servers bound (a few tens of KB is safe), and
// several streams also spread the server's per-subscriber work.
const streamChunk = 1000

// Reconnection bounds: a stream that cannot be had again within these
// attempts, each after a back-off as a refused request's (client.go),
// means the target is gone.
const (
	streamRetries = 8
	maxEventLine  = 64 << 10
)

var streamRetry = backoff.Policy{Base: retryBase, Cap: retryCap, Attempts: streamRetries + 1}

// stream follows GET /api/v1/events?msisdn=... for a part of the
// population and hands every reply to deliver. It reconnects when the
// server ends the stream (a subscriber that fell behind is cut off) and
// when kicked by the watchdog; replies sent while it was away are lost,
// which the driver's per-phone deadlines recover from (a resync reads a
// phone's replies back).
type stream struct {
	c       *client
	node    int // the index of the target it streams from
	http    *http.Client
	query   string
	deliver func(reply)

	lastByte atomic.Int64                       // unix nanos of the last byte read
	cancel   atomic.Pointer[context.CancelFunc] // ends the current connection
	reconn   atomic.Int64                       // reconnections, for the report
}

func newStream(c *client, node int, hc *http.Client, msisdns []string, deliver func(reply)) *stream {
	q := url.Values{"msisdn": {strings.Join(msisdns, ",")}}
	s := &stream{c: c, node: node, http: hc, query: q.Encode(), deliver: deliver}
	s.lastByte.Store(time.Now().UnixNano())
	return s
}

// run follows the stream until ctx ends. ready is called once, when the
// first connection is established (the subscription is in place). An error
// means the stream could not be had again: the target is gone.
func (s *stream) run(ctx context.Context, ready func()) error {
	for {
		var connected bool
		var err error
		_ = streamRetry.Retry(ctx, func(int) (bool, time.Duration) {
			var floor time.Duration
			connected, floor, err = s.follow(ctx, ready)
			var op *net.OpError
			refused := errors.As(err, &op) && op.Op == "dial" // nothing listens: the target is gone
			return !connected && !refused && ctx.Err() == nil, floor
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case !connected: // refused, or every retry failed
			return fmt.Errorf("%w: event stream of %s: %v", ErrUnreachable, s.target().base, err)
		}
		s.reconn.Add(1) // it ended: again, at once
	}
}

// follow reads one connection of the stream to its end. connected tells
// whether it got as far as a 200; floor is the wait a refusal asked for
// (Retry-After).
func (s *stream) follow(ctx context.Context, ready func()) (connected bool, floor time.Duration, err error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancel.Store(&cancel)
	// The connection has the request timeout to be answered; after that a
	// stream may be silent for as long as nothing happens, and the
	// watchdog (kick) is what ends a dead one.
	connectTimer := time.AfterFunc(s.c.timeout, cancel)
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.target().base+"/api/v1/events?"+s.query, nil)
	if err != nil {
		connectTimer.Stop()
		return false, 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.c.token)
	}
	res, err := s.http.Do(req)
	connectTimer.Stop()
	if err != nil {
		return false, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, retryAfter(res.Header.Get("Retry-After"), time.Now()), fmt.Errorf("GET /api/v1/events: status %d", res.StatusCode)
	}
	s.touch()
	ready()
	return true, 0, s.read(bufio.NewReaderSize(res.Body, 16<<10))
}

// read parses server-sent events: "data:" lines up to a blank line make an
// event; "id:", "event:" and ":" comments carry nothing the driver needs
// (the data repeats the type and has the phone's own seq, which is what
// the driver orders a phone's replies by; the id is the reply's place in
// the stream of every phone's, which a reconnection does not resume from:
// a resync reads back what a phone missed). A reply without a seq is not
// one api.md describes, and is not delivered.
// Lines are read into buffers kept across events: the streams carry every
// reply of the run.
func (s *stream) read(r *bufio.Reader) error {
	var line, data []byte
	for {
		var err error
		if line, err = readLine(r, line[:0]); err != nil {
			return err
		}
		switch {
		case len(line) == 0: // an event ends, or a comment such as the heartbeat
			s.touch()
			if len(data) > 0 {
				var rep reply
				if json.Unmarshal(data, &rep) == nil && rep.MSISDN != "" && rep.Seq > 0 {
					s.deliver(rep)
				}
				data = data[:0]
			}
		case bytes.HasPrefix(line, dataField):
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(line[len(dataField):], []byte(" "))...)
		}
	}
}

var dataField = []byte("data:")

// readLine appends one line without its end (LF or CRLF) to buf, refusing
// lines longer than maxEventLine so a broken server cannot grow the driver.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		if buf = append(buf, frag...); len(buf) > maxEventLine {
			return nil, errors.New("event stream: line too long")
		}
		if !isPrefix {
			return buf, nil
		}
	}
}

func (s *stream) touch() { s.lastByte.Store(time.Now().UnixNano()) }

// target is the node the stream reads.
func (s *stream) target() *target { return s.c.targets[s.node] }

// kick ends the current connection if nothing came on it for quiet: the
// driver calls it when a phone of this stream waited too long for a reply,
// which on a silent stream means the connection is dead (a half-open TCP
// connection reads nothing forever).
func (s *stream) kick(now time.Time, quiet time.Duration) {
	if now.Sub(time.Unix(0, s.lastByte.Load())) < quiet {
		return
	}
	if c := s.cancel.Load(); c != nil {
		(*c)()
	}
}
