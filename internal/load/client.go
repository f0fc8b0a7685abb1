package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bsc-sim/bsc/internal/backoff"
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

// client is the driver's side of the HTTP API, over one or more targets
// (the nodes of a cluster). Every request has a timeout, a request
// refused for now is sent again after a back-off, and the driver's
// actions also take one of a bounded number of slots.
//
// Requests go through fasthttp rather than net/http: its client writes the
// request and reads the answer on the calling goroutine, where net/http's
// hands each request to a connection's write goroutine and its answer back
// from a read goroutine. Those hand-offs were a third of the driver's CPU
// and, on a busy machine, part of every latency it measured
// (BENCHMARKS.md, issue 14). The event streams stay on net/http (stream.go).
type client struct {
	targets []*target
	next    atomic.Uint64 // the round-robin of the requests that are no phone's
	token   string
	timeout time.Duration
	retry   backoff.Policy
	slots   chan struct{} // in flight at most cap(slots)
	stats   *stats
	wire    *wire

	// fail stops the run on a fatal error; set by the driver.
	fail func(error)
}

// target is one node the driver sends to.
type target struct {
	base string // its URL, for the event streams and the report
	host string // Host header: its host[:port]
	http *fasthttp.HostClient

	// For the unresponsiveness watchdog: operations in flight (not setup
	// or books requests, which may legitimately take long, nor back-off
	// waits), and when it last answered anything.
	inflight   atomic.Int64
	lastAnswer atomic.Int64 // unix nanos
	// sent counts the requests sent to it, retries included.
	sent atomic.Int64
}

// The back-off of a request refused for now (503, 429): full jitter from
// retryBase, doubling, every wait at most retryCap. bsc asks for 1 or 2 s
// (Retry-After), which is the floor (a 2 s answer leaves no room for
// jitter: bsc's own draw spreads those); a server asking for more than the
// cap is given up on, the request counted as such.
const (
	retryBase = 50 * time.Millisecond
	retryCap  = 2 * time.Second
)

func newClient(cfg Config, st *stats, w *wire, fail func(error)) *client {
	c := &client{
		token:   cfg.Token,
		timeout: cfg.Timeout,
		retry:   backoff.Policy{Base: retryBase, Cap: retryCap, Attempts: cfg.Retries + 1},
		slots:   make(chan struct{}, cfg.Concurrency),
		stats:   st,
		wire:    w,
		fail:    fail,
	}
	for _, base := range cfg.Targets {
		c.targets = append(c.targets, newTarget(cfg, base, w))
	}
	return c
}

func newTarget(cfg Config, base string, w *wire) *target {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		panic(fmt.Sprintf("load: target %q: %v", base, err)) // Config.Validate checked it
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
		// fasthttp sends every request once: a POST it retried by itself
		// would be an action the driver did not mean, and its count would
		// be wrong. The driver retries what the server refused (send).
		MaxIdemponentCallAttempts: 1,
		DisablePathNormalizing:    true,
	}
	t := &target{base: u.String(), host: u.Host, http: hc}
	t.lastAnswer.Store(time.Now().UnixNano())
	return t
}

// spread is the target of a request that is no phone's (setup, books):
// each in turn.
func (c *client) spread() *target {
	return c.targets[(c.next.Add(1)-1)%uint64(len(c.targets))]
}

// answer is what came back from a request: a status and the problem code,
// or a code of its own (codeTimeout, ...) when nothing came back; and when
// the request was first sent and how long its answer took from then, the
// back-off of its retries included.
type answer struct {
	status int
	code   string
	sent   time.Time
	took   time.Duration
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// act performs an operation meant to be sent at intended, to t. Its latency
// is the request's own, from its sending to its answer, as an outside tool
// (k6's http_req_duration, wrk) measures it, and the back-off of its
// retries, which its user waited too; the time from intended to the
// sending (a late timer, a wait for a slot, the scheduler) is the driver's
// lag, recorded apart so that a driver falling behind shows.
func (c *client) act(ctx context.Context, t *target, o op, intended time.Time, method, path string, body any) answer {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return answer{code: codeAbandoned}
	}
	a := c.send(ctx, t, c.timeout, true, method, path, body, nil)
	<-c.slots
	if a.code != codeAbandoned {
		c.stats.record(o, a, a.sent.Sub(intended))
	}
	return a
}

// do sends one request to t bounded by the timeout and decodes a 2xx body
// into out (nil: discarded).
func (c *client) do(ctx context.Context, t *target, method, path string, body, out any) answer {
	return c.doWithin(ctx, t, c.timeout, method, path, body, out)
}

// doWithin is do with a timeout of its own, for the few requests that do
// much more work than an action.
func (c *client) doWithin(ctx context.Context, t *target, timeout time.Duration, method, path string, body, out any) answer {
	return c.send(ctx, t, timeout, false, method, path, body, out)
}

// send sends a request, and again while it is refused for now (503, 429)
// as c.retry says, honouring its Retry-After; the retries and the requests
// given up on are counted. watched requests are the watchdog's. A request
// is not sent once ctx is done, nor after a back-off ctx ended; one on its
// way ends within its timeout.
func (c *client) send(ctx context.Context, t *target, timeout time.Duration, watched bool, method, path string, body, out any) answer {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			panic(fmt.Sprintf("load: request body %T: %v", body, err)) // our own types always marshal
		}
	}
	var a answer
	var first time.Time
	err := c.retry.Retry(ctx, func(attempt int) (bool, time.Duration) {
		if attempt > 1 {
			c.stats.retried(a.status)
		}
		var floor time.Duration
		a, floor = c.exchange(ctx, t, timeout, watched, method, path, raw, out)
		if attempt == 1 {
			first = a.sent
		}
		return refusedForNow(a.status), floor
	})
	switch {
	case errors.Is(err, backoff.ErrGaveUp):
		c.stats.add(&c.stats.gaveUp, 1)
	case err != nil: // ctx ended during a back-off
		return answer{code: codeAbandoned}
	}
	if a.code != codeAbandoned { // the first attempt was sent: it set first
		a.took, a.sent = a.sent.Add(a.took).Sub(first), first
	}
	return a
}

// refusedForNow tells the answers that ask to be sent again later: the
// server shedding load or a cell moving between nodes (503), a rate limit
// (429).
func refusedForNow(status int) bool {
	return status == fasthttp.StatusServiceUnavailable || status == fasthttp.StatusTooManyRequests
}

// exchange sends one request to t bounded by timeout and decodes a 2xx
// body into out (nil: discarded). floor is the wait a refusal asked for
// (Retry-After).
func (c *client) exchange(ctx context.Context, t *target, timeout time.Duration, watched bool, method, path string, body []byte, out any) (a answer, floor time.Duration) {
	if ctx.Err() != nil {
		return answer{code: codeAbandoned}, 0
	}
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(method)
	req.Header.SetHost(t.host)
	req.SetRequestURI(path)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if watched {
		t.inflight.Add(1)
		defer t.inflight.Add(-1)
	}
	t.sent.Add(1)
	sent := time.Now()
	err := t.http.DoTimeout(req, res, timeout)
	a = answer{sent: sent, took: time.Since(sent)}
	if err != nil {
		a.code = c.failed(err)
		return a, 0
	}
	t.lastAnswer.Store(sent.Add(a.took).UnixNano())
	a.status = res.StatusCode()
	if !a.ok() {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(res.Body(), &p) != nil || p.Code == "" {
			p.Code = fmt.Sprintf("http_%d", a.status)
		}
		a.code = p.Code
		return a, retryAfter(string(res.Header.Peek("Retry-After")), sent.Add(a.took))
	}
	if out != nil {
		if err := json.Unmarshal(res.Body(), out); err != nil {
			a.status, a.code = 0, codeBadAnswer
		}
	}
	return a, 0
}

// retryAfter is the wait a Retry-After header value asks for at now: a
// number of seconds or an HTTP date (RFC 9110 10.2.3); none, or one not
// understood, asks for none.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
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

// unresponsive is a target whose requests have waited longer than limit
// without it answering any of them, or nil.
func (c *client) unresponsive(now time.Time, limit time.Duration) *target {
	for _, t := range c.targets {
		if t.inflight.Load() > 0 && now.Sub(time.Unix(0, t.lastAnswer.Load())) > limit {
			return t
		}
	}
	return nil
}

// closeIdle closes the connections not carrying a request.
func (c *client) closeIdle() {
	for _, t := range c.targets {
		t.http.CloseIdleConnections()
	}
}

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
