package coffee

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/sup"
)

const waitLimit = 5 * time.Second

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// started is a machine run outside a supervisor, with its exit reason.
type started struct {
	m    *Machine
	stub *hw.CoffeeStub
	exit chan error
	// opsAtExit is the hardware log when exit was called, to prove what
	// happened before the exit was reported.
	opsAtExit chan []string
}

func startMachine(t *testing.T, opts Options) *started {
	t.Helper()
	s := &started{stub: hw.NewCoffeeStub(), exit: make(chan error, 1), opsAtExit: make(chan []string, 1)}
	m, err := Start(t.Context(), "m1", s.stub, opts, func(reason error) {
		s.opsAtExit <- ops(s.stub)
		s.exit <- reason
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	s.m = m
	t.Cleanup(func() {
		m.Stop()
		select {
		case <-m.mb.Done():
		case <-time.After(waitLimit):
			t.Error("machine did not stop")
		}
	})
	return s
}

// waitExit returns the machine's exit reason.
func (s *started) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.exit:
		return err
	case <-time.After(waitLimit):
		t.Fatal("machine did not exit")
		return nil
	}
}

// ops renders a stub's hardware log as "op arg" lines.
func ops(stub *hw.CoffeeStub) []string { return render(stub.Ops()) }

func render(log []hw.HWOp) []string {
	var out []string
	for _, op := range log {
		out = append(out, strings.TrimSpace(op.Op+" "+op.Arg))
	}
	return out
}

func send(t *testing.T, m *Machine, ev Event) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	st, err := m.Send(ctx, ev)
	if err != nil {
		t.Fatalf("Send(%+v): %v", ev, err)
	}
	return st
}

func wantOps(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("hardware log:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errcode.Of(err).String(); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

// fakeClock is a NewTimerFunc whose time moves only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
	fired  int
}

type fakeTimer struct {
	clock   *fakeClock
	at      time.Duration
	c       chan time.Time
	stopped bool
	fired   bool
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now + d, c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time on by d, firing the live timers that fall due, and
// returns how many fired.
func (c *fakeClock) Advance(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += d
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired && t.at <= c.now {
			t.fired = true
			t.c <- time.Time{}
			n++
		}
	}
	c.fired += n
	return n
}

func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	live := !t.stopped && !t.fired
	t.stopped = true
	return live
}

// startSup starts a "coffee" simple_one_for_one supervisor of transient
// machines, as the service does.
func startSup(t *testing.T) *sup.Supervisor {
	t.Helper()
	s, err := sup.Start(t.Context(), sup.Spec{
		Name: "coffee", Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 60,
		Template: sup.ChildSpec{Name: "coffee_machine", Restart: sup.Transient, Kind: sup.Worker},
	}, nil)
	if err != nil {
		t.Fatalf("sup.Start: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		select {
		case <-s.Done():
		case <-time.After(waitLimit):
			t.Error("supervisor did not stop")
		}
	})
	return s
}
