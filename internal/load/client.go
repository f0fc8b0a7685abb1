package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
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

// Bounds on what the driver reads from an answer.
const (
	maxProblemBody = 64 << 10
	maxListBody    = 16 << 20
)

// client is the driver's side of the HTTP API. Every request has a timeout,
// and the driver's actions also take one of a bounded number of slots.
type client struct {
	base    string
	token   string
	timeout time.Duration
	http    *http.Client
	slots   chan struct{} // in flight at most cap(slots)
	stats   *stats

	// For the unresponsiveness watchdog: operations in flight (not setup
	// or books requests, which may legitimately take long), and when the
	// server last answered anything.
	inflight   atomic.Int64
	lastAnswer atomic.Int64 // unix nanos

	// fail stops the run on a fatal error; set by the driver.
	fail func(error)
}

func newClient(cfg Config, st *stats, fail func(error)) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback benchmarks must not detour through a proxy
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	c := &client{
		base:    strings.TrimRight(cfg.Target, "/"),
		token:   cfg.Token,
		timeout: cfg.Timeout,
		http:    &http.Client{Transport: tr},
		slots:   make(chan struct{}, cfg.Concurrency),
		stats:   st,
		fail:    fail,
	}
	c.lastAnswer.Store(time.Now().UnixNano())
	return c
}

// answer is what came back from a request: a status and the problem code,
// or a code of its own (codeTimeout, ...) when nothing came back.
type answer struct {
	status int
	code   string
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// act performs an operation measured from intended, the time it was meant
// to be sent: waiting for a slot counts, as it would for a real user.
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
		c.stats.record(o, time.Since(intended), classify(a.status, a.code), a.code)
	}
	return a
}

// do sends one request bounded by the timeout and decodes a 2xx body into
// out (nil: discarded).
func (c *client) do(ctx context.Context, method, path string, body, out any) answer {
	return c.doWithin(ctx, c.timeout, method, path, body, out)
}

// doWithin is do with a timeout of its own, for the few requests that do
// much more work than an action.
func (c *client) doWithin(ctx context.Context, timeout time.Duration, method, path string, body, out any) answer {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(fmt.Sprintf("load: request body %T: %v", body, err)) // our own types always marshal
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		panic(fmt.Sprintf("load: request %s %s: %v", method, path, err)) // paths are ours
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return c.failed(ctx, err)
	}
	defer res.Body.Close()
	c.lastAnswer.Store(time.Now().UnixNano())
	a := answer{status: res.StatusCode}
	if !a.ok() {
		var p struct {
			Code string `json:"code"`
		}
		if json.NewDecoder(io.LimitReader(res.Body, maxProblemBody)).Decode(&p) != nil || p.Code == "" {
			p.Code = fmt.Sprintf("http_%d", res.StatusCode)
		}
		a.code = p.Code
	} else if out != nil {
		if err := json.NewDecoder(io.LimitReader(res.Body, maxListBody)).Decode(out); err != nil {
			return c.failed(ctx, err)
		}
	}
	// Drain what is left (bounded) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxProblemBody))
	return a
}

// failed names a request that got no usable answer. A refused connection
// means nothing listens any more, which ends the run at once.
func (c *client) failed(ctx context.Context, err error) answer {
	var op *net.OpError
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return answer{code: codeTimeout}
	case ctx.Err() != nil: // the driver is stopping and gave up on it
		return answer{code: codeAbandoned}
	case errors.As(err, &op) && op.Op == "dial":
		c.fail(fmt.Errorf("%w: %v", ErrUnreachable, err))
		return answer{code: codeUnreachable}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, new(net.Error)):
		return answer{code: codeUnreachable}
	}
	return answer{code: codeBadAnswer}
}

// unresponsive tells whether requests have waited longer than limit without
// the server answering any of them.
func (c *client) unresponsive(now time.Time, limit time.Duration) bool {
	return c.inflight.Load() > 0 && now.Sub(time.Unix(0, c.lastAnswer.Load())) > limit
}
