package httpapi

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// The connection bound of load regulation (operations.md: open
// connections, and memory per connection, are bounded). Past it a new
// connection is not left waiting in the kernel's queue, where a client
// sees nothing: its request is read and answered 503 overloaded with
// Retry-After, then the connection is closed.
const (
	// DefaultMaxConnections is the bound when none is configured. A busy
	// connection holds 60 to 120 KB (buffers, its goroutine's stack and
	// what its request allocates), so this is about 250 MB at most.
	DefaultMaxConnections = 2048
	// maxRefusers bounds the goroutines answering refused connections;
	// past it a refused connection is closed without an answer.
	maxRefusers = 64
	// refuseTimeout bounds reading a refused connection's request and
	// writing its answer.
	refuseTimeout = time.Second
	// A burst of connections leaves their buffers and stacks to the Go
	// heap, which the runtime gives back to the system only slowly (and,
	// at bsc's GOGC of 400, keeps a large heap goal). When the open
	// connections fall to a quarter of a peak of at least reclaimPeak,
	// the memory is given back: at once, or, within reclaimEvery of the
	// last time (a forced collection costs tens of milliseconds of CPU),
	// when that interval is over. Deferred, not dropped: two bursts in a
	// row kept the second one's memory for good.
	reclaimPeak  = 256
	reclaimEvery = 5 * time.Second
)

// ConnLimiter wraps a listener so that at most max connections are open;
// the excess is refused as above.
type ConnLimiter struct {
	net.Listener
	max      int64
	open     atomic.Int64
	refusers chan struct{}
	gate     *gate
	onShed   func()
	metrics  *connMetrics
	wg       sync.WaitGroup // the refusing goroutines and the reclaims

	peak atomic.Int64 // most connections open since the last reclaim
	// reclaim gives memory back to the system (debug.FreeOSMemory; a
	// test's counter), at most every reclaimEvery; reclaimMu guards the
	// fields below it.
	reclaim      func()
	reclaimEvery time.Duration
	reclaimMu    sync.Mutex
	lastReclaim  time.Time
	reclaimDue   *time.Timer // a reclaim waiting for reclaimEvery to pass
	closed       bool
}

// Limits are the bounds of a ConnLimiter; zero fields take the defaults.
type Limits struct {
	MaxConnections int           // connections open at once (DefaultMaxConnections)
	MaxActive      int           // requests worked on at once, the gate's tokens (DefaultMaxInflight)
	QueueWait      time.Duration // how long a request waits for a token before it is refused (DefaultQueueWait)
}

// LimitConnections bounds the connections ln accepts and makes their
// requests pass the gate (see gate.go); serve them with an http.Server
// whose ConnContext is ConnContext. onShed, if not nil, is told of each
// refused connection or request; the gauge bsc_http_connections_open and
// the counter bsc_http_connections_refused_total go to reg.
func LimitConnections(ln net.Listener, lim Limits, onShed func(), reg prometheus.Registerer) *ConnLimiter {
	max := lim.MaxConnections
	if max <= 0 {
		max = DefaultMaxConnections
	}
	return &ConnLimiter{Listener: ln, max: int64(max), refusers: make(chan struct{}, maxRefusers),
		gate: newGate(lim.MaxActive, lim.QueueWait), onShed: onShed, metrics: newConnMetrics(reg),
		reclaim: debug.FreeOSMemory, reclaimEvery: reclaimEvery}
}

// Accept returns the next connection within the bound, refusing those
// beyond it on the way.
func (l *ConnLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.open.Add(1); n <= l.max {
			l.metrics.open.Inc()
			if n > l.peak.Load() {
				l.peak.Store(n) // racy max: close enough for a heuristic
			}
			return &limitedConn{gatedConn: gatedConn{Conn: c, g: l.gate}, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

// Close closes the listener and waits for the refusals and the reclaim
// under way; a reclaim still due is called off.
func (l *ConnLimiter) Close() error {
	err := l.Listener.Close()
	l.reclaimMu.Lock()
	l.closed = true
	if l.reclaimDue != nil && l.reclaimDue.Stop() {
		l.reclaimDue = nil
		l.wg.Done()
	}
	l.reclaimMu.Unlock()
	l.wg.Wait()
	return err
}

func (l *ConnLimiter) refuse(c net.Conn) {
	l.metrics.refused.Inc()
	if l.onShed != nil {
		l.onShed()
	}
	select {
	case l.refusers <- struct{}{}:
	default:
		c.Close() // too many refusals at once: no answer
		return
	}
	l.wg.Add(1)
	go func() {
		defer func() { <-l.refusers; l.wg.Done() }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseTimeout))
		// Reading the request first lets the client read the answer: a
		// socket closed with unread data is reset, and the answer lost.
		if req, err := http.ReadRequest(bufio.NewReaderSize(c, 4096)); err == nil {
			req.Body.Close()
		}
		_, _ = c.Write(refusal())
	}()
}

// refusals are the answers to a refused connection, one per Retry-After
// (retryAfter), made once.
var refusals = func() (out [len(retryAfters)][]byte) {
	body := fmt.Sprintf(`{"type":%q,"title":"Service Unavailable","status":503,"detail":"too many open connections: retry later","code":%q}`,
		ProblemType(errcode.Overloaded), errcode.Overloaded.String())
	for i, after := range retryAfters {
		out[i] = fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"+
			"Retry-After: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", after, len(body), body)
	}
	return out
}()

// refusal is the answer to a refused connection, its Retry-After drawn.
func refusal() []byte { return refusals[rand.IntN(len(refusals))] }

// limitedConn gives its place back when closed.
type limitedConn struct {
	gatedConn
	l    *ConnLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.gatedConn.Close()
	c.once.Do(func() {
		n := c.l.open.Add(-1)
		c.l.metrics.open.Dec()
		c.l.maybeReclaim(n)
	})
	return err
}

// maybeReclaim gives memory back to the system once a burst of
// connections is over (see reclaimPeak).
func (l *ConnLimiter) maybeReclaim(open int64) {
	peak := l.peak.Load()
	if peak < reclaimPeak || open > peak/4 {
		return
	}
	l.reclaimMu.Lock()
	defer l.reclaimMu.Unlock()
	if l.closed || l.reclaimDue != nil {
		return // one is under way or due: it will do
	}
	l.peak.Store(open)
	l.wg.Add(1)
	l.reclaimDue = time.AfterFunc(time.Until(l.lastReclaim.Add(l.reclaimEvery)), func() {
		defer l.wg.Done()
		l.reclaimMu.Lock()
		l.lastReclaim, l.reclaimDue = time.Now(), nil
		l.reclaimMu.Unlock()
		l.reclaim()
	})
}

type connMetrics struct {
	open    prometheus.Gauge
	refused prometheus.Counter
}

func newConnMetrics(reg prometheus.Registerer) *connMetrics {
	return &connMetrics{
		open: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bsc_http_connections_open",
			Help: "HTTP connections open (at most --max-connections).",
		})),
		refused: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bsc_http_connections_refused_total",
			Help: "Connections refused past --max-connections, answered 503 overloaded.",
		})),
	}
}
