package sup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an ordered log of what test processes did, with a way to wait
// for a condition on it without sleeping.
type recorder struct {
	mu      sync.Mutex
	events  []string
	changed chan struct{} // closed and replaced on every append
	crash   map[string]chan error
	panics  map[string]chan any
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), crash: map[string]chan error{}, panics: map[string]chan any{}}
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until cond holds on the log, failing the test after 5 s.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]string) bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(r.events), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; log: %v", what, r.snapshot())
		}
	}
}

// waitEvents waits until the log ends with want (after the first skip events).
func (r *recorder) waitEvents(t *testing.T, skip int, want ...string) {
	t.Helper()
	r.waitFor(t, strings.Join(want, ","), func(ev []string) bool {
		return len(ev) >= skip+len(want) && slices.Equal(ev[skip:skip+len(want)], want)
	})
	if got := r.snapshot()[skip:]; len(got) != len(want) {
		t.Fatalf("log after %d: %v, want exactly %v", skip, got, want)
	}
}

// worker is a test process: it logs "start:name" and "stop:name", and ends
// when told to by crash (an error or nil) or by a panic value.
func (r *recorder) worker(name string) StartFunc {
	return Go(func(ctx context.Context, ready func()) error {
		crash, panics := make(chan error, 1), make(chan any, 1)
		r.mu.Lock()
		r.crash[name], r.panics[name] = crash, panics
		r.mu.Unlock()
		r.add("start:" + name)
		ready()
		select {
		case <-ctx.Done():
			r.add("stop:" + name)
			return nil
		case err := <-crash:
			r.add("exit:" + name)
			return err
		case v := <-panics:
			r.add("panic:" + name)
			panic(v)
		}
	})
}

// exitWith makes the current incarnation of name end with err.
func (r *recorder) exitWith(name string, err error) {
	r.mu.Lock()
	ch := r.crash[name]
	r.mu.Unlock()
	ch <- err
}

func (r *recorder) panicWith(name string, v any) {
	r.mu.Lock()
	ch := r.panics[name]
	r.mu.Unlock()
	ch <- v
}

// reports records a Reporter's calls.
type reports struct {
	nopReporter
	mu        sync.Mutex
	gaveUp    []error
	abandoned []string
	storms    []bool
	restarted []string
}

func (p *reports) GaveUp(_ string, err error) {
	p.mu.Lock()
	p.gaveUp = append(p.gaveUp, err)
	p.mu.Unlock()
}

func (p *reports) Abandoned(_, child string, n int, _ time.Duration) {
	p.mu.Lock()
	p.abandoned = append(p.abandoned, fmt.Sprintf("%s:%d", child, n))
	p.mu.Unlock()
}

func (p *reports) RestartStorm(_ string, active bool) {
	p.mu.Lock()
	p.storms = append(p.storms, active)
	p.mu.Unlock()
}

func (p *reports) ChildRestarted(_, child string, _, _ int) {
	p.mu.Lock()
	p.restarted = append(p.restarted, child)
	p.mu.Unlock()
}

var errBoom = errors.New("boom")

// exitCatcher is an ExitFunc that remembers the reason.
type exitCatcher struct {
	ch chan error
}

func newExitCatcher() *exitCatcher { return &exitCatcher{ch: make(chan error, 1)} }

func (e *exitCatcher) exit(reason error) { e.ch <- reason }

func (e *exitCatcher) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-e.ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("supervisor did not exit")
		return nil
	}
}
