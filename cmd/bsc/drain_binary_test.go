package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// testDrainReadiness: after SIGTERM the listener stays open while the
// service drains: /readyz answers 503, a new mutating request 503 with
// Retry-After, while the request in flight is still served; then it stops
// cleanly and what it answered 2xx is there after a restart.
func testDrainReadiness(t *testing.T, bin string) {
	db := filepath.Join(t.TempDir(), "bsc.db")
	p := startBSC(t, bin, "--db", db)
	// A request in flight: its headers and half its body are sent, the rest
	// waits until the drain is observed.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"msisdn": "777"}`
	fmt.Fprintf(conn, "POST /api/v1/subscribers HTTP/1.1\r\nHost: bsc\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:5])
	testutil.Eventually(t, binaryWait, "the request in flight", func() bool { return p.metric(t, "bsc_http_requests_in_flight") == 1 })

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, binaryWait, "readiness 503 while draining", func() bool {
		return p.do(t, http.MethodGet, "/readyz", nil) == http.StatusServiceUnavailable
	})
	res, err := client.Post(p.url+"/api/v1/subscribers", "application/json", strings.NewReader(`{"msisdn": "778"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("new work while draining: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if p.do(t, http.MethodGet, "/healthz", nil) != http.StatusOK {
		t.Fatal("/healthz not 200 while draining")
	}

	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatal(err)
	}
	answer, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	answer.Body.Close()
	if answer.StatusCode != http.StatusCreated {
		t.Fatalf("the request in flight: %d, want 201", answer.StatusCode)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.stderr.String())
	}
	p = startBSC(t, bin, "--db", db)
	if status := p.do(t, http.MethodGet, "/api/v1/subscribers/777", nil); status != http.StatusOK {
		t.Fatalf("the subscriber created while draining: %d", status)
	}
}

// metric reads one series from /metrics, by its name and labels as
// exposed (-1: absent).
func (p *bscProcess) metric(t *testing.T, name string) float64 {
	t.Helper()
	res, err := client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var v float64
		if _, err := fmt.Sscanf(sc.Text(), name+" %g", &v); err == nil {
			return v
		}
	}
	return -1
}

// cellsExported are the cells, in order, of the series of family name
// that p's /metrics exposes with the label pair also (such as
// state="free").
func (p *bscProcess) cellsExported(t *testing.T, name, also string) []int {
	t.Helper()
	res, err := client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cells []int
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var cell int
		labels, ok := strings.CutPrefix(sc.Text(), name+"{")
		if ok && strings.Contains(labels, also) {
			if _, err := fmt.Sscanf(labels, `cell="%d"`, &cell); err == nil {
				cells = append(cells, cell)
			}
		}
	}
	slices.Sort(cells)
	return cells
}

// testRefusesUnwritable: a database file the process cannot write, or a
// directory it cannot create files in, stops the start with a message that
// says so and a non-zero exit.
func testRefusesUnwritable(t *testing.T, bin string) {
	file := filepath.Join(t.TempDir(), "bsc.db")
	p := startBSC(t, bin, "--db", file)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	testutil.Immutable(t, file)
	dir := testutil.Tmpfs(t, 1<<20)
	testutil.MakeReadOnly(t, dir)
	for _, tc := range []struct{ db, want string }{
		{file, "cannot be written"},
		{filepath.Join(dir, "bsc.db"), "is not writable"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), binaryWait)
		cmd := exec.CommandContext(ctx, bin, "serve", "--listen", "127.0.0.1:0", "--db", tc.db)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("--db %s: %v, want a non-zero exit", tc.db, err)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("--db %s: stderr %q, want it to say %q", tc.db, stderr.String(), tc.want)
		}
	}
}
