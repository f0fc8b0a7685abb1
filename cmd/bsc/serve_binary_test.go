package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/testutil"
)

// The real binary, as an operator runs it: exit codes, signals, and the
// supervision tree giving up.

// binaryWait bounds starting, restarting and stopping the binary: generous
// for a loaded machine, well under what a hung process would take.
const binaryWait = 15 * time.Second

// built is the binary the tests run, built once for all of them.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBSC builds the binary once and returns its path.
func buildBSC(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "bsc-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "bsc")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestServeBinary(t *testing.T) {
	bin := buildBSC(t)
	t.Run("gives up on the third restart", func(t *testing.T) { testGiveUp(t, bin) })
	t.Run("SIGTERM stops cleanly", func(t *testing.T) { testSIGTERM(t, bin) })
	t.Run("bad flags", func(t *testing.T) { testBadFlags(t, bin) })
	t.Run("an open listen without a token warns", func(t *testing.T) {
		p := startBSC(t, bin, "--listen", "0.0.0.0:0")
		if log := p.stderr.String(); !strings.Contains(log, `"level":"warn"`) || !strings.Contains(log, "reachable from other hosts") {
			t.Errorf("no warning in the start log:\n%s", log)
		}
	})
	t.Run("subscribers and call records survive kill -9", func(t *testing.T) { testSurvivesKill(t, bin) })
	t.Run("readiness 503 while a stop drains", func(t *testing.T) { testDrainReadiness(t, bin) })
	t.Run("a database it cannot write is refused", func(t *testing.T) { testRefusesUnwritable(t, bin) })
}

// bscProcess is a running `bsc serve`.
type bscProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr lockedBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's, valid once done is closed
	token  string        // the --api-token it runs with, sent by do and send
}

// authorize adds the process's API token to req, if it has one.
func (p *bscProcess) authorize(req *http.Request) {
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
}

// lockedBuffer is a buffer written by the log reader and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBSC runs `bsc serve` on a free loopback port with a database of its
// own, and returns once it serves. The process is killed when the test
// ends, if it is still running.
func startBSC(t *testing.T, bin string, args ...string) *bscProcess {
	t.Helper()
	return startBSCUnder(t, nil, bin, args...)
}

// startBSCUnder is startBSC with the binary run by the command wrap (such
// as ip netns exec NS), which must exec it in its place.
func startBSCUnder(t *testing.T, wrap []string, bin string, args ...string) *bscProcess {
	t.Helper()
	args = append([]string{bin, "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "bsc.db")}, args...)
	args = append(slices.Clone(wrap), args...)
	p := &bscProcess{cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	listen := make(chan string, 1)
	go func() {
		// The port is learnt from the "serving" log line: with port 0, the
		// kernel picks a free one and nothing can take it in between.
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadBytes('\n')
			p.stderr.Write(line)
			var rec struct{ Message, Listen string }
			if json.Unmarshal(line, &rec) == nil && rec.Message == "serving" {
				listen <- rec.Listen
			}
			if err != nil {
				break
			}
		}
		p.err = p.cmd.Wait() // only once stderr is read to its end
		close(p.done)
	}()
	select {
	case addr := <-listen:
		p.url = "http://" + addr
	case <-p.done:
		t.Fatalf("bsc exited before serving: %v\n%s", p.err, p.stderr.String())
	case <-time.After(binaryWait):
		t.Fatalf("bsc not serving after %v\n%s", binaryWait, p.stderr.String())
	}
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *bscProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(binaryWait):
		t.Fatalf("bsc still running after %v\n%s", binaryWait, p.stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

var client = &http.Client{Timeout: 5 * time.Second}

// do sends a request without a body and decodes a JSON answer into out
// (nil: not read); it returns the status, 0 when the request failed.
func (p *bscProcess) do(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.authorize(req)
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// restarted tells whether the tree is ready and running with bsc having
// restarted n times.
func (p *bscProcess) restarted(t *testing.T, n int) bool {
	var tree struct {
		Restarts int
		Children []struct{ State string }
	}
	if p.do(t, http.MethodGet, "/readyz", nil) != http.StatusOK ||
		p.do(t, http.MethodGet, "/api/v1/supervision", &tree) != http.StatusOK || tree.Restarts != n {
		return false
	}
	for _, c := range tree.Children {
		if c.State != "running" {
			return false
		}
	}
	return len(tree.Children) > 0
}

// testGiveUp: bsc allows 2 restarts an hour; the third crash of overload
// makes it give up, and the service exits non-zero saying why.
func testGiveUp(t *testing.T, bin string) {
	p := startBSC(t, bin, "--fault-injection")
	for n := 1; n <= 2; n++ {
		if status := p.do(t, http.MethodPost, "/api/v1/processes/overload:crash", nil); status != http.StatusAccepted {
			t.Fatalf("crash %d: status %d", n, status)
		}
		testutil.Eventually(t, binaryWait, "the tree to be back after a crash", func() bool { return p.restarted(t, n) })
	}
	if status := p.do(t, http.MethodPost, "/api/v1/processes/overload:crash", nil); status != http.StatusAccepted {
		t.Fatalf("crash 3: status %d", status)
	}
	if code := p.wait(t); code == 0 {
		t.Fatalf("exit code 0 after the tree gave up\n%s", p.stderr.String())
	}
	if log := p.stderr.String(); !strings.Contains(log, "gave up") || !strings.Contains(log, "restart intensity") {
		t.Errorf("the log does not say the tree gave up on its restart intensity:\n%s", log)
	}
}

// testSIGTERM: a graceful stop ends with exit 0, within the stop bound.
func testSIGTERM(t *testing.T, bin string) {
	p := startBSC(t, bin)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, p.stderr.String())
	}
	if log := p.stderr.String(); !strings.Contains(log, `"stopped"`) {
		t.Errorf("no \"stopped\" log line:\n%s", log)
	}
}

// testBadFlags: a bad command line exits non-zero with a one-line reason.
func testBadFlags(t *testing.T, bin string) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--no-such-flag"}, "bsc serve: unknown flag: --no-such-flag"},
		{[]string{"serve", "--frequencies", "0"}, `invalid argument "0" for "--frequencies" flag`},
	} {
		// In a directory of its own, in case it did start serving.
		ctx, cancel := context.WithTimeout(context.Background(), binaryWait)
		cmd := exec.CommandContext(ctx, bin, tt.args...)
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%q: %v, want a non-zero exit", tt.args, err)
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%q: stderr %q, want one line with %q", tt.args, stderr.String(), tt.want)
		}
	}
}
