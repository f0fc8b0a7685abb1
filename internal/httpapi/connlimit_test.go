package httpapi

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// TestConnectionLimit: past the bound a connection's request is answered
// 503 overloaded with Retry-After, and the shed is reported; a connection
// closed gives its place back.
func TestConnectionLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var shed atomic.Int32
	ln := LimitConnections(inner, Limits{MaxConnections: 2}, func() { shed.Add(1) }, prometheus.NewRegistry())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	get := func(c net.Conn) *http.Response {
		t.Helper()
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := dial(), dial()
	for _, c := range []net.Conn{a, b} {
		if res := get(c); res.StatusCode != http.StatusOK {
			t.Fatalf("within the bound: %d", res.StatusCode)
		}
	}
	third := dial()
	if _, err := third.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatal(err)
	}
	var p Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || p.Code != "overloaded" || shed.Load() != 1 {
		t.Fatalf("past the bound: %d, Retry-After %q, code %q, %d shed", res.StatusCode, res.Header.Get("Retry-After"), p.Code, shed.Load())
	}
	a.Close()
	// The server notices a's close when it next reads it: until then a new
	// connection may still be refused.
	testutil.Eventually(t, 5*time.Second, "a place given back", func() bool { return get(dial()).StatusCode == http.StatusOK })
}

// TestReclaimAfterBursts: when the open connections fall to a quarter of
// a peak, the memory is given back; a second burst over within the
// interval has its memory given back once the interval is over, not never;
// a small peak, or connections still many, give back nothing.
func TestReclaimAfterBursts(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitConnections(inner, Limits{}, nil, prometheus.NewRegistry())
	defer l.Close()
	reclaimed := make(chan time.Time, 4)
	l.reclaim = func() { reclaimed <- time.Now() }
	l.reclaimEvery = 200 * time.Millisecond
	burst := func(peak, open int64) {
		l.peak.Store(peak)
		l.maybeReclaim(open)
	}
	none := func(what string) {
		t.Helper()
		select {
		case <-reclaimed:
			t.Fatalf("%s: memory given back", what)
		default:
		}
	}

	burst(reclaimPeak-1, 0)
	burst(1000, 251)
	none("a small peak, or a quarter still open")

	next := func() time.Time {
		t.Helper()
		select {
		case at := <-reclaimed:
			return at
		case <-time.After(10 * time.Second):
			t.Fatal("memory not given back")
			return time.Time{}
		}
	}
	burst(1000, 250)
	first := next()
	burst(1000, 10) // the second burst, well within the interval
	second := next()
	if gap := second.Sub(first); gap < l.reclaimEvery {
		t.Fatalf("given back again %v after the first time; want at least %v", gap, l.reclaimEvery)
	}
	if l.peak.Load() != 10 {
		t.Fatalf("peak after a reclaim = %d, want the connections then open (10)", l.peak.Load())
	}
}

// TestCloseCallsOffAReclaimDue: Close does not wait out a reclaim due
// later, and it never runs.
func TestCloseCallsOffAReclaimDue(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitConnections(inner, Limits{}, nil, prometheus.NewRegistry())
	var n atomic.Int32
	l.reclaim = func() { n.Add(1) }
	l.reclaimEvery = time.Hour
	l.lastReclaim = time.Now()
	l.peak.Store(1000)
	l.maybeReclaim(0)
	l.Close() // would wait an hour for the reclaim
	if n.Load() != 0 {
		t.Fatal("a reclaim ran after Close")
	}
}
