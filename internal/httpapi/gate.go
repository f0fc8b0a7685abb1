package httpapi

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The gate is where load regulation decides, in the real server, which
// requests are worked on. Under overload every connection has a request
// ready, and a bound on handlers alone does not help: the requests queue
// before any handler, as their connections' goroutines wait for the CPU,
// and every request, health checks included, waits behind all of them.
// So the bound is taken when a request's first bytes are read: the
// connection's goroutine then waits, parked, for one of the gate's tokens
// (at most maxWait, first come first served), the token is given back when
// the request is answered, and the CPU works on a few requests at a time
// while the others wait in the kernel at no cost. A request that waited
// too long is not worked on: unless it releases resources it is answered
// 503 overloaded with Retry-After at once, and a client honouring it backs
// off, which is what lowers the load. Probes and scrapes never wait: a
// request that starts with GET /healthz, /readyz or /metrics is let
// through, so that health checks are answered at once under any load.
type gate struct {
	tokens  chan struct{}
	maxWait time.Duration
}

func newGate(max int, maxWait time.Duration) *gate {
	if max <= 0 {
		max = DefaultMaxInflight()
	}
	if maxWait <= 0 {
		maxWait = DefaultQueueWait
	}
	return &gate{tokens: make(chan struct{}, max), maxWait: maxWait}
}

// gatedConn is a connection whose requests pass the gate.
type gatedConn struct {
	net.Conn
	g       *gate
	holding atomic.Bool // a token is held for the request being served
	shed    atomic.Bool // the request being read waited too long: refuse it
}

// Read reads as the connection does; the first bytes of a request (a read
// by a connection holding no token) then wait at the gate. net/http also
// reads one byte at a time in the background while a handler runs, to see
// a client leave: those reads do not count.
func (c *gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 1 && !c.holding.Load() && !isProbe(p[:n]) {
		c.admit()
	}
	return n, err
}

// admit takes a token, waiting at most maxWait, or marks the request shed.
func (c *gatedConn) admit() {
	g := c.g
	select {
	case g.tokens <- struct{}{}:
		c.holding.Store(true)
		return
	default:
	}
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.tokens <- struct{}{}:
		c.holding.Store(true)
	case <-t.C:
		c.shed.Store(true)
	}
}

// done gives the token back once the request is answered, or when a
// stream or long poll settles in to wait.
func (c *gatedConn) done() {
	if c.holding.CompareAndSwap(true, false) {
		<-c.g.tokens
	}
}

// Close gives back a token that no answer did (a request net/http
// refused before any handler ran).
func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	c.done()
	return err
}

// probes are the request lines that never wait at the gate.
var probes = [][]byte{[]byte("GET /healthz "), []byte("GET /readyz "), []byte("GET /metrics ")}

func isProbe(b []byte) bool {
	for _, p := range probes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

type gateKey struct{}

// ConnContext is the http.Server's ConnContext that lets the API see the
// gate's decision about each request of a connection from a ConnLimiter.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, gateKey{}, &lc.gatedConn)
	}
	return ctx
}

// gateOf is the gated connection of r, nil when it came another way (a
// test's handler, say): then the limiter's own slots regulate.
func gateOf(r *http.Request) *gatedConn {
	c, _ := r.Context().Value(gateKey{}).(*gatedConn)
	return c
}

// settleIn gives r's token back: for streams and long polls, which wait
// far longer than they work.
func settleIn(r *http.Request) {
	if c := gateOf(r); c != nil {
		c.done()
	}
}
