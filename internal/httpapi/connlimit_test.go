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
