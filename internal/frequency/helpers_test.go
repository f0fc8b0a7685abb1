package frequency

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/overload"
)

var book = []int{10, 11, 12, 13, 14, 15}

// recorder is a Notifier that keeps every event, checks that each alarm's
// set and clear alternate, and wakes waiters.
type recorder struct {
	mu         sync.Mutex
	events     []overload.Event
	active     map[string]bool
	violations []string
	wake       chan struct{}
}

func newRecorder() *recorder {
	return &recorder{active: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (r *recorder) Notify(e overload.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	if e.Source != source {
		r.violations = append(r.violations, fmt.Sprintf("%s from source %q", e.Key(), e.Source))
	}
	switch e.Kind {
	case overload.SetAlarm, overload.ClearAlarm:
		set := e.Kind == overload.SetAlarm
		if r.active[e.ID] == set {
			r.violations = append(r.violations, fmt.Sprintf("%s while active=%v", e.Key(), r.active[e.ID]))
		}
		r.active[e.ID] = set
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Key() == key {
			n++
		}
	}
	return n
}

func (r *recorder) isActive(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[id]
}

func (r *recorder) check(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) > 0 {
		t.Fatalf("alarm protocol violated: %v", r.violations)
	}
}

// waitFor waits until cond holds, re-checking at every event.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// exits counts the calls of an ExitFunc and keeps the last reason.
type exits struct {
	n      atomic.Int32
	mu     sync.Mutex
	reason error
}

func (e *exits) exit(reason error) {
	e.mu.Lock()
	e.reason = reason
	e.mu.Unlock()
	e.n.Add(1)
}

func (e *exits) last() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reason
}

// clock is a settable Now for tests that need exact times.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// start runs an allocator over pool for the test and stops it afterwards.
func start(t testing.TB, pool []int, cfg Config) (*Allocator, *recorder, *exits) {
	t.Helper()
	rec := newRecorder()
	cfg.Pool, cfg.Notifier = pool, rec
	a := New(cfg)
	ex := &exits{}
	if _, err := a.Start(t.Context(), ex.exit); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(a.Stop)
	return a, rec, ex
}

func mustAllocate(t testing.TB, a *Allocator, owner string) int {
	t.Helper()
	al, err := a.Allocate(owner, 0)
	if err != nil {
		t.Fatalf("allocate for %s: %v", owner, err)
	}
	return al.Frequency
}

func wantCode(t testing.TB, err error, sentinel *errcode.Error) {
	t.Helper()
	if !errors.Is(err, sentinel) || errcode.Of(err) != sentinel.Code {
		t.Fatalf("err = %v (code %q), want code %q", err, errcode.Of(err), sentinel.Code)
	}
}
