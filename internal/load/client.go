package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrUnreachable is a target that refuses connections or stopped answering:
// the run stops with a partial report rather than wait for it.
var ErrUnreachable = errors.New("target unreachable")

// Codes of failures that have no answer from the server.
const (
	codeTimeout     = "timeout"     // no answer within --timeout
	codeUnreachable = "unreachable" // connection refused, reset or closed
	codeAbandoned   = "abandoned"   // the driver gave up on it while stopping; not counted
	codeBadAnswer   = "bad_answer"  // a 2xx whose body is not what api.md says
)

// maxBody bounds what the driver reads of an answer: a page of a list is
// the largest (api.md: at most 1000 items).
const maxBody = 16 << 20

// client is the driver's side of the HTTP API. Every request has a timeout,
// and the driver's actions also take one of a bounded number of slots.
//
// Requests go through fasthttp rather than net/http: its client writes the
// request and reads the answer on the calling goroutine, where net/http's
// hands each request to a connection's write goroutine and its answer back
// from a read goroutine. Those hand-offs were a third of the driver's CPU
// and, on a busy machine, part of every latency it measured
// (BENCHMARKS.md, issue 14). The event streams stay on net/http (stream.go).
type client struct {
	base    string // the target's URL, for the event streams
	host    string // Host header: the target's host[:port]
	token   string
	timeout time.Duration
	http    *fasthttp.HostClient
	slots   chan struct{} // in flight at most cap(slots)
	stats   *stats
	wire    *wire

	// For the unresponsiveness watchdog: operations in flight (not setup
	// or books requests, which may legitimately take long), and when the
	// server last answered anything.
	inflight   atomic.Int64
	lastAnswer atomic.Int64 // unix nanos

	// fail stops the run on a fatal error; set by the driver.
	fail func(error)
}

func newClient(cfg Config, st *stats, w *wire, fail func(error)) *client {
	u, err := url.Parse(strings.TrimRight(cfg.Target, "/"))
	if err != nil {
		panic(fmt.Sprintf("load: target %q: %v", cfg.Target, err)) // Config.Validate checked it
	}
	tls := u.Scheme == "https"
	hc := &fasthttp.HostClient{
		Addr:     fasthttp.AddMissingPort(u.Host, tls),
		IsTLS:    tls,
		Name:     "bsc-load",
		Dial:     w.dial(cfg.Timeout),
		MaxConns: cfg.Concurrency,
		// Setup, books and resync requests take no slot: rather than fail
		// when the actions hold every connection, they wait for one.
		MaxConnWaitTimeout:  cfg.Timeout,
		MaxIdleConnDuration: 90 * time.Second,
		MaxResponseBodySize: maxBody,
		// Every request is sent once: a retried POST would be an action the
		// driver did not mean, and its count would be wrong.
		MaxIdemponentCallAttempts: 1,
		DisablePathNormalizing:    true,
	}
	c := &client{
		base:    u.String(),
		host:    u.Host,
		token:   cfg.Token,
		timeout: cfg.Timeout,
		http:    hc,
		slots:   make(chan struct{}, cfg.Concurrency),
		stats:   st,
		wire:    w,
		fail:    fail,
	}
	c.lastAnswer.Store(time.Now().UnixNano())
	return c
}

// answer is what came back from a request: a status and the problem code,
// or a code of its own (codeTimeout, ...) when nothing came back; and when
// the request was sent and how long its answer took.
type answer struct {
	status int
	code   string
	sent   time.Time
	took   time.Duration
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// act performs an operation meant to be sent at intended. Its latency is
// the request's own, from its sending to its answer, as an outside tool
// (k6's http_req_duration, wrk) measures it; the time from intended to the
// sending (a late timer, a wait for a slot, the scheduler) is the driver's
// lag, recorded apart so that a driver falling behind shows.
func (c *client) act(ctx context.Context, o op, intended time.Time, method, path string, body any) answer {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return answer{code: codeAbandoned}
	}
	c.inflight.Add(1)
	a := c.do(ctx, method, path, body, nil)
	c.inflight.Add(-1)
	<-c.slots
	if a.code != codeAbandoned {
		c.stats.record(o, a, a.sent.Sub(intended))
	}
	return a
}

// do sends one request bounded by the timeout and decodes a 2xx body into
// out (nil: discarded).
func (c *client) do(ctx context.Context, method, path string, body, out any) answer {
	return c.doWithin(ctx, c.timeout, method, path, body, out)
}

// doWithin is do with a timeout of its own, for the few requests that do
// much more work than an action. A request is not sent once ctx is done;
// one on its way ends within its timeout.
func (c *client) doWithin(ctx context.Context, timeout time.Duration, method, path string, body, out any) answer {
	if ctx.Err() != nil {
		return answer{code: codeAbandoned}
	}
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(method)
	req.Header.SetHost(c.host)
	req.SetRequestURI(path)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(fmt.Sprintf("load: request body %T: %v", body, err)) // our own types always marshal
		}
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	sent := time.Now()
	err := c.http.DoTimeout(req, res, timeout)
	a := answer{sent: sent, took: time.Since(sent)}
	if err != nil {
		a.code = c.failed(err)
		return a
	}
	c.lastAnswer.Store(sent.Add(a.took).UnixNano())
	a.status = res.StatusCode()
	if !a.ok() {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(res.Body(), &p) != nil || p.Code == "" {
			p.Code = fmt.Sprintf("http_%d", a.status)
		}
		a.code = p.Code
	} else if out != nil {
		if err := json.Unmarshal(res.Body(), out); err != nil {
			a.status, a.code = 0, codeBadAnswer
		}
	}
	return a
}

// failed names a request that got no answer. A refused connection means
// nothing listens any more, which ends the run at once.
func (c *client) failed(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns):
		return codeTimeout
	case errors.As(err, &op) && op.Op == "dial":
		c.fail(fmt.Errorf("%w: %v", ErrUnreachable, err))
		return codeUnreachable
	case errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.As(err, new(net.Error)):
		return codeUnreachable
	}
	return codeBadAnswer
}

// unresponsive tells whether requests have waited longer than limit without
// the server answering any of them.
func (c *client) unresponsive(now time.Time, limit time.Duration) bool {
	return c.inflight.Load() > 0 && now.Sub(time.Unix(0, c.lastAnswer.Load())) > limit
}

// closeIdle closes the connections not carrying a request.
func (c *client) closeIdle() { c.http.CloseIdleConnections() }

// wire counts the bytes the driver sends and receives on every connection,
// requests and event streams alike (k6's data_sent and data_received):
// headers, bodies and, over TLS, the encryption's.
type wire struct{ sent, received atomic.Int64 }

// dial is a dial function for fasthttp whose connections are counted.
func (w *wire) dial(timeout time.Duration) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		return w.dialContext(context.Background(), timeout, "tcp", addr)
	}
}

// dialContext dials a counted connection within timeout.
func (w *wire) dialContext(ctx context.Context, timeout time.Duration, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: conn, w: w}, nil
}

type countedConn struct {
	net.Conn
	w *wire
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.received.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.sent.Add(int64(n))
	return n, err
}
